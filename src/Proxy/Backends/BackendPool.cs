using System.Diagnostics;
using Microsoft.Extensions.Logging;

namespace PgPoolConsole.Proxy.Backends;

/// <summary>
/// Idle backend connections, kept per node and per pool key (user, database and the other
/// startup parameters), most recently used first. pgpool keeps max_pool connection sets in each
/// of num_init_children processes; the equivalent here is at most num_init_children idle
/// connections per node and key, and num_init_children x max_pool per node in total.
/// </summary>
public sealed partial class BackendPool : IAsyncDisposable
{
    /// <summary>How long connections to a database closed for DROP DATABASE and the like are not pooled again.</summary>
    private static readonly TimeSpan DatabaseClosingTime = TimeSpan.FromSeconds(10);

    private readonly object _gate = new();
    private readonly Dictionary<(int NodeId, string Key), Stack<BackendConnection>> _idle = [];
    private readonly Dictionary<string, long> _closingDatabases = new(StringComparer.Ordinal);
    private readonly LinkedList<(int NodeId, string Key, BackendConnection Connection)> _lru = new();
    private readonly int _maxIdlePerKey;
    private readonly int _maxIdlePerNode;
    private readonly TimeSpan _connectionLifeTime;
    private readonly ILogger _logger;
    private readonly Timer? _reaper;
    private bool _disposed;

    public BackendPool(int maxIdlePerKey, int maxIdlePerNode, TimeSpan connectionLifeTime, ILogger logger)
    {
        _maxIdlePerKey = Math.Max(0, maxIdlePerKey);
        _maxIdlePerNode = Math.Max(0, maxIdlePerNode);
        _connectionLifeTime = connectionLifeTime;
        _logger = logger;
        if (connectionLifeTime > TimeSpan.Zero)
        {
            var period = TimeSpan.FromSeconds(Math.Clamp(connectionLifeTime.TotalSeconds / 4, 1, 30));
            _reaper = new Timer(_ => ReapExpired(), null, period, period);
        }
    }

    public int IdleCount
    {
        get
        {
            lock (_gate)
            {
                return _lru.Count;
            }
        }
    }

    /// <summary>Takes an idle connection for the node and key, or null.</summary>
    public BackendConnection? TryTake(int nodeId, string key)
    {
        while (true)
        {
            BackendConnection connection;
            lock (_gate)
            {
                if (!_idle.TryGetValue((nodeId, key), out var stack) || stack.Count == 0)
                {
                    return null;
                }

                connection = stack.Pop();
                RemoveFromLru(connection);
            }

            if (connection.LooksAlive() && !IsExpired(connection))
            {
                connection.ReuseCount++;
                return connection;
            }

            LogDiscarded(_logger, connection.NodeId, connection.ProcessId);
            _ = connection.DisposeAsync().AsTask();
        }
    }

    /// <summary>Keeps a clean idle connection for reuse, or closes it when the pool is full.</summary>
    public ValueTask ReturnAsync(BackendConnection connection, string key)
    {
        if (connection.IsBroken || connection.TransactionStatus != 'I' || IsExpired(connection))
        {
            return connection.DisposeAsync();
        }

        BackendConnection? evicted = null;
        lock (_gate)
        {
            if (_disposed || _maxIdlePerKey == 0 || IsClosing(connection.Database))
            {
                return connection.DisposeAsync();
            }

            if (!_idle.TryGetValue((connection.NodeId, key), out var stack))
            {
                stack = new Stack<BackendConnection>();
                _idle[(connection.NodeId, key)] = stack;
            }

            if (stack.Count >= _maxIdlePerKey)
            {
                return connection.DisposeAsync();
            }

            connection.LastUsedAt = Stopwatch.GetTimestamp();
            stack.Push(connection);
            _lru.AddFirst((connection.NodeId, key, connection));
            if (CountForNode(connection.NodeId) > _maxIdlePerNode)
            {
                evicted = EvictOldest(connection.NodeId);
            }
        }

        return evicted is null ? ValueTask.CompletedTask : evicted.DisposeAsync();
    }

    /// <summary>Closes every idle connection to a node (it failed or was detached, or it has no connection slot left).</summary>
    /// <returns>How many connections were closed.</returns>
    public async Task<int> DropNodeAsync(int nodeId)
    {
        var victims = TakeAll(c => c.NodeId == nodeId);
        foreach (var victim in victims)
        {
            victim.Break();
            await victim.DisposeAsync();
        }

        return victims.Count;
    }

    /// <summary>
    /// Closes every idle connection to a database on every node, so that DROP DATABASE and the
    /// like do not find the pool's sessions in it (pgpool-II closes its idle connections too).
    /// PostgreSQL waits up to five seconds for closed sessions to end, so no wait is needed here.
    /// </summary>
    /// <remarks>
    /// A client that has just left may still be handing its connections back (its reset query
    /// running on one node): for a few seconds, connections to the database coming back are
    /// closed instead of pooled.
    /// </remarks>
    /// <returns>How many connections were closed.</returns>
    public async Task<int> CloseDatabaseAsync(string database)
    {
        lock (_gate)
        {
            _closingDatabases[database] = Stopwatch.GetTimestamp();
        }

        var victims = TakeAll(c => c.Database == database);
        foreach (var victim in victims)
        {
            await victim.DisposeAsync();
        }

        return victims.Count;
    }

