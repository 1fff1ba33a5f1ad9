using System.Globalization;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.Api.ControlPlane;

/// <summary>Health check statistics of a node (SHOW POOL_HEALTH_CHECK_STATS).</summary>
public sealed record HealthCheckInfo(
    long TotalCount,
    long SuccessCount,
    long FailCount,
    long SkipCount,
    long RetryCount,
    double AverageRetryCount,
    int MaxRetryCount,
    double MinDurationMs,
    double MaxDurationMs,
    double AverageDurationMs,
    double LastDurationMs,
    DateTimeOffset? LastHealthCheck,
    DateTimeOffset? LastSuccessfulHealthCheck,
    DateTimeOffset? LastSkipHealthCheck,
    DateTimeOffset? LastFailedHealthCheck);

/// <summary>A backend node: pgpool's status code (0 unused, 1 waiting, 2 up, 3 down) and name, role, weight, counters.</summary>
/// <param name="Weight">backend_weight as configured.</param>
/// <param name="LbWeight">The weight normalised over all nodes (SHOW POOL_NODES lb_weight).</param>
/// <param name="Role">main or replica; null while detached.</param>
public sealed record NodeInfo(
    int Id,
    string Host,
    int Port,
    int Status,
    string StatusName,
    string PgStatus,
    double Weight,
    double LbWeight,
    string? Role,
    long SelectCount,
    DateTimeOffset LastStatusChange,
    string? DownReason,
    HealthCheckInfo HealthCheck)
{
    public static NodeInfo From(NodeView view)
    {
        var node = view.Node;
        var h = view.Health;
        return new NodeInfo(
            node.Id,
            node.Host,
            node.Port,
            (int)node.Status,
            node.StatusName,
            view.PgStatus,
            node.Weight,
            Math.Round(view.NormalizedWeight, 6),
            view.Role is { } role ? StatusNames.Of(role) : null,
            view.SelectCount,
            node.LastStatusChange,
            node.DownReason,
            new HealthCheckInfo(h.TotalCount, h.SuccessCount, h.FailCount, h.SkipCount, h.RetryCount, h.AverageRetryCount, h.MaxRetryCount,
                h.MinDurationMs, h.MaxDurationMs, h.AverageDurationMs, h.LastDurationMs,
                h.LastHealthCheck, h.LastSuccessfulHealthCheck, h.LastSkipHealthCheck, h.LastFailedHealthCheck));
    }
}

/// <summary>The outcome of an action that finished (attach, detach, reload).</summary>
public sealed record ActionResponse(string Message, string? Detail, NodeInfo? Node);

/// <summary>An accepted recovery: poll <see cref="Location"/> or follow the hub's recovery stream.</summary>
public sealed record RecoveryAccepted(string JobId, int NodeId, string Location);

public sealed record RecoveryStageInfo(int Number, string Name, RecoveryStageOutcome Outcome, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, double? DurationMs, string Output, string? Error);

/// <summary>An online recovery with per-stage progress, outcome and script output.</summary>
public sealed record RecoveryInfo(string JobId, int NodeId, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, RecoveryOutcome Outcome, string? CurrentStage, string? Error, IReadOnlyList<RecoveryStageInfo> Stages)
{
    public static RecoveryInfo From(RecoveryProgress progress) => new(
        progress.JobId,
        progress.NodeId,
        progress.StartedAt,
        progress.FinishedAt,
        progress.Outcome,
        progress.CurrentStage?.Name,
        progress.Error,
        [.. progress.Stages.Select(s => new RecoveryStageInfo(s.Number, s.Name, s.Outcome, s.StartedAt, s.FinishedAt,
            s.StartedAt is { } start && s.FinishedAt is { } end ? (end - start).TotalMilliseconds : null, s.Output, s.Error))]);
}

public sealed record BackendConnectionInfo(int NodeId, int BackendProcessId, DateTimeOffset ConnectedAt, int ReuseCount, string ServerVersion);

