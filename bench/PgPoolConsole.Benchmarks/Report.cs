using System.Globalization;
using System.Text;

namespace PgPoolConsole.Benchmarks;

/// <summary>Turns the runs into the markdown tables of docs/benchmarks.md (medians over the repeats).</summary>
public static class Report
{
    /// <summary>TPC-B through the proxy against the two-node limit.</summary>
    public const double TpcbTarget = 0.9;

    /// <summary>Select-only through the proxy against pgbench direct to one node.</summary>
    public const double SelectTarget = 0.8;

    public static string TargetName(Target target) => target switch
    {
        Target.Direct => "direct",
        Target.Limit => "limit",
        Target.Pgpool => "pgpool-II",
        _ => "ours",
    };

    public static string Build(
        BenchOptions options,
        MachineInfo machine,
        IReadOnlyList<RunRecord> records,
        HoldResult? hold,
        IReadOnlyDictionary<Target, string> commands,
        TimeSpan elapsed,
        string loadAtEnd)
    {
        var text = new StringBuilder();
        void Line(string line = "") => text.Append(line).Append('\n');
        string F(double value, string format) => double.IsNaN(value) ? "–" : value.ToString(format, CultureInfo.InvariantCulture);

        var loads = records.Select(r => r.LoadBefore).Order().ToList();
        Line($"Run of {DateTime.Now:yyyy-MM-dd HH:mm}, {elapsed.TotalMinutes:0.0} min: {machine.Summary}.");
        Line($"pgbench -c {options.Clients} -j {options.Threads} -T {options.Duration} (connection rate: -C -T {options.ConnectDuration}), scale {options.Scale}, " +
             $"{options.Repeats} interleaved repeats, medians shown; num_init_children {options.NumInitChildren}, max_pool {options.MaxPool} for both proxies; " +
             $"proxies reach the nodes over {(options.BackendSockets ? "Unix sockets" : "TCP on 127.0.0.1")}.");
        if (loads.Count > 0)
        {
            Line($"1-minute load average before the runs: min {F(loads[0], "0.00")}, median {F(Median(loads), "0.00")}, max {F(loads[^1], "0.00")}; {loadAtEnd} at the end.");
        }

        Line();
        Line("| workload | target | tps | latency avg ms | latency p99 ms | proxy CPU ms/tx | nodes CPU ms/tx | tps of each repeat |");
        Line("|---|---|---:|---:|---:|---:|---:|---|");
        foreach (var group in Groups(records))
        {
            var runs = group.Runs;
            var tps = Median(runs.Select(r => r.Result.Tps));
            var proxyCpu = runs.All(r => r.ProxyCpuMsPerTransaction is null) ? double.NaN : Median(runs.Select(r => r.ProxyCpuMsPerTransaction ?? double.NaN));
            var nodeCpu = Median(runs.Select(r => r.NodeCpuMsPerTransaction ?? double.NaN));
            var each = string.Join(", ", runs.Select(r => r.Result.Tps.ToString("0", CultureInfo.InvariantCulture) + (r.Result.Succeeded && r.Result.Failed == 0 ? "" : " (failed)")));
            var name = group.Target == Target.Limit ? "limit (lower of both)" : TargetName(group.Target);
            Line($"| {group.Workload.Title} | {name} | {F(tps, "0")} | {F(Median(runs.Select(r => r.Result.LatencyAverageMs)), "0.00")} | " +
                 $"{F(Median(runs.Select(r => r.Result.LatencyP99Ms)), "0.00")} | {F(proxyCpu, "0.000")} | {F(nodeCpu, "0.000")} | {each} |");
        }

        Line();
        Line("| workload | ours / limit | ours / direct | ours / pgpool-II | pgpool-II / limit | pgpool-II / direct | target | met |");
        Line("|---|---:|---:|---:|---:|---:|---|---|");
        foreach (var workload in records.Select(r => r.Workload).Distinct())
        {
            double Tps(Target target)
            {
                var runs = records.Where(r => r.Workload == workload && r.Target == target).ToList();
                return runs.Count == 0 ? double.NaN : Median(runs.Select(r => r.Result.Tps));
            }

            var (direct, limit, pgpool, ours) = (Tps(Target.Direct), Tps(Target.Limit), Tps(Target.Pgpool), Tps(Target.Ours));
            string goal;
            bool met;
            if (workload == Workload.Connect)
            {
                goal = "ahead of pgpool-II";
                met = double.IsNaN(pgpool) || ours > pgpool;
            }
            else if (workload.SelectOnly)
            {
                goal = $"≥ {SelectTarget:0.0} × direct, ahead of pgpool-II";
                met = ours / direct >= SelectTarget && (double.IsNaN(pgpool) || ours > pgpool);
            }
            else
            {
                goal = $"≥ {TpcbTarget:0.0} × limit, ahead of pgpool-II";
                met = ours / limit >= TpcbTarget && (double.IsNaN(pgpool) || ours > pgpool);
            }

            Line($"| {workload.Title} | {F(ours / limit, "0.00")} | {F(ours / direct, "0.00")} | {F(ours / pgpool, "0.00")} | " +
                 $"{F(pgpool / limit, "0.00")} | {F(pgpool / direct, "0.00")} | {goal} | {(met ? "yes" : "**no**")} |");
        }

        var oursRuns = records.Where(r => r.Target == Target.Ours && r.PeakRssKiB is not null).ToList();
        if (oursRuns.Count > 0)
        {
            Line();
            var tpcb = oursRuns.Where(r => !r.Workload.SelectOnly).Select(r => r.PeakRssKiB!.Value).DefaultIfEmpty(0).Max();
            var all = oursRuns.Max(r => r.PeakRssKiB!.Value);
            Line($"Peak RSS of our proxy (sampled every 100 ms): {tpcb / 1024} MiB during the TPC-B runs, {all / 1024} MiB over all runs.");
        }

        if (hold is not null)
        {
            Line();
            Line($"Held connections through our proxy (num_init_children {hold.Wanted + 24}): {hold.Opened}/{hold.Wanted} opened in {hold.OpenTime.TotalSeconds:0.0} s " +
                 $"({hold.Opened / Math.Max(0.001, hold.OpenTime.TotalSeconds):0} per s, 16 at a time, each also connecting to both nodes).");
            Line();
            Line("| proxy RSS | MiB |");
            Line("|---|---:|");
            Line($"| before | {hold.RssBeforeKiB / 1024} |");
            Line($"| {hold.Opened} idle clients held | {hold.RssHeldKiB / 1024} |");
            Line($"| after a query on each and pgbench on top | {hold.RssAfterQueriesKiB / 1024} |");
            Line($"| 3 s after closing them | {hold.RssAfterCloseKiB / 1024} |");
            Line();
            var perConnection = (hold.RssHeldKiB - hold.RssBeforeKiB) / (double)Math.Max(1, hold.Opened);
            Line($"{perConnection:0} KiB per held client connection (with its two backend connections); {hold.ThreadCount} threads in the proxy while holding. " +
                 $"{hold.QueriesAnswered}/{hold.Opened} held connections answered a query ({hold.QueryTime.TotalSeconds:0.0} s for all); " +
                 $"pgbench -S -c {options.Clients} on top of them: {F(hold.LoadWhileHeld?.Tps ?? double.NaN, "0")} tps" +
                 (hold.LoadWhileHeld?.Succeeded == false ? " (pgbench failed)" : "") + "." +
                 (hold.FirstError is null ? "" : $" First error: {hold.FirstError}"));
        }

        Line();
        Line("Commands ($OUT is the output directory, NODE0/NODE1 the nodes' ports; the proxies' ports are in their pgpool.conf):");
        Line();
        Line("```");
        foreach (var (target, command) in commands.OrderBy(c => c.Key))
        {
            Line($"{TargetName(target)}: {command}");
        }

        Line("```");
        return text.ToString();
    }

