using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace PgPoolConsole.Api.Local;

/// <summary>
/// initdb takes about a second; copying its result takes a tenth of that. The cache keeps one
/// pristine initdb result per set of initdb options under <c>/tmp/pgpc-templates</c> (or
/// <c>PGPC_TEMPLATE_CACHE</c>). It is built once per machine: in a private staging folder, then
/// published with one atomic rename, so concurrent test processes never see half a template (the
/// loser of a race throws its copy away). Within a process, concurrent callers share one build.
/// </summary>
internal static class TemplateCache
{
    public const string CacheDirectoryVariable = "PGPC_TEMPLATE_CACHE";

    // Bump when the template's content changes meaning (other initdb arguments, post-processing).
    private const string LayoutVersion = "1";

    private static readonly ConcurrentDictionary<string, Lazy<Task<string>>> Builds = new(StringComparer.Ordinal);

    public static string CacheDirectory { get; } =
        Environment.GetEnvironmentVariable(CacheDirectoryVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : "/tmp/pgpc-templates";

    /// <summary>The initdb arguments every instance shares (the data directory is added per call).</summary>
    public static IReadOnlyList<string> InitdbArguments { get; } =
        ["-A", "trust", "-U", "postgres", "--encoding=UTF8", "--locale=C", "--no-instructions"];

    /// <summary>The template data directory for the current binaries and initdb arguments, built if needed.</summary>
    public static async Task<string> GetAsync(CancellationToken cancellationToken)
    {
        var key = Key();
        var build = Builds.GetOrAdd(key, k => new Lazy<Task<string>>(() => FindOrBuildAsync(CacheDirectory, k)));
        try
        {
            // The shared build ignores any one caller's cancellation; a caller only stops waiting.
            return await build.Value.WaitAsync(cancellationToken);
        }
        catch when (build.Value.IsFaulted)
        {
            Builds.TryRemove(new KeyValuePair<string, Lazy<Task<string>>>(key, build));
            throw;
        }
    }

    internal static string Key()
    {
        var material = string.Join('\n', [LayoutVersion, Path.GetFullPath(PostgresBinaries.Directory), .. InitdbArguments]);
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(material));
        return "pg-" + Convert.ToHexStringLower(hash.AsSpan(0, 8));
    }

    private static bool IsComplete(string dataDirectory) =>
        File.Exists(Path.Combine(dataDirectory, "PG_VERSION")) &&
        File.Exists(Path.Combine(dataDirectory, "global", "pg_control"));

    /// <summary>Finds the template <paramref name="key"/> in <paramref name="cacheDirectory"/> or builds it (no in-process sharing).</summary>
    internal static async Task<string> FindOrBuildAsync(string cacheDirectory, string key)
    {
        var final = Path.Combine(cacheDirectory, key);
        if (IsComplete(final))
        {
            return final;
        }

        await OsUser.CreateDirectoryForPostgresAsync(cacheDirectory);
        if (Directory.Exists(final))
        {
            // Not ours to have half-written (publishing is a rename), so something damaged it: set it aside.
            TryDelete(MoveAside(final));
        }

        RemoveStaleStaging(cacheDirectory, key);
        var staging = Path.Combine(cacheDirectory, $"{key}.staging-{Guid.NewGuid():N}");
        try
        {
            await OsUser.CreateDirectoryForPostgresAsync(staging);
            var data = Path.Combine(staging, "data");
            var initdb = await OsUser.RunAsPostgresAsync(
                PostgresBinaries.Get("initdb"),
                ["-D", data, "--no-sync", .. InitdbArguments],
                TimeSpan.FromMinutes(3));
            initdb.EnsureSuccess();

            try
            {
                Directory.Move(data, final);
            }
            catch (IOException) when (IsComplete(final))
            {
                // Another process published the same template first; use theirs.
            }

            return final;
        }
        finally
        {
            TryDelete(staging);
        }
    }

    private static string MoveAside(string directory)
    {
        var aside = $"{directory}.broken-{Guid.NewGuid():N}";
        try
        {
            Directory.Move(directory, aside);
            return aside;
        }
        catch (IOException)
        {
            return aside;
        }
    }

    private static void RemoveStaleStaging(string cacheDirectory, string key)
    {
        // A process killed mid-build leaves its staging folder; an hour is far longer than any initdb.
        foreach (var directory in Directory.EnumerateDirectories(cacheDirectory, key + ".*"))
        {
            if (Directory.GetLastWriteTimeUtc(directory) < DateTime.UtcNow.AddHours(-1))
            {
                TryDelete(directory);
            }
        }
    }

    private static void TryDelete(string directory)
    {
        try
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Best effort: a leftover staging folder only costs disk space.
        }
    }
}