/// <summary>A client session (pgpool's child process) and its pooled backend connections.</summary>
public sealed record SessionInfo(int Id, DateTimeOffset StartedAt, string User, string Database, string ClientAddress, string ApplicationName, string Status, DateTimeOffset LastActivity, IReadOnlyList<BackendConnectionInfo> Backends)
{
    public static SessionInfo From(IProxySession session) => new(
        session.Id,
        session.StartedAt,
        session.User,
        session.Database,
        session.ClientAddress,
        session.ApplicationName,
        ClusterReports.ProcessStatus(session.Activity),
        session.LastActivity,
        [.. session.Backends.Select(b => new BackendConnectionInfo(b.NodeId, b.BackendProcessId, b.ConnectedAt, b.ReuseCount,
            string.Create(CultureInfo.InvariantCulture, $"{b.ServerMajorVersion}.{b.ServerMinorVersion}")))]);
}

public sealed record SessionsResponse(int Count, int BackendConnections, IReadOnlyList<SessionInfo> Sessions);

/// <summary>A log entry; <see cref="Line"/> is the line as pgpool prints it with log_line_prefix.</summary>
public sealed record LogEntryInfo(long Sequence, DateTimeOffset Timestamp, string Level, int Pid, int? NodeId, string Category, string Message, string Line)
{
    public static LogEntryInfo From(LogEntry entry, string prefix) =>
        new(entry.Sequence, entry.Timestamp, entry.LevelName, entry.Pid, entry.NodeId, entry.Category, entry.Message, entry.ToPgpoolLine(prefix));
}

/// <summary>A page of the log, oldest first. Ask for newer entries with after=<see cref="NextAfter"/>, older with before=<see cref="PreviousBefore"/>.</summary>
public sealed record LogPage(IReadOnlyList<LogEntryInfo> Entries, long LastSequence, long NextAfter, long? PreviousBefore);

public sealed record SettingInfo(string Name, string Value, string Source, bool IsSecret, bool IsDefault, bool NeedsRestart, string Description);

/// <summary>The configuration in effect; secret values are "*****".</summary>
public sealed record ConfigResponse(string? ConfigFile, string? PcpFile, IReadOnlyList<SettingInfo> Settings);

/// <summary>What to check: databases (all when empty), tables (all user tables when empty), rows per chunk.</summary>
public sealed record ConsistencyCheckRequest(string[]? Databases, string[]? Tables, int? ChunkRows);

public sealed record ConsistencyCheckAccepted(string CheckId, string Location);

public sealed record TableComparisonInfo(string Database, string Table, bool Identical, string? Difference, IReadOnlyList<TableDigest> Nodes);

public sealed record ConsistencyCheckInfo(string Id, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, ConsistencyCheckState State, bool AllIdentical, int DifferingTables, string? Error, IReadOnlyList<TableComparisonInfo> Tables)
{
    public static ConsistencyCheckInfo From(ConsistencyCheck check) => new(
        check.Id, check.StartedAt, check.FinishedAt, check.State, check.AllIdentical, check.DifferingTables, check.Error,
        [.. check.Tables.Select(t => new TableComparisonInfo(t.Database, t.Table, t.Identical, t.Difference, t.Nodes))]);
}

/// <summary>The kinds of hub stream items: the first is always a snapshot, the rest are changes.</summary>
public enum StreamItemKind
{
    Snapshot,
    Change,
}

/// <summary>Hub stream item: the nodes (all of them, at <see cref="Version"/>).</summary>
public sealed record NodesUpdate(StreamItemKind Kind, long Version, int MainNodeId, IReadOnlyList<NodeInfo> Nodes);

/// <summary>Hub stream item: log entries (the recent ones in the snapshot, then new ones).</summary>
public sealed record LogUpdate(StreamItemKind Kind, IReadOnlyList<LogEntryInfo> Entries);

/// <summary>Hub stream item: the number of client sessions.</summary>
public sealed record SessionCountUpdate(StreamItemKind Kind, int Count);

/// <summary>Hub stream item: recoveries (all known in the snapshot, then the one that changed).</summary>
public sealed record RecoveryUpdate(StreamItemKind Kind, IReadOnlyList<RecoveryInfo> Recoveries);

/// <summary>/health and /health/nodes/{id}.</summary>
public sealed record HealthResponse(string Status, bool Accepting, int UsableNodes, int MainNodeId, IReadOnlyList<NodeHealth> Nodes);

public sealed record NodeHealth(int Id, int Status, string StatusName, string PgStatus, double? LastHealthCheckMs, DateTimeOffset? LastHealthCheck);
