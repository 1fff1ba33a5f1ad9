using System.Globalization;
using System.Text;
using PgPoolConsole.Proxy.Pcp;

namespace PgPoolConsole.Api.Cli;

/// <summary>
/// What the stock pgpool-II 4.3 pcp_* tools print on stdout for each reply, byte for byte
/// (printf formats of pcp_frontend_client.c; -v prints "Title : value" lines padded to the
/// longest title, a blank line after each record). An empty string means "no data": the tools
/// then print "&lt;tool&gt; -- Command Successful".
/// </summary>
internal static class PcpOutput
{
    private static readonly string[] NodeInfoTitles =
    [
        "Hostname", "Port", "Status", "Weight", "Status Name", "Backend Status Name", "Role", "Backend Role",
        "Replication Delay", "Replication State", "Replication Sync State", "Last Status Change",
    ];

    private static readonly string[] HealthCheckTitles =
    [
        "Node Id", "Host Name", "Port", "Status", "Role", "Last Status Change", "Total Count", "Success Count", "Fail Count",
        "Skip Count", "Retry Count", "Average Retry Count", "Max Retry Count", "Max Health Check Duration",
        "Minimum Health Check Duration", "Average Health Check Duration", "Last Health Check", "Last Successful Health Check",
        "Last Skip Health Check", "Last Failed Health Check",
    ];

    private static readonly string[] ProcessInfoTitles =
    [
        "Database", "Username", "Start time", "Client connection count", "Major", "Minor", "Backend connection time",
        "Client connection time", "Client idle duration", "Client disconnection time", "Pool Counter", "Backend PID",
        "Connected", "PID", "Backend ID", "Status",
    ];

    /// <summary>Which wire field (of 17) each printed pcp_proc_info column shows.</summary>
    private static readonly int[] ProcessInfoColumns = [5, 6, 1, 2, 11, 12, 7, 8, 10, 9, 13, 14, 15, 0, 4, 16];

    public static string NodeCount(int count, bool verbose) =>
        verbose ? string.Create(CultureInfo.InvariantCulture, $"Node Count\n____________\n {count}\n") : string.Create(CultureInfo.InvariantCulture, $"{count}\n");

    public static string NodeInfo(IReadOnlyList<PcpNodeInfo> nodes, bool verbose)
    {
        var text = new StringBuilder();
        foreach (var node in nodes)
        {
            string[] values =
            [
                node.Host,
                Number(node.Port),
                Number(node.Status),
                node.Weight.ToString("F6", CultureInfo.InvariantCulture),
                StatusName(node),
                node.PgStatus,
                RoleName(node.Role),
                node.PgRole,
                node.ReplicationDelay.ToString(CultureInfo.InvariantCulture),
                NoneIfEmpty(node.ReplicationState),
                NoneIfEmpty(node.ReplicationSyncState),
                LocalTime(node.StatusChangeTime),
            ];
            Append(text, NodeInfoTitles, values, verbose);
        }

        return text.ToString();
    }

    public static string HealthCheckStats(IReadOnlyList<string> fields, bool verbose)
    {
        var text = new StringBuilder();
        Append(text, HealthCheckTitles, fields, verbose);
        return text.ToString();
    }

    public static string ProcessCount(IReadOnlyList<int> pids, bool verbose)
    {
        if (pids.Count == 0)
        {
            return "";
        }

        var text = new StringBuilder();
        if (verbose)
        {
            text.Append("No \t | \t PID\n_____________________\n");
            for (var i = 0; i < pids.Count; i++)
            {
                text.Append(CultureInfo.InvariantCulture, $"{i} \t | \t {pids[i]}\n");
            }

            text.Append(CultureInfo.InvariantCulture, $"\nTotal Processes:{pids.Count}\n");
        }
        else
        {
            foreach (var pid in pids)
            {
                text.Append(CultureInfo.InvariantCulture, $"{pid} ");
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    /// <summary>Without <paramref name="all"/>, rows without a database (idle pgpool children) are left out.</summary>
    public static string ProcessInfo(IReadOnlyList<PcpProcessInfo> rows, bool all, bool verbose)
    {
        if (rows.Count == 0)
        {
            return "";
        }

        var text = new StringBuilder();
        foreach (var row in rows)
        {
            var values = ProcessInfoColumns.Select(i => row.Fields[i]).ToArray();
            if (all || values[0].Length > 0)
            {
                Append(text, ProcessInfoTitles, values, verbose);
            }
        }

        return text.Length > 0 ? text.ToString() : "No process information available\n";
    }

    public static string PoolStatus(IReadOnlyList<PcpConfigItem> items, bool verbose)
    {
        var text = new StringBuilder();
        for (var i = 0; i < items.Count; i++)
        {
            var item = items[i];
            text.Append(verbose
                ? string.Create(CultureInfo.InvariantCulture, $"Name [{i,3}]:\t{item.Name}\nValue:      \t{item.Value}\nDescription:\t{item.Description}\n\n")
                : $"name : {item.Name}\nvalue: {item.Value}\ndesc : {item.Description}\n\n");
        }

        return text.ToString();
    }

    /// <summary>One record: the values separated by spaces, or with -v one padded "Title : value" line each and a blank line.</summary>
    private static void Append(StringBuilder text, IReadOnlyList<string> titles, IReadOnlyList<string> values, bool verbose)
    {
        if (!verbose)
        {
            text.AppendJoin(' ', values).Append('\n');
            return;
        }

        var width = titles.Max(t => t.Length);
        for (var i = 0; i < titles.Count; i++)
        {
            text.Append(titles[i].PadRight(width)).Append(" : ").Append(i < values.Count ? values[i] : "").Append('\n');
        }

        text.Append('\n');
    }

    /// <summary>backend_status_to_string: "quarantine" for a down node in quarantine.</summary>
    private static string StatusName(PcpNodeInfo node) => node.Status switch
    {
        0 => "unused",
        1 => "waiting",
        2 => "up",
        3 => node.Quarantine ? "quarantine" : "down",
        _ => "unknown",
    };

    private static string RoleName(int role) => role switch
    {
        0 => "main",
        1 => "replica",
        2 => "primary",
        3 => "standby",
        _ => "unknown",
    };

    private static string NoneIfEmpty(string value) => value.Length == 0 ? "none" : value;

    /// <summary>strftime("%F %T") of the epoch seconds in the local time zone.</summary>
    private static string LocalTime(long epochSeconds) =>
        DateTimeOffset.FromUnixTimeSeconds(epochSeconds).ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);
}
