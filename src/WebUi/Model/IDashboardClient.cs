using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.WebUi.Model;

/// <summary>
/// The dashboard's only source of data and its only way to act, as the Aspire dashboard's
/// IDashboardClient: live subscriptions (snapshot, then changes without a gap) over the cluster
/// state store, and the operators' actions through <see cref="IClusterAdministration"/>. The
/// SignalR hub streams the same subscriptions.
/// </summary>
public interface IDashboardClient
{
    /// <summary>The cluster now, then every new snapshot (by version).</summary>
    LiveSubscription<ClusterSnapshot, ClusterSnapshot> SubscribeCluster();

    /// <summary>The newest log entries matching the filter (up to <paramref name="initialCount"/>), then each new one.</summary>
    LiveSubscription<IReadOnlyList<LogEntry>, LogEntry> SubscribeLog(LogFilter filter, int initialCount);

    /// <summary>Recoveries this process knows of (latest first), then every progress change.</summary>
    LiveSubscription<IReadOnlyList<RecoveryProgress>, RecoveryProgress> SubscribeRecoveries();

    /// <summary>Consistency checks (latest first), then every change.</summary>
    LiveSubscription<IReadOnlyList<ConsistencyCheck>, ConsistencyCheck> SubscribeConsistencyChecks();

    /// <summary>The number of client sessions, then each new count.</summary>
    LiveSubscription<int, int> SubscribeSessionCount();

    /// <summary>The sampled history for charts, then each new sample.</summary>
    LiveSubscription<HistorySnapshot, HistorySnapshot> SubscribeHistory();

    /// <summary>Nodes with their counters and health check statistics as of now.</summary>
    IReadOnlyList<NodeView> Nodes(ClusterSnapshot snapshot);

    /// <summary>SHOW POOL_HEALTH_CHECK_STATS rows (20 fields each, node_id first) as of now.</summary>
    IReadOnlyList<string[]> HealthCheckRows(ClusterSnapshot snapshot);

    /// <summary>Client sessions and their backend connections as of now.</summary>
    IReadOnlyList<IProxySession> Sessions();

    /// <summary>The configuration in effect (secrets masked).</summary>
    IReadOnlyList<EffectiveSetting> Configuration();

    /// <summary>Log entries for a download, oldest first.</summary>
    IReadOnlyList<LogEntry> LogEntries(LogFilter filter, int limit);

    /// <summary>log_line_prefix in effect, to print entries as pgpool does.</summary>
    string LogLinePrefix { get; }

    Task<AdminResult> AttachAsync(int nodeId, string user, CancellationToken cancellationToken);

    Task<AdminResult> DetachAsync(int nodeId, bool graceful, string user, CancellationToken cancellationToken);

    Task<(AdminResult Result, string? JobId)> StartRecoveryAsync(int nodeId, string user, CancellationToken cancellationToken);

    Task<AdminResult> ReloadAsync(string user, CancellationToken cancellationToken);

    Task<(AdminResult Result, string? CheckId)> StartConsistencyCheckAsync(ConsistencyRequest request, string user, CancellationToken cancellationToken);
}
