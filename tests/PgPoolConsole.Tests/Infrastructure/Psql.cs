using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Tests.Infrastructure;

/// <summary>
/// Runs the real psql client (PostgreSQL 15's) through <see cref="ProcessRunner"/>: no psqlrc,
/// unaligned tuples-only output (<c>-X -A -t</c>), stop at the first error (ON_ERROR_STOP: exit code
/// 1 for a failing -c command, 3 for a failing script).
/// </summary>
public static class Psql
{
    /// <summary>
    /// Runs psql against <paramref name="host"/>:<paramref name="port"/>. An item of
    /// <paramref name="sqlOrArgs"/> that starts with '-' is passed to psql as is (write options with
    /// their value in one item: "--file=x.sql", "--variable=n=1"); any other item is a command run
    /// with <c>-c</c>, in order.
    /// </summary>
    public static Task<ProcessResult> RunAsync(string host, int port, string user, string database, params string[] sqlOrArgs) =>
        RunAsync(new PsqlOptions(host, port, user, database), sqlOrArgs);

    /// <summary>Runs psql with the connection and process settings in <paramref name="options"/>.</summary>
    public static Task<ProcessResult> RunAsync(PsqlOptions options, IEnumerable<string> sqlOrArgs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(sqlOrArgs);
        var arguments = new List<string>
        {
            "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1",
            "-h", options.Host,
            "-p", options.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-U", options.User,
            "-d", options.Database,
        };
        if (options.Password is null)
        {
            arguments.Add("-w"); // never prompt: fail instead
        }

        foreach (var item in sqlOrArgs)
        {
            if (item.StartsWith('-'))
            {
                arguments.Add(item);
            }
            else
            {
                arguments.Add("-c");
                arguments.Add(item);
            }
        }

        return ProcessRunner.RunAsync(
            PostgresBinaries.Get("psql"),
            arguments,
            ClientEnvironment.For(options.Password, options.ConnectTimeoutSeconds),
            options.StandardInput,
            options.Timeout,
            cancellationToken);
    }
}

/// <summary>Connection and process settings for <see cref="Psql"/>.</summary>
public sealed record PsqlOptions(string Host, int Port, string User, string Database)
{
    /// <summary>Sent as PGPASSWORD; null makes psql fail rather than prompt when a password is asked.</summary>
    public string? Password { get; init; }

    /// <summary>Fed to psql's standard input (with "-f -" or no -c, psql runs it as a script).</summary>
    public string? StandardInput { get; init; }

    /// <summary>PGCONNECT_TIMEOUT.</summary>
    public int ConnectTimeoutSeconds { get; init; } = 10;

    /// <summary>After this the psql process is killed and the result says TimedOut.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>The environment PostgreSQL client programs get in tests.</summary>
internal static class ClientEnvironment
{
    public static IReadOnlyDictionary<string, string?> For(string? password, int connectTimeoutSeconds) => new Dictionary<string, string?>
    {
        ["PGPASSWORD"] = password,
        ["PGCONNECT_TIMEOUT"] = connectTimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
        // No surprises from the developer's own settings.
        ["PGSERVICE"] = null,
        ["PGPASSFILE"] = "/dev/null",
        ["PGOPTIONS"] = null,
        ["PGSSLMODE"] = "disable",
        ["LC_ALL"] = "C.UTF-8",
    };
}
