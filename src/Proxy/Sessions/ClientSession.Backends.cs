using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>An internal query (reset, SET, lock) failed on a backend.</summary>
public sealed class InternalQueryException(int nodeId, string sql, PgErrorFields error) : Exception($"internal query \"{sql}\" failed on node {nodeId}: {error.Message}")
{
    public int NodeId { get; } = nodeId;

    public PgErrorFields Error { get; } = error;
}

/// <summary>A backend connection failed while the session used it.</summary>
internal sealed class BackendLostException(int nodeId, string reason, Exception? inner) : Exception(reason, inner)
{
    public int NodeId { get; } = nodeId;
}

public sealed partial class ClientSession
{
    /// <summary>The session's main node: its lowest-numbered live backend.</summary>
    private BackendConnection? MainBackend
    {
        get
        {
            foreach (var backend in _backends)
            {
                if (backend is not null)
                {
                    return backend;
                }
            }

            return null;
        }
    }

    /// <summary>This session's connection to a node, or null when it has none.</summary>
    private BackendConnection? BackendOf(int nodeId) => (uint)nodeId < (uint)_backends.Length ? _backends[nodeId] : null;

    private int LiveBackendCount
    {
        get
        {
            var count = 0;
            foreach (var backend in _backends)
            {
                if (backend is not null)
                {
                    count++;
                }
            }

            return count;
        }
    }

    /// <summary>Live backends in node order (main first).</summary>
    private List<BackendConnection> LiveBackends()
    {
        var list = new List<BackendConnection>(_backends.Length);
        foreach (var backend in _backends)
        {
            if (backend is not null)
            {
                list.Add(backend);
            }
        }

        return list;
    }

    /// <summary>
    /// Drops connections to nodes the cluster has detached since the last look. Cheap when
    /// nothing changed (one version comparison).
    /// </summary>
    private async ValueTask SyncWithClusterAsync(CancellationToken cancellationToken)
    {
        var snapshot = _context.Store.Current;
        if (snapshot.Version == _seenClusterVersion)
        {
            return;
        }

        _seenClusterVersion = snapshot.Version;
        foreach (var backend in _backends)
        {
            if (backend is not null && snapshot.Find(backend.NodeId)?.IsUsable != true)
            {
                await DropBackendAsync(backend.NodeId);
            }
        }

        if (_transactionStatus == 'I' && !_batch.SentAny)
        {
            foreach (var node in snapshot.Nodes)
            {
                if (node.IsUsable && BackendOf(node.Id) is null)
                {
                    await JoinAtBoundaryAsync(node, cancellationToken);
                }
            }
        }

        if (BackendOf(_loadBalanceNodeId) is null)
        {
            ChooseLoadBalanceNode();
        }

        if (LiveBackendCount == 0)
        {
            throw new SessionTerminatedException("57P03", "all backend nodes of this session are down");
        }
    }

    /// <summary>
    /// A node that became usable after this session connected, and that no pause joined it to (the
    /// session started while that pause was on): joined before the session's next transaction, so
    /// its writes reach every attached node.
    /// </summary>
    private async Task JoinAtBoundaryAsync(NodeState node, CancellationToken cancellationToken)
    {
        try
        {
            await JoinNodeAsync(node, cancellationToken);
        }
        catch (SessionStateNotReplayableException e)
        {
            throw new SessionTerminatedException("57P01", $"terminating connection: node {node.Id} joined the cluster and {e.Message}, which cannot be copied to it");
        }
        catch (Exception e) when (e is BackendUnavailableException or BackendRejectedException)
        {
            LogNodeUnreachable(_logger, Id, node.Id, e.Message);
            if (!await _context.Failover.ReportBackendFailureAsync(node.Id, e.Message, cancellationToken))
            {
                // The node stays attached: this session cannot promise that its writes reach it.
                throw new SessionTerminatedException("08006", $"cannot connect to backend node {node.Id}", e.Message);
            }
        }
    }

    /// <summary>Removes a node from this session and closes its connection.</summary>
    private async ValueTask DropBackendAsync(int nodeId)
    {
        var backends = _backends;
        if (nodeId >= backends.Length || backends[nodeId] is not { } backend)
        {
            return;
        }

        var copy = (BackendConnection?[])backends.Clone();
        copy[nodeId] = null;
        Volatile.Write(ref _backends, copy);
        backend.Break();
        await backend.DisposeAsync();
        if (_loadBalanceNodeId == nodeId)
        {
            ChooseLoadBalanceNode();
        }
    }

