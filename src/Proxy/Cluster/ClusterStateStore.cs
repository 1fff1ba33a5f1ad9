using System.Collections.Immutable;

namespace PgPoolConsole.Proxy.Cluster;

/// <summary>
/// The one place that holds the cluster's state. The proxy writes it; the REST API, the SignalR
/// hub, the dashboard and the PCP port read it. Node status lives in immutable
/// <see cref="ClusterSnapshot"/>s swapped atomically; counters, sessions, the event log and
/// recovery progress are thread-safe holders reachable from here.
/// </summary>
public sealed class ClusterStateStore
{
    private readonly object _updateGate = new();
    private ClusterSnapshot _current;
    private ImmutableDictionary<int, NodeStatistics> _statistics;
    private TaskCompletionSource _nextChange = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ClusterStateStore(IEnumerable<NodeState> nodes, TimeProvider timeProvider, int logCapacity = 5000)
    {
        TimeProvider = timeProvider;
        var list = nodes.OrderBy(n => n.Id).ToImmutableArray();
        _current = new ClusterSnapshot { Version = 1, Nodes = list };
        _statistics = list.ToImmutableDictionary(n => n.Id, _ => new NodeStatistics());
        Log = new EventLog(logCapacity, timeProvider);
        StartedAt = timeProvider.GetUtcNow();
    }

    public TimeProvider TimeProvider { get; }

    public DateTimeOffset StartedAt { get; }

    /// <summary>The current snapshot (a volatile read; never null).</summary>
    public ClusterSnapshot Current => Volatile.Read(ref _current);

    /// <summary>Every new snapshot, in order.</summary>
    public ChangeFeed<ClusterSnapshot> Changes { get; } = new(256);

    /// <summary>Completes at the next applied change (cheap to await for many waiters, unlike a subscription each).</summary>
    public Task NextChange => Volatile.Read(ref _nextChange).Task;

    public SessionRegistry Sessions { get; } = new();

    public EventLog Log { get; }

    public RecoveryProgressHolder Recovery { get; } = new();

    public ConsistencyCheckHolder ConsistencyChecks { get; } = new();

    private long _writes;

    /// <summary>
    /// Writes replicated through the proxy since start (statements and transaction ends, counted once
    /// visible): an attach compares it before and after checking a node, and with the count when
    /// the node was detached (<see cref="NodeState.WritesWhenDetached"/>).
    /// </summary>
    public long WriteCount => Interlocked.Read(ref _writes);

    public void CountWrite() => Interlocked.Increment(ref _writes);

    /// <summary>Counters of one node (select/insert/... counts, health checks).</summary>
    public NodeStatistics Statistics(int nodeId)
    {
        if (_statistics.TryGetValue(nodeId, out var stats))
        {
            return stats;
        }

        lock (_updateGate)
        {
            if (!_statistics.TryGetValue(nodeId, out stats))
            {
                stats = new NodeStatistics();
                _statistics = _statistics.Add(nodeId, stats);
            }

            return stats;
        }
    }

    /// <summary>
    /// Applies <paramref name="change"/> to the current snapshot under the store's lock (changes
    /// are rare; readers never lock). Returns the new snapshot, or null when change returned null
    /// (nothing to do). Subscribers see every applied change in order.
    /// </summary>
    public ClusterSnapshot? Update(Func<ClusterSnapshot, ClusterSnapshot?> change)
    {
        ClusterSnapshot next;
        lock (_updateGate)
        {
            var updated = change(_current);
            if (updated is null || ReferenceEquals(updated, _current))
            {
                return null;
            }

            next = updated with { Version = _current.Version + 1 };
            Volatile.Write(ref _current, next);
            Changes.Publish(next);
            Interlocked.Exchange(ref _nextChange, new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).TrySetResult();
        }

        return next;
    }

    /// <summary>Sets one node's status (and its change time) if it differs, and, with <paramref name="onlyFrom"/>, only if it is that now.</summary>
    public ClusterSnapshot? SetStatus(int nodeId, NodeStatus status, string? reason = null, NodeStatus? onlyFrom = null)
    {
        var now = TimeProvider.GetUtcNow();
        return Update(snapshot =>
        {
            var node = snapshot.Find(nodeId);
            if (node is null || node.Status == status || (onlyFrom is { } expected && node.Status != expected))
            {
                return null;
            }

            return snapshot.WithNode(node with
            {
                Status = status,
                LastStatusChange = now,
                DownReason = status == NodeStatus.Down ? reason : null,
                WritesWhenDetached = status == NodeStatus.Down ? WriteCount : node.WritesWhenDetached,
            });
        });
    }
}
