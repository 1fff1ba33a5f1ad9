using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Benchmarks;

/// <summary>
/// The `profile` mode: our proxy alone on the two nodes under pgbench, looked at five ways, one
/// run each so that one tool's overhead does not spoil another's numbers:
/// pg_stat_statements (what each node executes per transaction, through the proxy and direct),
/// dotnet-counters (allocation rate, GC, thread pool, lock contention), perf (where CPU goes,
/// kernel and runtime included), dotnet-trace (managed stacks and allocations by type and by
/// allocating method) and strace -c (system calls per transaction).
/// </summary>
public sealed class ProfileRun(BenchOptions options, string proxyDll, TextWriter console)
{
    private const string ToolPath = "/tmp/dotnet-tools";
    private readonly StringBuilder _report = new();
    private string _directory = "";

    public async Task<int> RunAsync(CancellationToken cancellationToken)
    {
        _directory = Path.GetFullPath(options.OutputDirectory ?? $"/tmp/pgpc-profile-{DateTime.Now:yyyyMMdd-HHmmss}");
        await OsUser.CreateDirectoryForPostgresAsync(_directory, cancellationToken: cancellationToken);
        var machine = await MachineInfo.CollectAsync(cancellationToken);
        Log($"work directory {_directory}");
        Line($"Profile of {DateTime.Now:yyyy-MM-dd HH:mm}: {machine.Summary}.");
        Line($"Our proxy alone on two nodes; pgbench -c {options.Clients} -j {options.Threads} -T {options.Duration}, scale {options.Scale}; " +
             $"num_init_children {options.NumInitChildren}, max_pool {options.MaxPool}; {ProcStats.LoadText()} at start.");

        await using var cluster = await BenchCluster.CreateAsync(
            Path.Combine(_directory, "nodes"),
            200,
            options.Scale,
            options.Keep,
            cancellationToken,
            new Dictionary<string, string> { ["shared_preload_libraries"] = "pg_stat_statements", ["pg_stat_statements.track"] = "all" });
        foreach (var node in cluster.Nodes)
        {
            await node.ExecuteAsync("CREATE EXTENSION pg_stat_statements", cancellationToken: cancellationToken);
        }

        // The proxy as built, with JIT-compiled code visible to perf (a perf map, and no W^X double
        // mapping, whose anonymous executable pages perf cannot attribute).
        await using var ours = new OursServer(Path.Combine(_directory, "ours"), cluster.Nodes, options.NumInitChildren, options.MaxPool, proxyDll);
        ours.Environment["DOTNET_PerfMapEnabled"] = "1";
        ours.Environment["DOTNET_EnableWriteXorExecute"] = "0";
        // The same build with runtime settings that need no code change (see the knobs section).
        await using var noSpin = new OursServer(Path.Combine(_directory, "ours-nospin"), cluster.Nodes, options.NumInitChildren, options.MaxPool, proxyDll);
        noSpin.Environment["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0";
        await using var inline = new OursServer(Path.Combine(_directory, "ours-nospin-inline"), cluster.Nodes, options.NumInitChildren, options.MaxPool, proxyDll);
        inline.Environment["DOTNET_ThreadPool_UnfairSemaphoreSpinLimit"] = "0";
        inline.Environment["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = "1";
        await using var pgpool = options.NoPgpool ? null : new PgpoolServer(Path.Combine(_directory, "pgpool"), cluster.Nodes, options.NumInitChildren, options.MaxPool);
        var proxies = new List<(string Name, ProxyProcess Proxy)>
        {
            ("ours", ours),
            ("ours, spin limit 0", noSpin),
            ("ours, spin limit 0 + inline socket completions", inline),
        };
        if (pgpool is not null)
        {
            proxies.Add(("pgpool-II", pgpool));
        }

        foreach (var (name, proxy) in proxies)
        {
            await proxy.StartAsync(cancellationToken);
            Log($"{name} on port {proxy.Port}, pid {proxy.Pid}");
            if (options.Warmup > 0)
            {
                await PgbenchAsync(proxy.Port, Workload.All[0], options.Warmup, cancellationToken);
            }
        }

        await StatementsAndCountersAsync(cluster, ours, pgpool, cancellationToken);
        await PerfAsync(ours, cancellationToken);
        await ThreadTimeAsync(ours, cancellationToken);
        await AllocationsAsync(ours, cancellationToken);
        await StraceAsync(ours, pgpool, cancellationToken);
        await KnobsAsync(proxies, cancellationToken);

        var path = Path.Combine(_directory, "profile.md");
        await File.WriteAllTextAsync(path, _report.ToString(), cancellationToken);
        console.WriteLine();
        console.WriteLine(_report.ToString());
        Log($"profile in {path}; raw files beside it");
        return 0;
    }

    /// <summary>Per mode: statements each node runs per transaction (through us and direct), and the runtime counters.</summary>
    private async Task StatementsAndCountersAsync(BenchCluster cluster, OursServer ours, PgpoolServer? pgpool, CancellationToken cancellationToken)
    {
        Section("Statements per transaction on each node (pg_stat_statements calls ÷ pgbench transactions)");
        Line("Through a proxy every write runs on both nodes and the SELECT on one; direct is pgbench straight to node 0.");
        Line();
        var counterRows = new List<(string Mode, double Tps, double ProxyCpuMs, double CtxSwitches, Dictionary<string, double> Counters)>();
        foreach (var workload in new[] { Workload.All[0], Workload.All[1], Workload.All[2], Workload.All[3], Workload.All[5] })
        {
            foreach (var target in new[] { Target.Ours, Target.Pgpool, Target.Direct })
            {
                if ((target == Target.Direct && workload.SelectOnly) || (target == Target.Pgpool && (pgpool is null || workload.SelectOnly)))
                {
                    continue;
                }

                await ResetStatementsAsync(cluster, cancellationToken);
                var port = target switch
                {
                    Target.Direct => cluster.Nodes[0].Port,
                    Target.Pgpool => pgpool!.Port,
                    _ => ours.Port,
                };
                var cpuBefore = ProcStats.TreeCpuSeconds(ours.Pid);
                var switchesBefore = ProcStats.TreeContextSwitches(ours.Pid);
                var countersFile = Path.Combine(_directory, $"counters-{workload.Name}.csv");
                Process? counters = null;
                if (target == Target.Ours)
                {
                    counters = StartTool(
                        Path.Combine(ToolPath, "dotnet-counters"),
                        ["collect", "-p", Text(ours.Pid), "--counters", "System.Runtime", "--refresh-interval", "1", "--format", "csv", "-o", countersFile,
                         "--duration", TimeSpan.FromSeconds(options.Duration).ToString("c", CultureInfo.InvariantCulture)]);
                }

                var result = await PgbenchAsync(port, workload, options.Duration, cancellationToken);
                if (counters is not null)
                {
                    await WaitAsync(counters, TimeSpan.FromSeconds(30));
                    var cpu = (ProcStats.TreeCpuSeconds(ours.Pid) - cpuBefore) * 1000 / Math.Max(1, result.Transactions);
                    var switches = (ProcStats.TreeContextSwitches(ours.Pid) - switchesBefore) / (double)Math.Max(1, result.Transactions);
                    counterRows.Add((workload.Title, result.Tps, cpu, switches, ReadCounters(countersFile)));
                }

                var where = target switch
                {
                    Target.Direct => "direct to node 0",
                    Target.Pgpool => "through pgpool-II",
                    _ => "through ours",
                };
                Line($"**{workload.Title}, {where}**: {result.Tps:0} tps, {result.Transactions} transactions");
                Line();
                Line("| statement | node 0 | node 1 |");
                Line("|---|---:|---:|");
                var perNode = new List<Dictionary<string, long>>();
                foreach (var node in cluster.Nodes)
                {
                    perNode.Add(await StatementCallsAsync(node, cancellationToken));
                }

                var transactions = Math.Max(1, result.Transactions);
                foreach (var query in perNode.SelectMany(d => d.Keys).Distinct().OrderByDescending(q => perNode.Sum(d => d.GetValueOrDefault(q))).Take(14))
                {
                    Line($"| `{query}` | {perNode[0].GetValueOrDefault(query) / (double)transactions:0.00} | {perNode[1].GetValueOrDefault(query) / (double)transactions:0.00} |");
                }

                Line($"| **all** | {perNode[0].Values.Sum() / (double)transactions:0.00} | {perNode[1].Values.Sum() / (double)transactions:0.00} |");
                Line();
            }
        }

        Section("Runtime counters of our proxy (dotnet-counters, System.Runtime, mean over the run)");
        var names = counterRows.SelectMany(r => r.Counters.Keys).Distinct().Order(StringComparer.Ordinal).ToList();
        Line("| counter | " + string.Join(" | ", counterRows.Select(r => r.Mode)) + " |");
        Line("|---|" + string.Concat(counterRows.Select(_ => "---:|")));
        Line("| tps (pgbench) | " + string.Join(" | ", counterRows.Select(r => r.Tps.ToString("0", CultureInfo.InvariantCulture))) + " |");
        Line("| proxy CPU ms per transaction (/proc) | " + string.Join(" | ", counterRows.Select(r => r.ProxyCpuMs.ToString("0.000", CultureInfo.InvariantCulture))) + " |");
        Line("| context switches per transaction (/proc, all threads) | " + string.Join(" | ", counterRows.Select(r => r.CtxSwitches.ToString("0.0", CultureInfo.InvariantCulture))) + " |");
        var allocated = names.FirstOrDefault(n => n.Contains("total_allocated", StringComparison.Ordinal) || n.Contains("Allocation Rate", StringComparison.Ordinal));
        if (allocated is not null)
        {
            Line("| **bytes allocated per transaction** | " + string.Join(" | ", counterRows.Select(r => (r.Counters.GetValueOrDefault(allocated) / Math.Max(1, r.Tps)).ToString("0", CultureInfo.InvariantCulture))) + " |");
        }

        foreach (var name in names)
        {
            Line($"| {name} | " + string.Join(" | ", counterRows.Select(r => r.Counters.TryGetValue(name, out var v) ? v.ToString("0.###", CultureInfo.InvariantCulture) : "–")) + " |");
        }
    }

    /// <summary>perf record -g on the proxy process; self and inclusive top symbols, and the split by library.</summary>
    private async Task PerfAsync(OursServer ours, CancellationToken cancellationToken)
    {
        var file = Path.Combine(_directory, "perf.data");
        var perf = StartTool("/usr/bin/perf", ["record", "-F", "499", "-g", "-p", Text(ours.Pid), "-o", file, "--", "sleep", Text(options.Duration)]);
        var result = await PgbenchAsync(ours.Port, Workload.All[0], options.Duration, cancellationToken);
        await WaitAsync(perf, TimeSpan.FromSeconds(60));
        Section($"perf: where the proxy's CPU goes under TPC-B simple ({result.Tps:0} tps, perf record -F 499 -g)");
        Line("By library (self time):");
        Line();
        Line("```");
        Line(await PerfReportAsync(file, ["--no-children", "--sort", "dso"], 12, cancellationToken));
        Line("```");
        Line("Top symbols by self time:");
        Line();
        Line("```");
        Line(await PerfReportAsync(file, ["--no-children", "--sort", "dso,symbol"], 45, cancellationToken));
        Line("```");
        Line("Top symbols including callees:");
        Line();
        Line("```");
        Line(await PerfReportAsync(file, ["--children", "--sort", "symbol"], 60, cancellationToken));
        Line("```");
    }

    private static async Task<string> PerfReportAsync(string file, string[] sort, int lines, CancellationToken cancellationToken)
    {
        var arguments = new List<string> { "report", "-i", file, "--stdio", "-g", "none", "--percent-limit", "0.3" };
        arguments.AddRange(sort);
        var report = await ProcessRunner.RunAsync("/usr/bin/perf", arguments, timeout: TimeSpan.FromMinutes(5), cancellationToken: cancellationToken);
        return string.Join('\n', report.StandardOutput.Split('\n').Where(l => l.Length > 0 && !l.StartsWith('#')).Take(lines).Select(l => l.Length > 160 ? l[..160] : l));
    }

    /// <summary>dotnet-trace's sampled thread time: managed stacks (~100 Hz per thread), top methods.</summary>
    private async Task ThreadTimeAsync(OursServer ours, CancellationToken cancellationToken)
    {
        var (file, result) = await TraceAsync(ours, "dotnet-sampled-thread-time", "thread-time.nettrace", cancellationToken);
        Section($"dotnet-trace: managed methods on the stack under TPC-B simple ({result.Tps:0} tps, dotnet-sampled-thread-time)");
        foreach (var inclusive in new[] { false, true })
        {
            var arguments = new List<string> { "report", file, "topN", "-n", inclusive ? "30" : "25" };
            if (inclusive)
            {
                arguments.Add("--inclusive");
            }

            var report = await ProcessRunner.RunAsync(Path.Combine(ToolPath, "dotnet-trace"), arguments, timeout: TimeSpan.FromMinutes(5), cancellationToken: cancellationToken);
            Line(inclusive ? "Inclusive:" : "Exclusive:");
            Line();
            Line("```");
            Line(string.Join('\n', report.StandardOutput.Split('\n').Select(l => l.Length > 170 ? l[..170] : l)).TrimEnd());
            Line("```");
        }
    }

    /// <summary>dotnet-trace gc-verbose: allocation samples (one per ~100 KB) by type and by the proxy method that allocated.</summary>
    private async Task AllocationsAsync(OursServer ours, CancellationToken cancellationToken)
    {
        var (file, result) = await TraceAsync(ours, "gc-verbose", "allocations.nettrace", cancellationToken);
        Section($"dotnet-trace: allocations under TPC-B simple ({result.Tps:0} tps, gc-verbose allocation ticks)");
        Line(AllocationReport.Summarize(file, result.Transactions));
    }

    /// <summary>dotnet-trace collect with <paramref name="profile"/> for the length of one TPC-B simple run.</summary>
    private async Task<(string File, PgbenchResult Result)> TraceAsync(OursServer ours, string profile, string fileName, CancellationToken cancellationToken)
    {
        var file = Path.Combine(_directory, fileName);
        var trace = StartTool(
            Path.Combine(ToolPath, "dotnet-trace"),
            ["collect", "-p", Text(ours.Pid), "--profile", profile, "-o", file, "--duration", TimeSpan.FromSeconds(options.Duration).ToString("c", CultureInfo.InvariantCulture)]);
        var result = await PgbenchAsync(ours.Port, Workload.All[0], options.Duration, cancellationToken);
        await WaitAsync(trace, TimeSpan.FromSeconds(60));
        return (file, result);
    }

    /// <summary>strace -c -f: system calls per transaction (strace slows the proxy a lot; the counts, not the times, are the point).</summary>
    private async Task StraceAsync(OursServer ours, PgpoolServer? pgpool, CancellationToken cancellationToken)
    {
        Section("strace -c -f: system calls per transaction (strace slows the proxy; count, not time)");
        var runs = new List<(string Name, ProxyProcess Proxy, Workload Workload)>
        {
            ("ours", ours, Workload.All[0]),
            ("ours", ours, Workload.All[2]),
            ("ours", ours, Workload.All[5]),
        };
        if (pgpool is not null)
        {
            runs.Add(("pgpool-II", pgpool, Workload.All[0]));
            runs.Add(("pgpool-II", pgpool, Workload.All[5]));
        }

        foreach (var (name, proxy, workload) in runs)
        {
            var file = Path.Combine(_directory, $"strace-{name[..4]}-{workload.Name}.txt");
            // Every process of the proxy (pgpool-II: its children; ours: one process, -f takes its threads).
            var arguments = new List<string> { "-c", "-f", "-o", file };
            foreach (var pid in ProcStats.TreePids(proxy.Pid))
            {
                arguments.Add("-p");
                arguments.Add(Text(pid));
            }

            var strace = StartTool("/usr/bin/strace", arguments);
            await Task.Delay(1500, cancellationToken);
            var result = await PgbenchAsync(proxy.Port, workload, options.Duration, cancellationToken);
            Signal(strace, 2); // SIGINT: strace detaches and writes its summary
            await WaitAsync(strace, TimeSpan.FromSeconds(60));
            var calls = ReadStrace(file);
            var transactions = (double)Math.Max(1, result.Transactions);
            Line($"**{name}, {workload.Title}** ({result.Tps:0} tps under strace, {result.Transactions} transactions):");
            Line();
            Line("| syscall | calls | per transaction |");
            Line("|---|---:|---:|");
            foreach (var (syscall, count) in calls.OrderByDescending(kv => kv.Value).Take(10))
            {
                Line($"| {syscall} | {count} | {count / transactions:0.00} |");
            }

            Line($"| **all** | {calls.Values.Sum()} | {calls.Values.Sum() / transactions:0.00} |");
            Line();
        }
    }

    /// <summary>
    /// The same build under runtime settings that need no code change, and pgpool-II, interleaved:
    /// tps, CPU per transaction and context switches per transaction of the proxy's processes.
    /// </summary>
    private async Task KnobsAsync(List<(string Name, ProxyProcess Proxy)> proxies, CancellationToken cancellationToken)
    {
        Section($"Runtime settings without code changes (interleaved, {options.Repeats} rounds, medians)");
        Line("DOTNET_ThreadPool_UnfairSemaphoreSpinLimit=0 stops idle thread-pool workers from spinning (sched_yield) before they sleep; " +
             "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 runs socket continuations on the epoll thread instead of handing them to the thread pool.");
        Line();
        Line("| workload | proxy | tps | proxy CPU ms/tx | context switches/tx | tps of each round |");
        Line("|---|---|---:|---:|---:|---|");
        foreach (var workload in new[] { Workload.All[0], Workload.All[2], Workload.All[3], Workload.All[5] })
        {
            var rows = proxies.ToDictionary(p => p.Name, _ => new List<(double Tps, double Cpu, double Switches)>());
            for (var round = 0; round < options.Repeats; round++)
            {
                for (var i = 0; i < proxies.Count; i++)
                {
                    var (name, proxy) = proxies[(i + round) % proxies.Count];
                    var cpuBefore = ProcStats.TreeCpuSeconds(proxy.Pid);
                    var switchesBefore = ProcStats.TreeContextSwitches(proxy.Pid);
                    var result = await PgbenchAsync(proxy.Port, workload, options.Duration, cancellationToken);
                    var transactions = (double)Math.Max(1, result.Transactions);
                    rows[name].Add((result.Tps, (ProcStats.TreeCpuSeconds(proxy.Pid) - cpuBefore) * 1000 / transactions, (ProcStats.TreeContextSwitches(proxy.Pid) - switchesBefore) / transactions));
                }
            }

            foreach (var (name, _) in proxies)
            {
                var runs = rows[name];
                Line($"| {workload.Title} | {name} | {Report.Median(runs.Select(r => r.Tps)):0} | {Report.Median(runs.Select(r => r.Cpu)):0.000} | {Report.Median(runs.Select(r => r.Switches)):0.0} | " +
                     string.Join(", ", runs.Select(r => r.Tps.ToString("0", CultureInfo.InvariantCulture))) + " |");
            }
        }
    }

    private static Dictionary<string, long> ReadStrace(string file)
    {
        var result = new Dictionary<string, long>();
        if (!File.Exists(file))
        {
            return result;
        }

        // % time  seconds  usecs/call  calls  [errors]  syscall
        foreach (var line in File.ReadLines(file))
        {
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 5 || !double.TryParse(fields[0], NumberStyles.Float, CultureInfo.InvariantCulture, out _) || fields[^1] == "total")
            {
                continue;
            }

            if (long.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var calls))
            {
                result[fields[^1]] = calls;
            }
        }

        return result;
    }

