using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Proxy.Logging;

/// <summary>Formats log lines the way pgpool-II prints them (log_line_prefix, "LOG:  message").</summary>
public static class PgpoolLogLine
{
    public static EventLevel LevelOf(LogLevel level) => level switch
    {
        LogLevel.Trace or LogLevel.Debug => EventLevel.Debug,
        LogLevel.Information => EventLevel.Log,
        LogLevel.Warning => EventLevel.Warning,
        LogLevel.Error => EventLevel.Error,
        _ => EventLevel.Fatal,
    };

    public static string LevelName(EventLevel level) => level switch
    {
        EventLevel.Debug => "DEBUG",
        EventLevel.Log => "LOG",
        EventLevel.Warning => "WARNING",
        EventLevel.Error => "ERROR",
        _ => "FATAL",
    };

    /// <summary>
    /// pgpool's rank for log_min_messages: debug &lt; info &lt; notice &lt; warning &lt; error &lt; log &lt;
    /// fatal &lt; panic (LOG outranks ERROR, as in PostgreSQL's server log).
    /// </summary>
    public static int Rank(EventLevel level) => level switch
    {
        EventLevel.Debug => 0,
        EventLevel.Warning => 3,
        EventLevel.Error => 4,
        EventLevel.Log => 5,
        _ => 6,
    };

    public static int RankOfSetting(string logMinMessages) => logMinMessages.ToLowerInvariant() switch
    {
        "debug5" or "debug4" or "debug3" or "debug2" or "debug1" or "debug" => 0,
        "info" => 1,
        "notice" => 2,
        "warning" => 3,
        "error" => 4,
        "log" => 5,
        "fatal" => 6,
        "panic" => 7,
        _ => 3,
    };

    /// <summary>
    /// Expands log_line_prefix: %t timestamp, %m timestamp with milliseconds, %p pid, %a process
    /// kind (main / child), %d database, %u user, %% percent; then "LEVEL:  message".
    /// </summary>
    public static string Format(string prefix, DateTimeOffset timestamp, EventLevel level, int pid, string message, string? database = null, string? user = null)
    {
        var builder = new StringBuilder(prefix.Length + message.Length + 48);
        var local = timestamp.ToLocalTime();
        for (var i = 0; i < prefix.Length; i++)
        {
            var c = prefix[i];
            if (c != '%' || i + 1 >= prefix.Length)
            {
                builder.Append(c);
                continue;
            }

            switch (prefix[++i])
            {
                case 't': builder.Append(local.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)); break;
                case 'm': builder.Append(local.ToString("yyyy-MM-dd HH:mm:ss.fff", CultureInfo.InvariantCulture)); break;
                case 'p': builder.Append(pid.ToString(CultureInfo.InvariantCulture)); break;
                case 'a': builder.Append(pid == Environment.ProcessId ? "main" : "child"); break;
                case 'd': builder.Append(database ?? ""); break;
                case 'u': builder.Append(user ?? ""); break;
                case '%': builder.Append('%'); break;
                default: builder.Append('%').Append(prefix[i]); break;
            }
        }

        builder.Append(LevelName(level)).Append(":  ").Append(message);
        return builder.ToString();
    }

    /// <summary>Splits "pid 123: text" (how session messages are written) into the pid and the text.</summary>
    public static (int Pid, string Message) SplitPid(string message, int defaultPid)
    {
        if (message.StartsWith("pid ", StringComparison.Ordinal))
        {
            var colon = message.IndexOf(": ", 4, StringComparison.Ordinal);
            if (colon > 4 && int.TryParse(message.AsSpan(4, colon - 4), NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
            {
                return (pid, message[(colon + 2)..]);
            }
        }

        return (defaultPid, message);
    }
}
