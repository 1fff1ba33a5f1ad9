using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Tests.Infrastructure;

/// <summary>
/// A fresh folder <c>/tmp/pgpc-&lt;random&gt;</c> that the postgres OS user may use, deleted on
/// dispose. Short on purpose (Unix socket paths), unique so parallel tests never share one.
/// </summary>
public sealed class TestDirectory : IAsyncDisposable
{
    private TestDirectory(string path) => Path = path;

    /// <summary>The full path.</summary>
    public string Path { get; }

    /// <summary>Creates the folder (mode 0755, owned by postgres when we are root).</summary>
    public static async Task<TestDirectory> CreateAsync(CancellationToken cancellationToken = default)
    {
        var path = "/tmp/pgpc-" + Guid.NewGuid().ToString("N")[..10];
        await OsUser.CreateDirectoryForPostgresAsync(path, cancellationToken: cancellationToken);
        return new TestDirectory(path);
    }

    /// <summary>A path inside the folder.</summary>
    public string Combine(params string[] parts) => System.IO.Path.Combine([Path, .. parts]);

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (Directory.Exists(Path))
                {
                    Directory.Delete(Path, recursive: true);
                }

                return ValueTask.CompletedTask;
            }
            catch (IOException) when (attempt < 5)
            {
                Thread.Sleep(100);
            }
        }
    }
}
