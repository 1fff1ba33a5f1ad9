using System.Buffers;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>Why a session could not take a joining node.</summary>
public sealed class SessionStateNotReplayableException(string reason) : Exception(reason);

public sealed partial class ClientSession
{
    /// <summary>
    /// Connects this session to a node that joins the cluster (attach, online recovery) and
    /// replays the session's state there: startup parameters, SET values, prepared statements
    /// (protocol and SQL level) and LISTEN channels. Runs on the session's loop at a transaction
    /// boundary (see <see cref="RunAtBoundaryAsync"/>). State that cannot be replayed (temporary
    /// tables, WITH HOLD cursors, session advisory locks) makes it throw
    /// <see cref="SessionStateNotReplayableException"/>: the session must then wait or end.
    /// </summary>
    internal async Task JoinNodeAsync(NodeState node, CancellationToken cancellationToken)
    {
        if (node.Id < _backends.Length && _backends[node.Id] is not null)
        {
            // A connection kept from before the node was detached (the session was idle since):
            // it is dead or stale, never reusable.
            await DropBackendAsync(node.Id);
        }

        var main = MainBackend ?? throw new SessionTerminatedException("57P03", "all backend nodes of this session are down");
        var blocker = await FindUnreplayableStateAsync(main, cancellationToken);
        if (blocker is not null)
        {
            throw new SessionStateNotReplayableException(blocker);
        }

        var settings = await BackendQuery.RunAsync(main, "SELECT name, current_setting(name) FROM pg_catalog.pg_settings WHERE source = 'session' AND name NOT IN ('transaction_isolation', 'transaction_read_only', 'transaction_deferrable')", cancellationToken);
        var sqlPrepared = await BackendQuery.RunAsync(main, "SELECT statement FROM pg_catalog.pg_prepared_statements WHERE from_sql", cancellationToken);
        var channels = await BackendQuery.RunAsync(main, "SELECT pg_catalog.pg_listening_channels()", cancellationToken);

        var endpoint = BackendEndpoint.Of(node);
        var backend = await _context.Connector.ConnectAsync(endpoint, _backendParameters, ProvidePasswordAsync, cancellationToken);
        try
        {
            foreach (var row in settings.Rows)
            {
                await RunInternalAsync(backend, $"SELECT pg_catalog.set_config({BackendQuery.Literal(row[0]!)}, {BackendQuery.Literal(row[1] ?? "")}, false)", cancellationToken);
            }

            foreach (var row in sqlPrepared.Rows)
            {
                await RunInternalAsync(backend, row[0]!, cancellationToken);
            }

            foreach (var row in channels.Rows)
            {
                await RunInternalAsync(backend, "LISTEN " + BackendQuery.Identifier(row[0]!), cancellationToken);
            }

            await ReplayProtocolStatementsAsync(backend, cancellationToken);
        }
        catch
        {
            backend.Break();
            await backend.DisposeAsync();
            throw;
        }

        var backends = _backends.Length > node.Id ? (BackendConnection?[])_backends.Clone() : ResizeBackends(node.Id + 1);
        backends[node.Id] = backend;
        Volatile.Write(ref _backends, backends);
        _seenClusterVersion = 0;
        LogJoined(_logger, Id, node.Id, backend.ProcessId);
    }

    private BackendConnection?[] ResizeBackends(int length)
    {
        var resized = new BackendConnection?[length];
        Array.Copy(_backends, resized, _backends.Length);
        return resized;
    }

    /// <summary>Re-creates the session's named protocol-level prepared statements on a new backend.</summary>
    private async Task ReplayProtocolStatementsAsync(BackendConnection backend, CancellationToken cancellationToken)
    {
        var bit = UInt128.One << backend.NodeId;
        var replayed = new List<PreparedStatementState>();
        foreach (var statement in _statements.Values)
        {
            if (statement.Name.Length == 0)
            {
                continue; // the unnamed statement is re-created on demand
            }

            backend.Writer.Write(statement.ParseMessage);
            replayed.Add(statement);
        }

        if (replayed.Count == 0)
        {
            return;
        }

        backend.Writer.Write(SyncMessage);
        await backend.Writer.FlushAsync(cancellationToken);
        var result = new NodeResult(backend);
        await ReadResultAsync(result, 1, streamToClient: false, cancellationToken);
        if (result.FirstError is { } error)
        {
            throw new InternalQueryException(backend.NodeId, "re-creating prepared statements", error);
        }

        foreach (var statement in replayed)
        {
            statement.Nodes |= bit;
        }
    }

    /// <summary>Describes session state that cannot be copied to another node, or null when there is none.</summary>
    /// <summary>
    /// What this session holds that cannot be copied to a joining node (null when nothing). Runs
    /// on the session's loop at a transaction boundary, like <see cref="JoinNodeAsync"/>.
    /// </summary>
    internal async Task<string?> FindUnreplayableStateAsync(CancellationToken cancellationToken) =>
        MainBackend is { } main ? await FindUnreplayableStateAsync(main, cancellationToken) : null;

    private static async Task<string?> FindUnreplayableStateAsync(BackendConnection main, CancellationToken cancellationToken)
    {
        var result = await BackendQuery.RunAsync(main, """
            SELECT
              (SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.pg_my_temp_schema()),
              (SELECT count(*) FROM pg_catalog.pg_cursors WHERE is_holdable),
              (SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid())
            """, cancellationToken);
        if (result.Error is { } error)
        {
            return $"could not inspect the session state: {error.Message}";
        }

        var row = result.Rows[0];
        var reasons = new List<string>();
        if (row[0] != "0")
        {
            reasons.Add("temporary tables");
        }

        if (row[1] != "0")
        {
            reasons.Add("WITH HOLD cursors");
        }

        if (row[2] != "0")
        {
            reasons.Add("session advisory locks");
        }

        return reasons.Count == 0 ? null : "the session holds " + string.Join(", ", reasons);
    }

    [LoggerMessage(EventId = 1050, Level = LogLevel.Information, Message = "pid {Pid}: joined backend node {NodeId} (backend pid {BackendPid}) with the session state replayed")]
    private static partial void LogJoined(ILogger logger, int pid, int nodeId, int backendPid);
}