    private async Task<PgbenchResult> PgbenchAsync(int port, Workload workload, int duration, CancellationToken cancellationToken)
    {
        var result = await Pgbench.RunAsync(Pgbench.Arguments(port, workload, options.Clients, options.Threads, duration, logPrefix: null), duration, cancellationToken);
        Log($"  {workload.Name} on port {port}: {result.Tps:0.0} tps{(result.Succeeded ? "" : " FAILED\n" + result.Output)}");
        return result;
    }

    private static async Task ResetStatementsAsync(BenchCluster cluster, CancellationToken cancellationToken)
    {
        foreach (var node in cluster.Nodes)
        {
            await node.ExecuteAsync("SELECT pg_stat_statements_reset()", cancellationToken: cancellationToken);
        }
    }

    private static async Task<Dictionary<string, long>> StatementCallsAsync(PostgresInstance node, CancellationToken cancellationToken)
    {
        var result = new Dictionary<string, long>();
        await using var connection = new NpgsqlConnection(node.ConnectionString());
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(
            "SELECT regexp_replace(query, '\\s+', ' ', 'g'), sum(calls)::bigint FROM pg_stat_statements " +
            "WHERE query NOT LIKE '%pg_stat_statements%' GROUP BY 1",
            connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            var query = reader.GetString(0);
            result[query.Length > 90 ? query[..90] + "…" : query] = reader.GetInt64(1);
        }

        return result;
    }

