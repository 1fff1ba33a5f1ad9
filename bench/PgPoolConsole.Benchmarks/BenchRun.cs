using System.Diagnostics;
using System.Globalization;
using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Benchmarks;

/// <summary>Where a pgbench run goes.</summary>
public enum Target
{
    /// <summary>pgbench straight to node 0.</summary>
    Direct,

    /// <summary>Two pgbench at once, one straight to each node; the lower tps is the limit for replicated writes.</summary>
    Limit,

    /// <summary>Stock pgpool-II 4.3.5 in native replication mode.</summary>
    Pgpool,

    /// <summary>PgPoolConsole.</summary>
    Ours,
}

/// <summary>One measured run.</summary>
public sealed record RunRecord(
    Workload Workload,
    Target Target,
    int Repeat,
    PgbenchResult Result,
    double LoadBefore,
    double? ProxyCpuMsPerTransaction,
    double? NodeCpuMsPerTransaction,
    long? PeakRssKiB,
    double? OtherTps);

/// <summary>The `run` mode: everything of docs/benchmarks.md in one go.</summary>
public sealed class BenchRun(BenchOptions options, string proxyDll, TextWriter console)
{
    private readonly List<RunRecord> _records = [];
    private string _workDirectory = "";

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        _workDirectory = Path.GetFullPath(options.OutputDirectory ?? $"/tmp/pgpc-bench-{DateTime.Now:yyyyMMdd-HHmmss}");
        await OsUser.CreateDirectoryForPostgresAsync(_workDirectory, cancellationToken: cancellationToken);
        var started = Stopwatch.StartNew();
        var machine = await MachineInfo.CollectAsync(cancellationToken);
        Log($"work directory {_workDirectory}");
        Log(machine.Summary);
        Log($"{ProcStats.LoadText()} at start");

        var maxConnections = Math.Max(200, options.Hold + 200);
        Log($"creating two PostgreSQL 15 nodes (max_connections {maxConnections}) and pgbench -i -s {options.Scale} on each");
        await using var cluster = await BenchCluster.CreateAsync(Path.Combine(_workDirectory, "nodes"), maxConnections, options.Scale, options.Keep, cancellationToken);
        Log($"nodes on ports {cluster.Nodes[0].Port} and {cluster.Nodes[1].Port}");

        HoldResult? hold = null;
        var commands = new Dictionary<Target, string>();
        {
            await using var pgpool = options.NoPgpool ? null : new PgpoolServer(Path.Combine(_workDirectory, "pgpool"), cluster.Nodes, options.NumInitChildren, options.MaxPool) { BackendSockets = options.BackendSockets };
            await using var ours = new OursServer(Path.Combine(_workDirectory, "ours"), cluster.Nodes, options.NumInitChildren, options.MaxPool, proxyDll) { BackendSockets = options.BackendSockets };
            if (pgpool is not null)
            {
                await pgpool.StartAsync(cancellationToken);
                Log($"pgpool-II on port {pgpool.Port} (pid {pgpool.Pid}): {pgpool.CommandLine}");
                commands[Target.Pgpool] = pgpool.CommandLine;
            }

            await ours.StartAsync(cancellationToken);
            Log($"ours on port {ours.Port} (pid {ours.Pid}): {ours.CommandLine}");
            commands[Target.Ours] = ours.CommandLine;

            var targets = new List<Target> { Target.Direct, Target.Limit };
            if (pgpool is not null)
            {
                targets.Add(Target.Pgpool);
            }

            targets.Add(Target.Ours);
            var runner = new TargetRunner(options, cluster, pgpool, ours, _workDirectory);

            if (options.Warmup > 0)
            {
                Log($"warm-up: {options.Warmup} s of TPC-B simple through every target (not measured)");
                foreach (var target in targets.Where(t => t != Target.Limit))
                {
                    await runner.RunAsync(Workload.All[0], target, repeat: -1, options.Warmup, cancellationToken);
                }
            }

            var workloads = options.SelectedWorkloads.ToList();
            if (options.RunsConnect)
            {
                workloads.Add(Workload.Connect);
            }

            for (var repeat = 0; repeat < options.Repeats; repeat++)
            {
                for (var w = 0; w < workloads.Count; w++)
                {
                    var workload = workloads[w];
                    var these = targets.Where(t => t != Target.Limit || (workload != Workload.Connect && (!workload.SelectOnly || options.SelectLimit))).ToList();
                    // Interleave: every repeat and workload starts with a different target.
                    var shift = (repeat + w) % these.Count;
                    foreach (var target in these.Skip(shift).Concat(these.Take(shift)))
                    {
                        var duration = workload == Workload.Connect ? options.ConnectDuration : options.Duration;
                        var record = await runner.RunAsync(workload, target, repeat, duration, cancellationToken);
                        _records.Add(record);
                        Log(Describe(record));
                    }
                }
            }

            commands[Target.Direct] = runner.ExampleCommand(Target.Direct);
            commands[Target.Limit] = runner.ExampleCommand(Target.Limit);
            foreach (var target in commands.Keys.ToList())
            {
                commands[target] = Redact(commands[target], cluster);
            }
        }

        if (options.Hold > 0)
        {
            Log($"holding {options.Hold} idle connections through our proxy (num_init_children {options.Hold + 24})");
            await using var oursHold = new OursServer(Path.Combine(_workDirectory, "ours-hold"), cluster.Nodes, options.Hold + 24, options.MaxPool, proxyDll) { BackendSockets = options.BackendSockets };
            await oursHold.StartAsync(cancellationToken);
            hold = await ConnectionHolder.RunAsync(oursHold, options.Hold, options.Clients, options.Threads, console, cancellationToken);
        }