    /// <summary>
    /// A backend failed under this session. The node is reported for failover; if it stays
    /// attached the session can no longer keep it in step and must end.
    /// </summary>
    /// <param name="answer">What the node had answered before it was lost, if known.</param>
    private async Task HandleBackendLostAsync(int nodeId, Exception cause, CancellationToken cancellationToken, NodeResult? answer = null)
    {
        // A failover closes the sessions' connections to the node it detaches (Break); say that
        // rather than "disposed object", "operation canceled" or "closed the connection".
        var closedByProxy = BackendOf(nodeId)?.IsBroken == true || IsClosedByProxy(cause);
        await DropBackendAsync(nodeId);
        var alreadyDetached = _context.Store.Current.Find(nodeId)?.IsUsable != true;

        // A node that ends a session says why first (pg_terminate_backend, idle_in_transaction_session_timeout);
        // answered so before any statement completed, its transaction ended there without committing.
        var fatal = answer?.FirstError is { IsFatal: true } error ? error : null;
        var endedWithoutCommit = fatal is not null && !answer!.Outcomes.Any(o => o.Kind == 'C');
        var detail = alreadyDetached && closedByProxy
            ? $"closed by the proxy: node {nodeId} is detached"
            : fatal is not null ? $"{cause.Message.TrimEnd('.')} after FATAL: {fatal.Message}" : cause.Message;
        var reason = $"connection to backend node {nodeId} was lost: {detail}";
        LogBackendLost(_logger, Id, nodeId, detail);
        // Lost while a commit ran, the node may hold it while the others do not, or lack it while
        // another node holds it: it is detached like a node whose results disagree, even if it
        // answers. Only a node that ended without committing, before any node answered, leaves
        // nothing to tell apart: the session ends and its transaction rolls back everywhere.
        var mayDiffer = _commitInProgress && (_answeredDuringCommit || !endedWithoutCommit);
        var detached = alreadyDetached || (mayDiffer
            ? await _context.Failover.DetachForMismatchAsync(nodeId, $"{reason}, while a commit was in progress: node {nodeId} may differ from the other nodes", cancellationToken)
            : await _context.Failover.ReportBackendFailureAsync(nodeId, reason, cancellationToken));
        _seenClusterVersion = 0; // look at the cluster again before the next statement
        if (!detached)
        {
            throw new SessionTerminatedException("08006", $"connection to backend node {nodeId} was lost and the node stays attached; the session cannot continue without it", detail);
        }

        if (LiveBackendCount == 0)
        {
            throw new SessionTerminatedException("57P03", "all backend nodes of this session are down", detail);
        }
    }

    private static bool IsClosedByProxy(Exception? e)
    {
        for (; e is not null; e = e.InnerException)
        {
            if (e is ObjectDisposedException or OperationCanceledException or SocketException { SocketErrorCode: SocketError.OperationAborted })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether an exception from a backend read or write means the connection is gone.</summary>
    private static bool IsConnectionFailure(Exception e) =>
        e is IOException or SocketException or ObjectDisposedException;

    /// <summary>Picks the node for load-balanced reads: weighted random over this session's nodes.</summary>
    private void ChooseLoadBalanceNode()
    {
        var snapshot = _context.Store.Current;
        var candidates = new List<(int Id, double Weight)>();
        double total = 0;
        foreach (var backend in _backends)
        {
            if (backend is null)
            {
                continue;
            }

            var weight = snapshot.Find(backend.NodeId)?.Weight ?? 0;
            if (weight > 0)
            {
                candidates.Add((backend.NodeId, weight));
                total += weight;
            }
        }

        if (!_context.Options.Current.LoadBalanceMode || candidates.Count == 0)
        {
            _loadBalanceNodeId = MainBackend?.NodeId ?? -1;
            return;
        }

        var pick = Random.Shared.NextDouble() * total;
        foreach (var (id, weight) in candidates)
        {
            pick -= weight;
            if (pick < 0)
            {
                _loadBalanceNodeId = id;
                return;
            }
        }

        _loadBalanceNodeId = candidates[^1].Id;
    }

    /// <summary>
    /// Runs a statement of our own on one backend and waits for its ReadyForQuery, discarding
    /// results. Throws <see cref="InternalQueryException"/> when it fails.
    /// </summary>
    private static async Task RunInternalAsync(BackendConnection backend, string sql, CancellationToken cancellationToken)
    {
        var result = await BackendQuery.RunAsync(backend, sql, cancellationToken);
        if (result.Error is { } error)
        {
            throw new InternalQueryException(backend.NodeId, sql, error);
        }
    }

    /// <summary>
    /// DROP DATABASE, ALTER DATABASE ... RENAME and CREATE DATABASE (of its template) fail while any
    /// other session is in that database, and the pool's idle connections are such sessions.
    /// </summary>
    private async ValueTask CloseIdleConnectionsToAsync(Replication.QueryPlan plan)
    {
        foreach (var statement in plan.Statements)
        {
            if (statement.DatabaseNeededAlone is { } database && await _context.Pool.CloseDatabaseAsync(database) is var closed and > 0)
            {
                LogClosedForDatabase(_logger, Id, closed, database);
            }
        }
    }

    [LoggerMessage(EventId = 1021, Level = LogLevel.Information, Message = "pid {Pid}: closed {Count} idle pooled connection(s) to database \"{Database}\": the statement needs it free of other sessions")]
    private static partial void LogClosedForDatabase(ILogger logger, int pid, int count, string database);

    [LoggerMessage(EventId = 1020, Level = LogLevel.Error, Message = "pid {Pid}: lost connection to backend node {NodeId}: {Reason}")]
    private static partial void LogBackendLost(ILogger logger, int pid, int nodeId, string reason);
}
