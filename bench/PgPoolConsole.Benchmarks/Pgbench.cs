using System.Globalization;
using System.Text.RegularExpressions;
using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Benchmarks;

/// <summary>One pgbench run's numbers: tps from pgbench, latency average and p99 from its per-transaction log.</summary>
public sealed record PgbenchResult(
    double Tps,
    double LatencyAverageMs,
    double LatencyP99Ms,
    long Transactions,
    long Failed,
    bool Succeeded,
    string CommandLine,
    string Output)
{
    public static PgbenchResult Failure(string commandLine, string output) => new(0, double.NaN, double.NaN, 0, 0, false, commandLine, output);
}

/// <summary>Runs /usr/bin/pgbench and reads its output and its -l transaction logs.</summary>
public static partial class Pgbench
{
    public const string Path = "/usr/bin/pgbench";

    /// <summary>pgbench -i -s <paramref name="scale"/> directly on one node.</summary>
    public static async Task InitializeAsync(int port, int scale, CancellationToken cancellationToken)
    {
        var result = await ProcessRunner.RunAsync(
            Path,
            ["-h", "127.0.0.1", "-p", Text(port), "-U", "postgres", "-i", "-q", "-s", Text(scale), "postgres"],
            timeout: TimeSpan.FromMinutes(10),
            cancellationToken: cancellationToken);
        result.EnsureSuccess();
    }

    /// <summary>
    /// The arguments of a measured run: <c>pgbench -h 127.0.0.1 -p PORT -U postgres -c C -j J -T D -M MODE [-S] [-C]
    /// -l --log-prefix=PREFIX postgres</c>.
    /// </summary>
    public static List<string> Arguments(int port, Workload workload, int clients, int threads, int duration, string? logPrefix)
    {
        var arguments = new List<string>
        {
            "-h", "127.0.0.1", "-p", Text(port), "-U", "postgres",
            "-c", Text(clients), "-j", Text(threads), "-T", Text(duration), "-M", workload.Protocol,
        };
        if (workload.SelectOnly)
        {
            arguments.Add("-S");
        }

        if (workload == Workload.Connect)
        {
            arguments.Add("-C");
        }

        if (logPrefix is not null)
        {
            arguments.Add("-l");
            arguments.Add("--log-prefix=" + logPrefix);
        }

        arguments.Add("postgres");
        return arguments;
    }

    /// <summary>Runs pgbench with <paramref name="arguments"/>; when they contain -l, reads the transaction logs for the latencies.</summary>
    public static async Task<PgbenchResult> RunAsync(List<string> arguments, int duration, CancellationToken cancellationToken)
    {
        var logPrefix = arguments.FirstOrDefault(a => a.StartsWith("--log-prefix=", StringComparison.Ordinal))?["--log-prefix=".Length..];
        var result = await ProcessRunner.RunAsync(Path, arguments, timeout: TimeSpan.FromSeconds(duration + 120), cancellationToken: cancellationToken);
        var output = result.StandardOutput + result.StandardError;
        var tps = Match(TpsPattern(), output);
        if (tps is null)
        {
            return PgbenchResult.Failure(result.CommandLine, output);
        }

        var transactions = (long)(Match(ProcessedPattern(), output) ?? 0);
        var failed = (long)(Match(FailedPattern(), output) ?? 0);
        var average = Match(LatencyPattern(), output) ?? double.NaN;
        var p99 = double.NaN;
        if (logPrefix is not null)
        {
            (average, p99) = ReadLatencies(logPrefix, average);
        }

        return new PgbenchResult(tps.Value, average, p99, transactions, failed, result.Succeeded, result.CommandLine, output);
    }

    /// <summary>Average and 99th percentile (ms) over every transaction in the -l logs (prefix.PID and prefix.PID.THREAD).</summary>
    private static (double Average, double P99) ReadLatencies(string logPrefix, double fallbackAverage)
    {
        var directory = System.IO.Path.GetDirectoryName(logPrefix)!;
        var name = System.IO.Path.GetFileName(logPrefix) + ".";
        var latencies = new List<long>();
        foreach (var file in Directory.EnumerateFiles(directory, name + "*"))
        {
            // client_id transaction_no time script_no time_epoch time_us [...]: time is the latency in µs.
            foreach (var line in File.ReadLines(file))
            {
                var span = line.AsSpan();
                var first = span.IndexOf(' ');
                if (first < 0)
                {
                    continue;
                }

                var rest = span[(first + 1)..];
                var second = rest.IndexOf(' ');
                if (second < 0)
                {
                    continue;
                }

                rest = rest[(second + 1)..];
                var third = rest.IndexOf(' ');
                if (long.TryParse(third < 0 ? rest : rest[..third], NumberStyles.None, CultureInfo.InvariantCulture, out var micros))
                {
                    latencies.Add(micros);
                }
            }

            File.Delete(file); // large, and everything needed is summarised here
        }

        if (latencies.Count == 0)
        {
            return (fallbackAverage, double.NaN);
        }

        latencies.Sort();
        var p99 = latencies[Math.Min(latencies.Count - 1, (int)Math.Ceiling(latencies.Count * 0.99) - 1)];
        return (latencies.Average() / 1000.0, p99 / 1000.0);
    }

    private static double? Match(Regex pattern, string text)
    {
        var match = pattern.Match(text);
        return match.Success ? double.Parse(match.Groups[1].ValueSpan, CultureInfo.InvariantCulture) : null;
    }

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    [GeneratedRegex(@"^tps = ([0-9.]+)", RegexOptions.Multiline)]
    private static partial Regex TpsPattern();

    [GeneratedRegex(@"^number of transactions actually processed: ([0-9]+)", RegexOptions.Multiline)]
    private static partial Regex ProcessedPattern();

    [GeneratedRegex(@"^number of failed transactions: ([0-9]+)", RegexOptions.Multiline)]
    private static partial Regex FailedPattern();

    [GeneratedRegex(@"^latency average = ([0-9.]+) ms", RegexOptions.Multiline)]
    private static partial Regex LatencyPattern();
}
