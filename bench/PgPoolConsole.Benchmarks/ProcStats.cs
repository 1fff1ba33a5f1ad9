using System.Globalization;

namespace PgPoolConsole.Benchmarks;

/// <summary>Process memory and CPU time from /proc (Linux only), for one process or a process tree.</summary>
public static class ProcStats
{
    // USER_HZ: /proc/pid/stat counts CPU time in clock ticks of 1/100 s on Linux.
    private const double TicksPerSecond = 100.0;

    /// <summary>Resident set size in KiB (VmRSS), or null when the process is gone.</summary>
    public static long? RssKiB(int pid) => StatusField(pid, "VmRSS:");

    /// <summary>Peak resident set size in KiB since the process started (VmHWM), or null.</summary>
    public static long? PeakRssKiB(int pid) => StatusField(pid, "VmHWM:");

    /// <summary>
    /// CPU seconds used by <paramref name="root"/> and all its live descendants, plus the time of
    /// children they have already reaped (cutime/cstime), so exited backends still count.
    /// </summary>
    public static double TreeCpuSeconds(int root) =>
        Tree(root).Sum(s => s.UserTicks + s.SystemTicks + s.ChildUserTicks + s.ChildSystemTicks) / TicksPerSecond;

    /// <summary>Number of processes in the tree rooted at <paramref name="root"/>, the root included.</summary>
    public static int TreeSize(int root) => Tree(root).Count;

    /// <summary>Sum of RSS (KiB) over a process tree (shared pages counted once per process, as ps does).</summary>
    public static long TreeRssKiB(int root) => Tree(root).Sum(s => RssKiB(s.Pid) ?? 0);

    /// <summary>Process ids of the tree rooted at <paramref name="root"/>, the root first.</summary>
    public static IReadOnlyList<int> TreePids(int root) => Tree(root).Select(s => s.Pid).ToList();

    /// <summary>Voluntary plus involuntary context switches of every thread of every process in the tree.</summary>
    public static long TreeContextSwitches(int root)
    {
        var total = 0L;
        foreach (var pid in TreePids(root))
        {
            try
            {
                foreach (var task in Directory.EnumerateDirectories($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/task"))
                {
                    foreach (var line in File.ReadLines(Path.Combine(task, "status")))
                    {
                        if (line.StartsWith("voluntary_ctxt_switches:", StringComparison.Ordinal) || line.StartsWith("nonvoluntary_ctxt_switches:", StringComparison.Ordinal))
                        {
                            total += long.Parse(line.AsSpan(line.IndexOf(':', StringComparison.Ordinal) + 1).Trim(), CultureInfo.InvariantCulture);
                        }
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The process or thread ended.
            }
        }

        return total;
    }

    /// <summary>The root and every live descendant, breadth first.</summary>
    private static List<Stat> Tree(int root)
    {
        var stats = AllStats();
        var childrenOf = stats.Values.GroupBy(s => s.ParentPid).ToDictionary(g => g.Key, g => g.Select(s => s.Pid).ToList());
        var result = new List<Stat>();
        var queue = new Queue<int>();
        queue.Enqueue(root);
        while (queue.TryDequeue(out var pid))
        {
            if (stats.TryGetValue(pid, out var stat))
            {
                result.Add(stat);
            }

            foreach (var child in childrenOf.GetValueOrDefault(pid) ?? [])
            {
                queue.Enqueue(child);
            }
        }

        return result;
    }

    /// <summary>The 1-minute load average (first field of /proc/loadavg).</summary>
    public static double LoadAverage()
    {
        var text = File.ReadAllText("/proc/loadavg");
        return double.Parse(text.AsSpan(0, text.IndexOf(' ', StringComparison.Ordinal)), CultureInfo.InvariantCulture);
    }

    /// <summary>`uptime`-style text: the three load averages.</summary>
    public static string LoadText()
    {
        var parts = File.ReadAllText("/proc/loadavg").Split(' ');
        return $"load average: {parts[0]}, {parts[1]}, {parts[2]}";
    }

    private static long? StatusField(int pid, string field)
    {
        try
        {
            foreach (var line in File.ReadLines($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/status"))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    var digits = line.AsSpan(field.Length).Trim();
                    var end = digits.IndexOf(' ');
                    return long.Parse(end < 0 ? digits : digits[..end], CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Gone.
        }

        return null;
    }

    private readonly record struct Stat(int Pid, int ParentPid, long UserTicks, long SystemTicks, long ChildUserTicks, long ChildSystemTicks);

    private static Dictionary<int, Stat> AllStats()
    {
        var result = new Dictionary<int, Stat>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            string text;
            try
            {
                text = File.ReadAllText(Path.Combine(directory, "stat"));
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            // pid (comm) state ppid ... : comm may hold spaces and parentheses, so split after the last ')'.
            var fields = text[(text.LastIndexOf(')') + 2)..].Split(' ');
            long Field(int number) => long.Parse(fields[number - 3], CultureInfo.InvariantCulture);
            result[pid] = new Stat(pid, (int)Field(4), Field(14), Field(15), Field(16), Field(17));
        }

        return result;
    }
}

/// <summary>Samples a process's RSS every 100 ms while it runs and keeps the maximum.</summary>
public sealed class RssSampler : IAsyncDisposable
{
    private readonly int _pid;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _maxKiB;

    public RssSampler(int pid)
    {
        _pid = pid;
        _maxKiB = ProcStats.RssKiB(pid) ?? 0;
        _loop = Task.Run(LoopAsync);
    }

    /// <summary>The largest RSS seen so far, in KiB.</summary>
    public long MaxKiB => Interlocked.Read(ref _maxKiB);

    private async Task LoopAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(100));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                if (ProcStats.RssKiB(_pid) is { } rss && rss > Interlocked.Read(ref _maxKiB))
                {
                    Interlocked.Exchange(ref _maxKiB, rss);
                }
            }
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}
