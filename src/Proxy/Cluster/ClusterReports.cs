using System.Globalization;

namespace PgPoolConsole.Proxy.Cluster;

/// <summary>
/// The rows pgpool reports about nodes, health checks and sessions, formatted as pgpool prints
/// them. One source for SHOW POOL_* (SQL) and the pcp_* replies, so both always agree.
/// </summary>
public static class ClusterReports
{
    /// <summary>"yyyy-MM-dd HH:mm:ss" in local time, as pgpool prints times; empty when unknown.</summary>
    public static string FormatTime(DateTimeOffset? time) =>
        time is null || time.Value == default ? "" : time.Value.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    /// <summary>Whether PostgreSQL itself answers, as the last health check (or, for a detached node, its last probe) found (pg_status).</summary>
    public static string PgStatus(ClusterStateStore store, NodeState node)
    {
        var health = store.Statistics(node.Id).Health;
        if (!node.IsUsable && health.AnswersWhileDetached is { } answers && health.LastSkipHealthCheck > node.LastStatusChange)
        {
            return answers ? "up" : "down";
        }

        if (health.LastHealthCheck is null)
        {
            return node.IsUsable ? "up" : "unknown";
        }

        // A node attached after its last failed check was just proven to answer (attach probes it).
        var failedLast = health.LastFailedHealthCheck == health.LastHealthCheck
            && !(node.IsUsable && node.LastStatusChange > health.LastHealthCheck);
        return failedLast ? "down" : "up";
    }

    /// <summary>pcp_proc_info / SHOW POOL_POOLS status text of a session.</summary>
    public static string ProcessStatus(SessionActivity activity) => activity switch
    {
        SessionActivity.Active => "Execute command",
        SessionActivity.IdleInTransaction => "Idle in transaction",
        SessionActivity.Startup => "Wait for connection",
        _ => "Idle",
    };

    /// <summary>The 20 fields of SHOW POOL_HEALTH_CHECK_STATS / pcp_health_check_stats, node_id first.</summary>
    public static string[] HealthCheckRow(ClusterStateStore store, ClusterSnapshot snapshot, NodeState node)
    {
        var h = store.Statistics(node.Id).Health;
        return
        [
            Number(node.Id),
            node.Host,
            Number(node.Port),
            node.StatusName,
            StatusNames.Of(snapshot.RoleOf(node.Id)),
            FormatTime(node.LastStatusChange),
            Number(h.TotalCount),
            Number(h.SuccessCount),
            Number(h.FailCount),
            Number(h.SkipCount),
            Number(h.RetryCount),
            h.AverageRetryCount.ToString("F6", CultureInfo.InvariantCulture),
            Number(h.MaxRetryCount),
            Number((long)h.MaxDurationMs),
            Number((long)h.MinDurationMs),
            h.AverageDurationMs.ToString("F6", CultureInfo.InvariantCulture),
            FormatTime(h.LastHealthCheck),
            FormatTime(h.LastSuccessfulHealthCheck),
            FormatTime(h.LastSkipHealthCheck),
            FormatTime(h.LastFailedHealthCheck),
        ];
    }

    /// <summary>
    /// The 17 fields of SHOW POOL_POOLS / pcp_proc_info for one backend connection of a session
    /// (a session stands in for pgpool's child process; its id for the pid).
    /// </summary>
    public static string[] PoolRow(IProxySession session, SessionBackendInfo? backend, DateTimeOffset now) =>
    [
        Number(session.Id),
        FormatTime(session.StartedAt),
        "1",
        "0",
        Number(backend?.NodeId ?? 0),
        session.Database,
        session.User,
        backend is null ? "" : FormatTime(backend.ConnectedAt),
        FormatTime(session.StartedAt),
        "",
        session.Activity == SessionActivity.Idle ? Number((long)(now - session.LastActivity).TotalSeconds) : "0",
        Number(backend?.ServerMajorVersion ?? 0),
        Number(backend?.ServerMinorVersion ?? 0),
        Number(backend?.ReuseCount ?? 0),
        Number(backend?.BackendProcessId ?? 0),
        backend is null ? "0" : "1",
        ProcessStatus(session.Activity),
    ];

    /// <summary>Pool rows of every session (one per backend connection; one for a session that has none).</summary>
    public static List<string[]> PoolRows(IEnumerable<IProxySession> sessions, DateTimeOffset now)
    {
        var rows = new List<string[]>();
        foreach (var session in sessions)
        {
            var backends = session.Backends;
            if (backends.Count == 0)
            {
                rows.Add(PoolRow(session, null, now));
            }

            foreach (var backend in backends)
            {
                rows.Add(PoolRow(session, backend, now));
            }
        }

        return rows;
    }

    public static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);
}
