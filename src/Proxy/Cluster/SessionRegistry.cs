using System.Collections.Concurrent;

namespace PgPoolConsole.Proxy.Cluster;

/// <summary>What a client session is doing, as pgpool reports it in pcp_proc_info.</summary>
public enum SessionActivity
{
    Startup,
    Idle,
    Active,
    IdleInTransaction,
}

/// <summary>One backend connection of a session (a row of SHOW POOL_POOLS / pcp_proc_info).</summary>
public sealed record SessionBackendInfo(int NodeId, int BackendProcessId, DateTimeOffset ConnectedAt, int ReuseCount, int ServerMajorVersion, int ServerMinorVersion);

/// <summary>The read-only face of a client session that the control plane and PCP may see and act on.</summary>
public interface IProxySession
{
    /// <summary>Session id; stands in for pgpool's child process id (pool_pid).</summary>
    int Id { get; }

    DateTimeOffset StartedAt { get; }

    string User { get; }

    string Database { get; }

    string ClientAddress { get; }

    string ApplicationName { get; }

    SessionActivity Activity { get; }

    DateTimeOffset LastActivity { get; }

    IReadOnlyList<SessionBackendInfo> Backends { get; }

    /// <summary>Asks every backend of the session to cancel the running statement.</summary>
    Task CancelAsync(CancellationToken cancellationToken);
}

/// <summary>All live client sessions, by id.</summary>
public sealed class SessionRegistry
{
    private readonly ConcurrentDictionary<int, IProxySession> _sessions = new();

    // Sessions start and end on many threads at once; counting and publishing under one lock
    // keeps the published counts in order, so the last count a subscriber sees is the real one.
    private readonly object _countGate = new();
    private int _nextId = Random.Shared.Next(10000, 30000);

    public int Count => _sessions.Count;

    /// <summary>Session count changes (a new value each time a session starts or ends).</summary>
    public ChangeFeed<int> CountChanges { get; } = new(64);

    /// <summary>Allocates a session id (unique among live sessions, like a pid).</summary>
    public int NextId()
    {
        while (true)
        {
            var id = Interlocked.Increment(ref _nextId);
            if (id <= 0)
            {
                Interlocked.Exchange(ref _nextId, 10000);
                continue;
            }

            if (!_sessions.ContainsKey(id))
            {
                return id;
            }
        }
    }

    public void Add(IProxySession session)
    {
        lock (_countGate)
        {
            _sessions[session.Id] = session;
            CountChanges.Publish(_sessions.Count);
        }
    }

    public void Remove(IProxySession session)
    {
        lock (_countGate)
        {
            if (_sessions.TryRemove(new KeyValuePair<int, IProxySession>(session.Id, session)))
            {
                CountChanges.Publish(_sessions.Count);
            }
        }
    }

    public IProxySession? Find(int id) => _sessions.TryGetValue(id, out var session) ? session : null;

    /// <summary>A point-in-time list ordered by id.</summary>
    public IReadOnlyList<IProxySession> List() => [.. _sessions.Values.OrderBy(s => s.Id)];
}
