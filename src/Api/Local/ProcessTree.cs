using System.Globalization;
using System.Runtime.InteropServices;

namespace PgPoolConsole.Api.Local;

/// <summary>Linux process inspection through /proc, and signals through libc <c>kill(2)</c>.</summary>
internal static class ProcessTree
{
    public const int SigKill = 9;
    public const int SigCont = 18;
    public const int SigStop = 19;

    /// <summary>True when <paramref name="pid"/> exists and is not a zombie.</summary>
    public static bool IsAlive(int pid)
    {
        var stat = ReadStat(pid);
        return stat is { } s && s.State != 'Z' && s.State != 'X';
    }

    /// <summary>The process command name (<c>/proc/pid/comm</c>), or null when it is gone.</summary>
    public static string? CommandName(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/comm").TrimEnd('\n');
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Every live descendant of <paramref name="root"/> (children, their children, …), not the root itself.</summary>
    public static IReadOnlyList<int> Descendants(int root)
    {
        var childrenOf = new Dictionary<int, List<int>>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                continue;
            }

            if (ReadStat(pid) is not { } stat || stat.State is 'Z' or 'X')
            {
                continue;
            }

            if (!childrenOf.TryGetValue(stat.ParentPid, out var list))
            {
                childrenOf[stat.ParentPid] = list = [];
            }

            list.Add(pid);
        }

        var result = new List<int>();
        var queue = new Queue<int>();
        queue.Enqueue(root);
        while (queue.TryDequeue(out var parent))
        {
            if (!childrenOf.TryGetValue(parent, out var children))
            {
                continue;
            }

            foreach (var child in children)
            {
                result.Add(child);
                queue.Enqueue(child);
            }
        }

        return result;
    }

    /// <summary>Sends <paramref name="signal"/>; false when the process is already gone.</summary>
    public static bool Signal(int pid, int signal)
    {
        if (pid <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(pid), pid, "Refusing to signal a process group.");
        }

        if (NativeMethods.Kill(pid, signal) == 0)
        {
            return true;
        }

        const int Esrch = 3;
        var errno = Marshal.GetLastPInvokeError();
        return errno == Esrch
            ? false
            : throw new InvalidOperationException($"kill({pid}, {signal}) failed with errno {errno}.");
    }

    /// <summary>Waits until <paramref name="pid"/> is gone (or a zombie).</summary>
    public static async Task<bool> WaitForExitAsync(int pid, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (IsAlive(pid))
        {
            if (DateTime.UtcNow >= deadline)
            {
                return false;
            }

            await Task.Delay(20, cancellationToken);
        }

        return true;
    }

    private static (char State, int ParentPid)? ReadStat(int pid)
    {
        string text;
        try
        {
            text = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/stat");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }

        // "pid (comm) S ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
        var close = text.LastIndexOf(')');
        if (close < 0 || close + 2 >= text.Length)
        {
            return null;
        }

        var fields = text[(close + 2)..].Split(' ', 3);
        return fields.Length >= 2 && int.TryParse(fields[1], NumberStyles.None, CultureInfo.InvariantCulture, out var parent)
            ? (fields[0][0], parent)
            : null;
    }

    private static class NativeMethods
    {
        [DllImport("libc", EntryPoint = "kill", SetLastError = true)]
        public static extern int Kill(int pid, int signal);
    }
}