    /// <summary>Every run as a tab-separated line, for a closer look.</summary>
    public static string RunsTsv(IReadOnlyList<RunRecord> records)
    {
        var text = new StringBuilder("workload\ttarget\trepeat\ttps\tlatency_avg_ms\tlatency_p99_ms\ttransactions\tfailed\tsucceeded\tload_before\tproxy_cpu_ms_per_tx\tnode_cpu_ms_per_tx\tpeak_rss_kib\tother_node_tps\n");
        foreach (var r in records)
        {
            text.Append(CultureInfo.InvariantCulture, $"{r.Workload.Name}\t{TargetName(r.Target)}\t{r.Repeat + 1}\t{r.Result.Tps:0.0}\t{r.Result.LatencyAverageMs:0.000}\t{r.Result.LatencyP99Ms:0.000}\t");
            text.Append(CultureInfo.InvariantCulture, $"{r.Result.Transactions}\t{r.Result.Failed}\t{r.Result.Succeeded}\t{r.LoadBefore:0.00}\t{r.ProxyCpuMsPerTransaction:0.0000}\t{r.NodeCpuMsPerTransaction:0.0000}\t{r.PeakRssKiB}\t{r.OtherTps:0.0}\n");
        }

        return text.ToString();
    }

    private static IEnumerable<(Workload Workload, Target Target, List<RunRecord> Runs)> Groups(IReadOnlyList<RunRecord> records) =>
        records.GroupBy(r => (r.Workload, r.Target))
            .OrderBy(g => IndexOf(g.Key.Workload)).ThenBy(g => g.Key.Target)
            .Select(g => (g.Key.Workload, g.Key.Target, g.OrderBy(r => r.Repeat).ToList()));

    private static int IndexOf(Workload workload)
    {
        for (var i = 0; i < Workload.All.Count; i++)
        {
            if (Workload.All[i] == workload)
            {
                return i;
            }
        }

        return Workload.All.Count;
    }

    /// <summary>The median, NaN values left out (NaN when nothing is left).</summary>
    internal static double Median(IEnumerable<double> values)
    {
        var sorted = values.Where(v => !double.IsNaN(v)).Order().ToList();
        if (sorted.Count == 0)
        {
            return double.NaN;
        }

        return sorted.Count % 2 == 1 ? sorted[sorted.Count / 2] : (sorted[(sorted.Count / 2) - 1] + sorted[sorted.Count / 2]) / 2;
    }
}
