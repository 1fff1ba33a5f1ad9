using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.WebUi.Model;

/// <summary>
/// <see cref="IDashboardClient"/> over the in-process cluster state store. Every action goes to
/// <see cref="IClusterAdministration"/> (the implementation PCP uses too) and is logged with the
/// user who asked for it; the REST API acts through this client as well.
/// </summary>
public sealed partial class DashboardClient(
    ClusterStateStore store,
    OptionsHolder options,
    IClusterAdministration administration,
    ClusterHistory history,
    ILogger<DashboardClient> logger) : IDashboardClient
{
    public LiveSubscription<ClusterSnapshot, ClusterSnapshot> SubscribeCluster() =>
        Versioned(store.Changes, () => store.Current, snapshot => snapshot.Version);

    public LiveSubscription<IReadOnlyList<LogEntry>, LogEntry> SubscribeLog(LogFilter filter, int initialCount)
    {
        var subscription = store.Log.Entries.Subscribe();
        var initial = store.Log.Query(0, filter.MinimumLevel, filter.NodeId, NullIfEmpty(filter.Text), Math.Max(0, initialCount));
        var last = initial.Count > 0 ? initial[^1].Sequence : store.Log.LastSequence;
        return new(subscription, subscription.Reader, initial, entry =>
        {
            if (entry.Sequence <= last)
            {
                return false;
            }

            last = entry.Sequence;
            return filter.Matches(entry);
        });
    }

    public LiveSubscription<IReadOnlyList<RecoveryProgress>, RecoveryProgress> SubscribeRecoveries()
    {
        // Progress values are whole states keyed by job id: applying one twice is harmless.
        var subscription = store.Recovery.Changes.Subscribe();
        return new(subscription, subscription.Reader, store.Recovery.All, _ => true);
    }

    public LiveSubscription<IReadOnlyList<ConsistencyCheck>, ConsistencyCheck> SubscribeConsistencyChecks()
    {
        var subscription = store.ConsistencyChecks.Changes.Subscribe();
        return new(subscription, subscription.Reader, store.ConsistencyChecks.All, _ => true);
    }

    public LiveSubscription<int, int> SubscribeSessionCount()
    {
        var subscription = store.Sessions.CountChanges.Subscribe();
        return new(subscription, subscription.Reader, store.Sessions.Count, _ => true);
    }

    public LiveSubscription<HistorySnapshot, HistorySnapshot> SubscribeHistory() =>
        Versioned(history.Changes, () => history.Current, snapshot => snapshot.Version);

    public IReadOnlyList<NodeView> Nodes(ClusterSnapshot snapshot) => NodeView.AllOf(store, snapshot);

    public IReadOnlyList<string[]> HealthCheckRows(ClusterSnapshot snapshot) =>
        [.. snapshot.Nodes.Select(node => ClusterReports.HealthCheckRow(store, snapshot, node))];

    public IReadOnlyList<IProxySession> Sessions() => store.Sessions.List();

    public IReadOnlyList<EffectiveSetting> Configuration() => options.Current.Effective;

    public IReadOnlyList<LogEntry> LogEntries(LogFilter filter, int limit) =>
        store.Log.Query(0, filter.MinimumLevel, filter.NodeId, NullIfEmpty(filter.Text), limit);

    public string LogLinePrefix => options.Current.LogLinePrefix;

    public Task<AdminResult> AttachAsync(int nodeId, string user, CancellationToken cancellationToken) =>
        Audited($"attach of node {nodeId}", user, () => administration.AttachAsync(nodeId, cancellationToken));

    public Task<AdminResult> DetachAsync(int nodeId, bool graceful, string user, CancellationToken cancellationToken) =>
        Audited($"{(graceful ? "graceful " : "")}detach of node {nodeId}", user, () => administration.DetachAsync(nodeId, graceful, cancellationToken));

    public async Task<(AdminResult Result, string? JobId)> StartRecoveryAsync(int nodeId, string user, CancellationToken cancellationToken)
    {
        LogRequested(logger, user, $"recovery of node {nodeId}");
        var (result, jobId) = await administration.StartRecoveryAsync(nodeId, cancellationToken);
        LogOutcome(logger, user, $"recovery of node {nodeId}", result.Message);
        return (result, jobId);
    }

    public Task<AdminResult> ReloadAsync(string user, CancellationToken cancellationToken) =>
        Audited("reload", user, () => administration.ReloadAsync(cancellationToken));

    public async Task<(AdminResult Result, string? CheckId)> StartConsistencyCheckAsync(ConsistencyRequest request, string user, CancellationToken cancellationToken)
    {
        LogRequested(logger, user, "consistency check");
        var (result, checkId) = await administration.StartConsistencyCheckAsync(request, cancellationToken);
        LogOutcome(logger, user, "consistency check", result.Message);
        return (result, checkId);
    }

    private async Task<AdminResult> Audited(string action, string user, Func<Task<AdminResult>> run)
    {
        LogRequested(logger, user, action);
        var result = await run();
        LogOutcome(logger, user, action, result.Message);
        return result;
    }

    /// <summary>Subscribes, then reads the current value; later values count only with a higher version.</summary>
    private static LiveSubscription<T, T> Versioned<T>(ChangeFeed<T> feed, Func<T> current, Func<T, long> versionOf)
    {
        var subscription = feed.Subscribe();
        var snapshot = current();
        var version = versionOf(snapshot);
        return new(subscription, subscription.Reader, snapshot, next =>
        {
            if (versionOf(next) <= version)
            {
                return false;
            }

            version = versionOf(next);
            return true;
        });
    }

    private static string? NullIfEmpty(string? text) => string.IsNullOrEmpty(text) ? null : text;

    [LoggerMessage(EventId = 6101, Level = LogLevel.Information, Message = "control plane: user \"{User}\" requested {Action}")]
    private static partial void LogRequested(ILogger logger, string user, string action);

    [LoggerMessage(EventId = 6102, Level = LogLevel.Information, Message = "control plane: {Action} requested by \"{User}\": {Outcome}")]
    private static partial void LogOutcome(ILogger logger, string user, string action, string outcome);
}