        var report = Report.Build(options, machine, _records, hold, commands, started.Elapsed, ProcStats.LoadText());
        await File.WriteAllTextAsync(Path.Combine(_workDirectory, "results.md"), report, cancellationToken);
        await File.WriteAllTextAsync(Path.Combine(_workDirectory, "runs.tsv"), Report.RunsTsv(_records), cancellationToken);
        console.WriteLine();
        console.WriteLine(report);
        Log($"results in {Path.Combine(_workDirectory, "results.md")} and runs.tsv; total {started.Elapsed.TotalMinutes:0.0} min");
        return _records.All(r => r.Result.Succeeded && r.Result.Failed == 0) ? 0 : 1;
    }

    private string Redact(string command, BenchCluster cluster) => command
        .Replace(_workDirectory, "$OUT", StringComparison.Ordinal)
        .Replace(Environment.CurrentDirectory + "/", "", StringComparison.Ordinal)
        .Replace($"-p {cluster.Nodes[0].Port}", "-p NODE0", StringComparison.Ordinal)
        .Replace($"-p {cluster.Nodes[1].Port}", "-p NODE1", StringComparison.Ordinal);

    private static string Describe(RunRecord r)
    {
        var text = string.Create(
            CultureInfo.InvariantCulture,
            $"  {r.Workload.Name,-16} {Report.TargetName(r.Target),-10} #{r.Repeat + 1} tps {r.Result.Tps,8:0.0}  avg {r.Result.LatencyAverageMs,6:0.00} ms  p99 {r.Result.LatencyP99Ms,6:0.00} ms  load {r.LoadBefore:0.00}");
        if (r.ProxyCpuMsPerTransaction is { } proxyCpu)
        {
            text += string.Create(CultureInfo.InvariantCulture, $"  proxy cpu {proxyCpu:0.000} ms/tx");
        }

        if (r.OtherTps is { } other)
        {
            text += string.Create(CultureInfo.InvariantCulture, $"  (other node {other:0.0})");
        }

        if (!r.Result.Succeeded || r.Result.Failed > 0)
        {
            text += $"  FAILED ({r.Result.Failed} failed transactions)\n{r.Result.Output}";
        }

        return text;
    }

    private void Log(string message) => console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");
}

/// <summary>Runs one workload against one target and measures CPU and memory around it.</summary>
public sealed class TargetRunner(BenchOptions options, BenchCluster cluster, PgpoolServer? pgpool, OursServer ours, string workDirectory)
{
    private readonly Dictionary<Target, string> _examples = [];

    public string ExampleCommand(Target target) => _examples.GetValueOrDefault(target, "");

    public async Task<RunRecord> RunAsync(Workload workload, Target target, int repeat, int duration, CancellationToken cancellationToken)
    {
        var load = ProcStats.LoadAverage();
        var logDirectory = Path.Combine(workDirectory, "pgbench-logs");
        Directory.CreateDirectory(logDirectory);
        string Prefix(string suffix) => Path.Combine(logDirectory, $"{workload.Name}-{target}-{repeat + 1}{suffix}");

        var nodeCpuBefore = NodeCpu();
        if (target == Target.Limit)
        {
            var first = Pgbench.Arguments(cluster.Nodes[0].Port, workload, options.Clients, options.Threads, duration, Prefix("-node0"));
            var second = Pgbench.Arguments(cluster.Nodes[1].Port, workload, options.Clients, options.Threads, duration, Prefix("-node1"));
            if (repeat >= 0)
            {
                _examples.TryAdd(target, "(at the same time) pgbench " + string.Join(' ', first) + "  &  pgbench " + string.Join(' ', second));
            }

            var results = await Task.WhenAll(Pgbench.RunAsync(first, duration, cancellationToken), Pgbench.RunAsync(second, duration, cancellationToken));
            var lower = results[0].Tps <= results[1].Tps ? results[0] : results[1];
            var other = ReferenceEquals(lower, results[0]) ? results[1] : results[0];
            var both = Math.Max(1, results[0].Transactions + results[1].Transactions);
            return new RunRecord(workload, target, repeat, lower with { Succeeded = results.All(r => r.Succeeded), Failed = results.Sum(r => r.Failed) }, load, null, (NodeCpu() - nodeCpuBefore) * 1000 / both, null, other.Tps);
        }

        var port = target switch
        {
            Target.Direct => cluster.Nodes[0].Port,
            Target.Pgpool => pgpool!.Port,
            _ => ours.Port,
        };
        var arguments = Pgbench.Arguments(port, workload, options.Clients, options.Threads, duration, Prefix(""));
        if (repeat >= 0)
        {
            _examples.TryAdd(target, "pgbench " + string.Join(' ', arguments));
        }

        int? proxyPid = target switch
        {
            Target.Pgpool => pgpool!.Pid,
            Target.Ours => ours.Pid,
            _ => null,
        };
        var proxyCpuBefore = proxyPid is { } p ? ProcStats.TreeCpuSeconds(p) : 0;
        await using var sampler = target == Target.Ours ? new RssSampler(ours.Pid) : null;
        var result = await Pgbench.RunAsync(arguments, duration, cancellationToken);
        var transactions = Math.Max(1, result.Transactions);
        double? proxyCpu = proxyPid is { } pid ? (ProcStats.TreeCpuSeconds(pid) - proxyCpuBefore) * 1000 / transactions : null;
        return new RunRecord(workload, target, repeat, result, load, proxyCpu, (NodeCpu() - nodeCpuBefore) * 1000 / transactions, sampler?.MaxKiB, null);
    }

    private double NodeCpu() => cluster.Nodes.Sum(n => n.PostmasterPid is { } pid ? ProcStats.TreeCpuSeconds(pid) : 0);
}
