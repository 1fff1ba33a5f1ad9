using System.Globalization;
using System.Text;
using Microsoft.Diagnostics.Tracing.Etlx;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace PgPoolConsole.Benchmarks;

/// <summary>
/// Reads a gc-verbose nettrace: every GCAllocationTick event stands for about 100 KB allocated
/// (AllocationAmount64 since the previous tick) and carries the allocating stack. Sums the bytes
/// by type, and by the first PgPoolConsole method on the stack (who allocated, in our code).
/// </summary>
public static class AllocationReport
{
    public static string Summarize(string nettraceFile, long transactions)
    {
        if (!File.Exists(nettraceFile))
        {
            return "(no trace file)";
        }

        var etlx = TraceLog.CreateFromEventPipeDataFile(nettraceFile);
        using var log = new TraceLog(etlx);
        var byType = new Dictionary<string, long>();
        var byMethod = new Dictionary<string, long>();
        var byFrame = new Dictionary<string, long>();
        long total = 0;
        foreach (var data in log.Events)
        {
            if (data is not GCAllocationTickTraceData tick)
            {
                continue;
            }

            var amount = tick.AllocationAmount64;
            total += amount;
            Add(byType, string.IsNullOrEmpty(tick.TypeName) ? "?" : tick.TypeName, amount);
            string? ours = null;
            string? top = null;
            for (var frame = data.CallStack(); frame is not null; frame = frame.Caller)
            {
                var name = frame.CodeAddress.FullMethodName;
                if (string.IsNullOrEmpty(name))
                {
                    continue;
                }

                top ??= name;
                if (name.StartsWith("PgPoolConsole.", StringComparison.Ordinal))
                {
                    ours = name;
                    break;
                }
            }

            Add(byMethod, ours ?? "(no PgPoolConsole frame)", amount);
            Add(byFrame, top ?? "(no managed frame)", amount);
        }

        var text = new StringBuilder();
        var perTransaction = transactions > 0 ? total / (double)transactions : double.NaN;
        text.Append(CultureInfo.InvariantCulture, $"Sampled allocations: {total / 1048576.0:0.0} MiB in the trace, about {perTransaction:0} bytes per transaction ({transactions} transactions).\n\n");
        Table(text, "allocated type", byType, total, 15);
        Table(text, "first PgPoolConsole method on the allocating stack", byMethod, total, 20);
        Table(text, "innermost managed frame", byFrame, total, 15);
        return text.ToString();
    }

    private static void Add(Dictionary<string, long> sums, string key, long amount) =>
        sums[key] = sums.GetValueOrDefault(key) + amount;

    private static void Table(StringBuilder text, string title, Dictionary<string, long> sums, long total, int rows)
    {
        text.Append(CultureInfo.InvariantCulture, $"| {title} | share | MiB |\n|---|---:|---:|\n");
        foreach (var (key, bytes) in sums.OrderByDescending(kv => kv.Value).Take(rows))
        {
            var name = key.Length > 140 ? key[..140] + "…" : key;
            text.Append(CultureInfo.InvariantCulture, $"| `{name.Replace("|", "\\|", StringComparison.Ordinal)}` | {bytes * 100.0 / Math.Max(1, total):0.0}% | {bytes / 1048576.0:0.0} |\n");
        }

        text.Append('\n');
    }
}
