using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Api.Recovery;

/// <summary>The default online-recovery scripts for PostgreSQL 15 that ship with the product (scripts/recovery).</summary>
public static class RecoveryScripts
{
    public const string FirstStage = "recovery_1st_stage";

    public const string SecondStage = "recovery_2nd_stage";

    /// <summary>Where the scripts are next to the executable.</summary>
    public static string SourceDirectory => Path.Combine(AppContext.BaseDirectory, "recovery");

    /// <summary>
    /// Copies the scripts into a node's data directory (where pgpool-II's contract expects them),
    /// executable, and owned by the postgres OS user when we run as root (the server runs them as that user).
    /// </summary>
    public static async Task<IReadOnlyList<string>> InstallAsync(string dataDirectory, CancellationToken cancellationToken = default)
    {
        if (!Directory.Exists(SourceDirectory))
        {
            throw new DirectoryNotFoundException($"the recovery scripts are missing from {SourceDirectory}");
        }

        var installed = new List<string>();
        foreach (var source in Directory.GetFiles(SourceDirectory))
        {
            var target = Path.Combine(dataDirectory, Path.GetFileName(source));
            File.Copy(source, target, overwrite: true);
            if (OperatingSystem.IsWindows())
            {
                throw new PlatformNotSupportedException("the recovery scripts are for Unix hosts");
            }

            File.SetUnixFileMode(target, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute);
            await OsUser.ChownToPostgresAsync(target, recursive: false, cancellationToken);
            installed.Add(target);
        }

        return installed;
    }
}
