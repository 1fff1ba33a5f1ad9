using System.Globalization;
using System.Text.RegularExpressions;
using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Tests.Infrastructure;

/// <summary>Runs the real pgbench (PostgreSQL 15's) and parses its summary.</summary>
public static partial class Pgbench
{
    /// <summary>Runs <c>pgbench args…</c> (connection options included in the arguments), 5-minute limit.</summary>
    public static Task<PgbenchResult> RunAsync(params string[] args) => RunAsync(args, password: null, TimeSpan.FromMinutes(5));

    /// <summary>Runs pgbench with PGPASSWORD and a timeout after which its process tree is killed.</summary>
    public static async Task<PgbenchResult> RunAsync(IEnumerable<string> args, string? password, TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var result = await ProcessRunner.RunAsync(
            PostgresBinaries.Get("pgbench"),
            args,
            ClientEnvironment.For(password, connectTimeoutSeconds: 10),
            standardInput: null,
            timeout,
            cancellationToken);
        return Parse(result);
    }

    /// <summary>Reads the summary pgbench prints (absent values stay null, e.g. for <c>pgbench -i</c>).</summary>
    public static PgbenchResult Parse(ProcessResult process)
    {
        ArgumentNullException.ThrowIfNull(process);
        var output = process.StandardOutput;
        var errors = process.StandardError;
        var abortedClients = AbortedClientRegex().Matches(output + "\n" + errors)
            .Select(m => m.Groups[1].Value)
            .Distinct(StringComparer.Ordinal)
            .Count();
        return new PgbenchResult(
            process,
            Tps: Number(TpsRegex().Match(output)),
            TransactionsProcessed: Integer(ProcessedRegex().Match(output)),
            FailedTransactions: Integer(FailedRegex().Match(output)),
            AbortedClients: abortedClients,
            LatencyAverageMs: Number(LatencyRegex().Match(output)),
            RunAborted: errors.Contains("Run was aborted", StringComparison.Ordinal));
    }

    private static double? Number(Match match) =>
        match.Success ? double.Parse(match.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture) : null;

    private static long? Integer(Match match) =>
        match.Success ? long.Parse(match.Groups[1].Value, NumberStyles.None, CultureInfo.InvariantCulture) : null;

    // PostgreSQL 14+ prints one line "(without initial connection time)"; older ones printed two.
    [GeneratedRegex(@"^tps = ([0-9.]+) \(without initial connection time\)", RegexOptions.Multiline)]
    private static partial Regex TpsRegex();

    [GeneratedRegex(@"^number of transactions actually processed: (\d+)", RegexOptions.Multiline)]
    private static partial Regex ProcessedRegex();

    [GeneratedRegex(@"^number of failed transactions: (\d+)", RegexOptions.Multiline)]
    private static partial Regex FailedRegex();

    [GeneratedRegex(@"^latency average = ([0-9.]+) ms", RegexOptions.Multiline)]
    private static partial Regex LatencyRegex();

    // 15: "client 0 script 0 aborted in command 10 query 0: …"; before: "client 0 aborted in command …".
    [GeneratedRegex(@"client (\d+) (?:script \d+ )?aborted")]
    private static partial Regex AbortedClientRegex();
}

/// <summary>pgbench's summary.</summary>
/// <param name="Process">The raw run (exit code, output).</param>
/// <param name="Tps">Transactions per second without initial connection time.</param>
/// <param name="TransactionsProcessed">"number of transactions actually processed" (the first number of N/M).</param>
/// <param name="FailedTransactions">"number of failed transactions" (PostgreSQL 15+).</param>
/// <param name="AbortedClients">Distinct clients reported as aborted.</param>
/// <param name="LatencyAverageMs">"latency average" in milliseconds.</param>
/// <param name="RunAborted">pgbench said the results are incomplete.</param>
public sealed record PgbenchResult(
    ProcessResult Process,
    double? Tps,
    long? TransactionsProcessed,
    long? FailedTransactions,
    int AbortedClients,
    double? LatencyAverageMs,
    bool RunAborted);
