using System.Globalization;
using System.Text;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Proxy.Recovery;

/// <summary>What a recovery script printed and how it ended.</summary>
public sealed record ScriptResult(int ExitCode, string Output)
{
    public bool Succeeded => ExitCode == 0;
}

/// <summary>
/// Runs the recovery scripts with pgpool-II's contract: the script lives in the main node's data
/// directory and runs there as the PostgreSQL OS user on the main node's host, with pgpool's
/// arguments. Like pgpool's pgpool_recovery() function it goes through SQL on the main node
/// (COPY FROM PROGRAM, so no extension is needed; the recovery user must be a superuser), which
/// works whether the main node is local or remote; or, when recovery_remote_command is set,
/// through that command run locally (e.g. <c>ssh postgres@%h</c>).
/// </summary>
public static class StageScriptRunner
{
    private const string ExitMarker = "pgpoolconsole-exit-status: ";

    /// <summary>Runs <paramref name="script"/> with <paramref name="arguments"/> in <paramref name="dataDirectory"/>.</summary>
    public static async Task<ScriptResult> RunAsync(BackendConnection main, NodeState mainNode, string remoteCommand, string dataDirectory, string script, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var shell = new StringBuilder();
        shell.Append("cd ").Append(ShellCommand.Quote(dataDirectory)).Append(" && ");
        shell.Append(script.Contains('/', StringComparison.Ordinal) ? ShellCommand.Quote(script) : "./" + ShellCommand.Quote(script));
        foreach (var argument in arguments)
        {
            shell.Append(' ').Append(ShellCommand.Quote(argument));
        }

        return remoteCommand.Length > 0
            ? await RunThroughCommandAsync(remoteCommand, mainNode, shell.ToString(), cancellationToken)
            : await RunThroughSqlAsync(main, shell.ToString(), cancellationToken);
    }

    /// <summary>Shell text run on the main node's host through SQL; its output (stdout and stderr) comes back.</summary>
    public static async Task<ScriptResult> RunThroughSqlAsync(BackendConnection main, string shellText, CancellationToken cancellationToken)
    {
        // The exit status is printed rather than returned, so a failing script does not make COPY
        // fail and lose the output. stdin is /dev/null; descriptors stay the backend's, which is
        // why scripts that start a server must close them (see the default pgpool_remote_start).
        var program = $"( {shellText} ) </dev/null 2>&1; echo \"{ExitMarker}$?\"";
        var sql = $"""
            CREATE TEMP TABLE IF NOT EXISTS pgpoolconsole_script_output (n bigserial, line text);
            TRUNCATE pgpoolconsole_script_output;
            COPY pgpoolconsole_script_output (line) FROM PROGRAM {BackendQuery.Literal(program)} WITH (FORMAT csv, DELIMITER E'\x01', QUOTE E'\x02');
            SELECT coalesce(line, '') FROM pgpoolconsole_script_output ORDER BY n;
            """;
        var result = await BackendQuery.RunAsync(main, sql, cancellationToken);
        if (result.Error is { } error)
        {
            return new ScriptResult(-1, $"running the script through SQL on the main node failed: {error.Message}");
        }

        return Parse(result.Rows.Select(r => r[0] ?? ""));
    }

    private static async Task<ScriptResult> RunThroughCommandAsync(string remoteCommand, NodeState mainNode, string shellText, CancellationToken cancellationToken)
    {
        var prefix = remoteCommand.Replace("%h", mainNode.Host, StringComparison.Ordinal).Replace("%p", mainNode.Port.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal);
        var result = await ShellCommand.RunAsync($"{prefix} {ShellCommand.Quote($"( {shellText} ) </dev/null 2>&1; echo \"{ExitMarker}$?\"")}", Timeout.InfiniteTimeSpan, cancellationToken);
        return result.ExitCode != 0 && !result.Output.Contains(ExitMarker, StringComparison.Ordinal)
            ? new ScriptResult(result.ExitCode, $"recovery_remote_command failed (exit {result.ExitCode}): {result.Output}")
            : Parse(result.Output.Split('\n'));
    }

    private static ScriptResult Parse(IEnumerable<string> lines)
    {
        var output = new StringBuilder();
        var exitCode = -1;
        foreach (var line in lines)
        {
            if (line.StartsWith(ExitMarker, StringComparison.Ordinal) && int.TryParse(line.AsSpan(ExitMarker.Length).Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var code))
            {
                exitCode = code;
                continue;
            }

            output.Append(line.TrimEnd('\r')).Append('\n');
        }

        return new ScriptResult(exitCode, output.ToString().TrimEnd('\n'));
    }
}