    private List<BackendConnection> TakeAll(Func<BackendConnection, bool> match)
    {
        var victims = new List<BackendConnection>();
        lock (_gate)
        {
            foreach (var stack in _idle.Values)
            {
                if (!stack.Any(match))
                {
                    continue;
                }

                var kept = stack.Reverse().Where(c => !match(c)).ToArray();
                victims.AddRange(stack.Where(match));
                stack.Clear();
                foreach (var connection in kept)
                {
                    stack.Push(connection);
                }
            }

            for (var item = _lru.First; item is not null;)
            {
                var next = item.Next;
                if (match(item.Value.Connection))
                {
                    _lru.Remove(item);
                }

                item = next;
            }
        }

        return victims;
    }

    /// <summary>A point-in-time list of idle connections (node, key, backend pid, age).</summary>
    public IReadOnlyList<(int NodeId, string Key, int ProcessId, DateTimeOffset ConnectedAt, int ReuseCount)> Snapshot()
    {
        lock (_gate)
        {
            return [.. _lru.Select(e => (e.NodeId, e.Key, e.Connection.ProcessId, e.Connection.ConnectedAtUtc, e.Connection.ReuseCount))];
        }
    }

    // Under _gate.
    private bool IsClosing(string database)
    {
        if (_closingDatabases.Count == 0 || !_closingDatabases.TryGetValue(database, out var since))
        {
            return false;
        }

        if (Stopwatch.GetElapsedTime(since) < DatabaseClosingTime)
        {
            return true;
        }

        _closingDatabases.Remove(database);
        return false;
    }

    private bool IsExpired(BackendConnection connection) =>
        _connectionLifeTime > TimeSpan.Zero && Stopwatch.GetElapsedTime(connection.LastUsedAt) > _connectionLifeTime;

    private int CountForNode(int nodeId)
    {
        var count = 0;
        foreach (var entry in _lru)
        {
            if (entry.NodeId == nodeId)
            {
                count++;
            }
        }

        return count;
    }

    private BackendConnection? EvictOldest(int nodeId)
    {
        for (var item = _lru.Last; item is not null; item = item.Previous)
        {
            if (item.Value.NodeId != nodeId)
            {
                continue;
            }

            _lru.Remove(item);
            var stack = _idle[(item.Value.NodeId, item.Value.Key)];
            var kept = stack.Where(c => c != item.Value.Connection).Reverse().ToArray();
            stack.Clear();
            foreach (var connection in kept)
            {
                stack.Push(connection);
            }

            return item.Value.Connection;
        }

        return null;
    }

    private void RemoveFromLru(BackendConnection connection)
    {
        for (var item = _lru.First; item is not null; item = item.Next)
        {
            if (item.Value.Connection == connection)
            {
                _lru.Remove(item);
                return;
            }
        }
    }

    private void ReapExpired()
    {
        var victims = new List<BackendConnection>();
        lock (_gate)
        {
            foreach (var stack in _idle.Values)
            {
                var kept = stack.Reverse().Where(c => !IsExpired(c)).ToArray();
                if (kept.Length == stack.Count)
                {
                    continue;
                }

                victims.AddRange(stack.Where(IsExpired));
                stack.Clear();
                foreach (var connection in kept)
                {
                    stack.Push(connection);
                }
            }

            foreach (var victim in victims)
            {
                RemoveFromLru(victim);
            }
        }

        foreach (var victim in victims)
        {
            LogExpired(_logger, victim.NodeId, victim.ProcessId);
            _ = victim.DisposeAsync().AsTask();
        }
    }

    public async ValueTask DisposeAsync()
    {
        List<BackendConnection> all;
        lock (_gate)
        {
            _disposed = true;
            all = [.. _lru.Select(e => e.Connection)];
            _lru.Clear();
            _idle.Clear();
        }

        if (_reaper is not null)
        {
            await _reaper.DisposeAsync();
        }

        foreach (var connection in all)
        {
            await connection.DisposeAsync();
        }
    }

    [LoggerMessage(EventId = 2001, Level = LogLevel.Debug, Message = "discarding pooled connection to node {NodeId} (backend pid {ProcessId}): closed by the server")]
    private static partial void LogDiscarded(ILogger logger, int nodeId, int processId);

    [LoggerMessage(EventId = 2002, Level = LogLevel.Debug, Message = "closing pooled connection to node {NodeId} (backend pid {ProcessId}): connection_life_time reached")]
    private static partial void LogExpired(ILogger logger, int nodeId, int processId);
}
