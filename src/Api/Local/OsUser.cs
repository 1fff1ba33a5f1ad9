using System.Diagnostics;

namespace PgPoolConsole.Api.Local;

/// <summary>
/// PostgreSQL refuses to run as root. When this process is root, every server-side command
/// (initdb, pg_ctl, postgres, the archive directories it writes) runs as, and belongs to, the
/// <c>postgres</c> OS user; otherwise everything runs as the current user.
/// </summary>
public static class OsUser
{
    /// <summary>The OS account that owns server files when this process runs as root.</summary>
    public const string PostgresUserName = "postgres";

    private const string RunUser = "/usr/sbin/runuser";

    /// <summary>True when this process runs with effective uid 0.</summary>
    public static bool IsRoot { get; } = Environment.IsPrivilegedProcess;

    /// <summary>
    /// A start info for <paramref name="fileName"/> <paramref name="arguments"/> that runs as the
    /// postgres OS user when we are root (<c>runuser -u postgres -- …</c>) and directly otherwise.
    /// The working directory is <c>/</c> so the postgres user can always enter it.
    /// </summary>
    public static ProcessStartInfo RunAsPostgres(string fileName, IEnumerable<string> arguments)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        ArgumentNullException.ThrowIfNull(arguments);

        var startInfo = new ProcessStartInfo { WorkingDirectory = "/" };
        if (IsRoot)
        {
            startInfo.FileName = RunUser;
            startInfo.ArgumentList.Add("-u");
            startInfo.ArgumentList.Add(PostgresUserName);
            startInfo.ArgumentList.Add("--");
            startInfo.ArgumentList.Add(fileName);
        }
        else
        {
            startInfo.FileName = fileName;
        }

        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        return startInfo;
    }

    /// <summary>Runs a command as the postgres user (see <see cref="RunAsPostgres"/>).</summary>
    public static Task<ProcessResult> RunAsPostgresAsync(
        string fileName,
        IEnumerable<string> arguments,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default,
        IReadOnlyDictionary<string, string?>? environment = null)
    {
        var startInfo = RunAsPostgres(fileName, arguments);
        ProcessRunner.ApplyEnvironment(startInfo, environment);
        return ProcessRunner.RunAsync(startInfo, standardInput: null, timeout, cancellationToken);
    }

    /// <summary>
    /// Gives <paramref name="path"/> (recursively when asked) to the postgres user when we are root;
    /// does nothing otherwise (the files are already ours).
    /// </summary>
    public static async Task ChownToPostgresAsync(string path, bool recursive, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!IsRoot)
        {
            return;
        }

        var arguments = new List<string>();
        if (recursive)
        {
            arguments.Add("-R");
        }

        arguments.Add($"{PostgresUserName}:");
        arguments.Add("--");
        arguments.Add(path);
        var result = await ProcessRunner.RunAsync("chown", arguments, timeout: TimeSpan.FromSeconds(60), cancellationToken: cancellationToken);
        result.EnsureSuccess();
    }

    /// <summary>
    /// Creates <paramref name="path"/> and any missing parents. The directories created here get
    /// mode <paramref name="mode"/> and, when we are root, belong to the postgres user; existing
    /// ones are left alone, so a parent such as /tmp is never changed.
    /// </summary>
    public static async Task CreateDirectoryForPostgresAsync(
        string path,
        UnixFileMode mode = DefaultDirectoryMode,
        CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("Local PostgreSQL servers are supported on Linux only.");
        }

        var full = Path.GetFullPath(path);
        var missing = new Stack<string>();
        for (var current = full; !string.IsNullOrEmpty(current) && !Directory.Exists(current); current = Path.GetDirectoryName(current))
        {
            missing.Push(current);
        }

        while (missing.TryPop(out var directory))
        {
            Directory.CreateDirectory(directory, mode);
            // The umask may have removed bits; set them as asked.
            File.SetUnixFileMode(directory, mode);
            await ChownToPostgresAsync(directory, recursive: false, cancellationToken);
        }
    }

    /// <summary>rwxr-xr-x: the postgres user may enter, and so may everybody else (tests read logs).</summary>
    public const UnixFileMode DefaultDirectoryMode =
        UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute |
        UnixFileMode.GroupRead | UnixFileMode.GroupExecute |
        UnixFileMode.OtherRead | UnixFileMode.OtherExecute;

    /// <summary>
    /// Throws a clear error when the postgres user cannot enter <paramref name="directory"/> (for
    /// example a folder under /root), instead of letting initdb fail with a puzzling message later.
    /// </summary>
    public static async Task EnsurePostgresCanEnterAsync(string directory, CancellationToken cancellationToken = default)
    {
        if (!IsRoot)
        {
            return;
        }

        var result = await RunAsPostgresAsync("/usr/bin/test", ["-x", directory], TimeSpan.FromSeconds(30), cancellationToken);
        if (!result.Succeeded)
        {
            throw new UnauthorizedAccessException(
                $"The '{PostgresUserName}' OS user cannot enter '{directory}'. PostgreSQL refuses to run as root, so its files must live " +
                "where that user can reach them: choose a folder whose parents are world-searchable (chmod o+x), for example under /tmp.");
        }
    }
}