    private static Dictionary<string, double> ReadCounters(string file)
    {
        // dotnet-counters csv: Timestamp,Provider,Counter Name,Counter Type,Mean/Increment
        var values = new Dictionary<string, List<double>>();
        if (!File.Exists(file))
        {
            return [];
        }

        foreach (var line in File.ReadLines(file).Skip(1))
        {
            var fields = SplitCsv(line);
            if (fields.Count < 5 || !double.TryParse(fields[^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var value))
            {
                continue;
            }

            var name = fields[2];
            if (!values.TryGetValue(name, out var list))
            {
                values[name] = list = [];
            }

            list.Add(value);
        }

        // Drop the first sample of each (the tool attaching), then average.
        return values.ToDictionary(kv => kv.Key, kv => kv.Value.Skip(kv.Value.Count > 2 ? 1 : 0).Average());
    }

    private static List<string> SplitCsv(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        var quoted = false;
        foreach (var c in line)
        {
            if (c == '"')
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        fields.Add(current.ToString());
        return fields;
    }

    private Process StartTool(string file, IEnumerable<string> arguments)
    {
        var startInfo = new ProcessStartInfo(file)
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
        };
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        var process = Process.Start(startInfo) ?? throw new InvalidOperationException($"could not start {file}");
        var log = Path.Combine(_directory, Path.GetFileName(file) + ".log");
        _ = process.StandardOutput.BaseStream.CopyToAsync(File.Open(log, FileMode.Append, FileAccess.Write, FileShare.ReadWrite));
        _ = process.StandardError.ReadToEndAsync();
        return process;
    }

    private static async Task WaitAsync(Process process, TimeSpan timeout)
    {
        using var wait = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }
        finally
        {
            process.Dispose();
        }
    }

    private static void Signal(Process process, int signal)
    {
        if (!process.HasExited)
        {
            _ = Kill(process.Id, signal);
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    private void Section(string title)
    {
        Line();
        Line("### " + title);
        Line();
    }

    private void Line(string text = "") => _report.Append(text).Append('\n');

    private void Log(string message) => console.WriteLine($"[{DateTime.Now:HH:mm:ss}] {message}");

    private static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}
