using System.Buffers;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>Why a session could not take a joining node.</summary>
public sealed class SessionStateNotReplayableException(string reason) : Exception(reason);

public sealed partial class ClientSession
{
    /// <summary>
    /// A connection to a node that is joining but not yet read-write (an online recovery's standby
    /// about to be promoted), with the session's state replayed except LISTEN, which a standby
    /// refuses. <see cref="JoinNodeAsync"/> finishes it.
    /// </summary>
    private (BackendConnection Backend, List<string> Channels)? _preparedJoin;

    /// <summary>
    /// Connects this session to a node that joins the cluster (attach, online recovery) and
    /// replays the session's state there: startup parameters, SET values, prepared statements
    /// (protocol and SQL level) and LISTEN channels. Runs on the session's loop at a transaction
    /// boundary (see <see cref="RunAtBoundaryAsync"/>). State that cannot be replayed (temporary
    /// tables, WITH HOLD cursors, session advisory locks) makes it throw
    /// <see cref="SessionStateNotReplayableException"/>: the session must then wait or end.
    /// Uses the connection <see cref="PrepareJoinAsync"/> made, when there is one.
    /// </summary>
    internal async Task JoinNodeAsync(NodeState node, CancellationToken cancellationToken)
    {
        if (BackendOf(node.Id) is not null)
        {
            // A connection kept from before the node was detached (the session was idle since):
            // it is dead or stale, never reusable.
            await DropBackendAsync(node.Id);
        }

        var how = "with the session state replayed while it was a standby";
        var backend = _preparedJoin is { } prepared && prepared.Backend.NodeId == node.Id
            ? await TakePreparedJoinAsync(prepared, cancellationToken)
            : null;
        if (backend is null)
        {
            how = "with the session state replayed";
            backend = (await ConnectAndReplayStateAsync(node, replayListen: true, cancellationToken)).Backend;
        }

        var backends = _backends.Length > node.Id ? (BackendConnection?[])_backends.Clone() : ResizeBackends(node.Id + 1);
        backends[node.Id] = backend;
        Volatile.Write(ref _backends, backends);
        _seenClusterVersion = 0;
        LogJoined(_logger, Id, node.Id, backend.ProcessId, how);
        await AlignValueSettingsAsync(cancellationToken); // the joined node starts from its own defaults
    }

    /// <summary>
    /// Finishes the connection <see cref="PrepareJoinAsync"/> made. Returns null when it did not
    /// survive the promotion (a remote start script that restarts the standby closes it): the
    /// join then connects again, as it does when nothing was prepared.
    /// </summary>
    private async Task<BackendConnection?> TakePreparedJoinAsync((BackendConnection Backend, List<string> Channels) prepared, CancellationToken cancellationToken)
    {
        _preparedJoin = null;
        var backend = prepared.Backend;
        try
        {
            // Also proves the connection sees a read-write node now.
            var state = await BackendQuery.RunAsync(backend, "SELECT pg_catalog.pg_is_in_recovery()", cancellationToken);
            if (state.Error is not null || state.Scalar != "f")
            {
                throw new InternalQueryException(backend.NodeId, "checking the node left recovery", state.Error ?? new PgErrorFields { SqlState = "55000", Message = "the node is still in recovery" });
            }

            await ReplayListenAsync(backend, prepared.Channels, cancellationToken);
            return backend;
        }
#pragma warning disable CA1031 // whatever broke it, a new connection is made and its failure reported
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            LogPreparedJoinLost(_logger, Id, backend.NodeId, e.Message);
            backend.Break();
            await backend.DisposeAsync();
            return null;
        }
    }

    /// <summary>
    /// Does what it can of <see cref="JoinNodeAsync"/> ahead of time, while the node is still a
    /// read-only standby that an online recovery is about to promote: a session connected to a
    /// standby writes once it is promoted. Best effort: whatever fails here (a standby that
    /// refuses connections, state that cannot be copied) the join itself does again and reports.
    /// </summary>
    internal async Task PrepareJoinAsync(NodeState node, CancellationToken cancellationToken)
    {
        await DiscardPreparedJoinAsync();
        try
        {
            _preparedJoin = await ConnectAndReplayStateAsync(node, replayListen: false, cancellationToken);
        }
#pragma warning disable CA1031 // best effort: the join proper repeats every step and reports its failure
        catch (Exception e) when (e is not OperationCanceledException)
#pragma warning restore CA1031
        {
            LogJoinNotPrepared(_logger, Id, node.Id, e.Message);
        }
    }

    /// <summary>Closes the connection <see cref="PrepareJoinAsync"/> made, when the join did not take it.</summary>
    internal async ValueTask DiscardPreparedJoinAsync()
    {
        if (_preparedJoin is { } prepared)
        {
            _preparedJoin = null;
            prepared.Backend.Break();
            await prepared.Backend.DisposeAsync();
        }
    }

    /// <summary>Connects to the node and replays the session's state; returns the LISTEN channels not replayed.</summary>
    private async Task<(BackendConnection Backend, List<string> Channels)> ConnectAndReplayStateAsync(NodeState node, bool replayListen, CancellationToken cancellationToken)
    {
        var main = MainBackend ?? throw new SessionTerminatedException("57P03", "all backend nodes of this session are down");

        // Traffic is paused while sessions join: connect while the main node describes the
        // session's state, in one round trip.
        var connecting = _context.Connector.ConnectAsync(BackendEndpoint.Of(node), _backendParameters, ProvidePasswordAsync, cancellationToken);
        BackendConnection? backend = null;
        try
        {
            var state = await BackendQuery.RunAsync(main, SessionStateQuery, cancellationToken);
            backend = await connecting;
            if (state.Error is { } error)
            {
                throw new SessionStateNotReplayableException($"could not inspect the session state: {error.Message}");
            }

            if (DescribeUnreplayableState(state.Rows.First(r => r[0] == "u")) is { } blocker)
            {
                throw new SessionStateNotReplayableException(blocker);
            }

            var settings = state.Rows.Where(r => r[0] == "s").Select(r => $"pg_catalog.set_config({BackendQuery.Literal(r[1]!)}, {BackendQuery.Literal(r[2] ?? "")}, false)").ToList();
            if (settings.Count > 0)
            {
                await RunInternalAsync(backend, "SELECT " + string.Join(", ", settings), cancellationToken);
            }

            foreach (var row in state.Rows.Where(r => r[0] == "p"))
            {
                await RunInternalAsync(backend, row[1]!, cancellationToken);
            }

            await ReplayProtocolStatementsAsync(backend, cancellationToken);
            var channels = state.Rows.Where(r => r[0] == "l").Select(r => r[1]!).ToList();
            if (replayListen)
            {
                await ReplayListenAsync(backend, channels, cancellationToken);
                channels.Clear();
            }

            return (backend, channels);
        }
        catch
        {
            backend ??= await connecting.ContinueWith(t => t.IsCompletedSuccessfully ? t.Result : null, TaskScheduler.Default);
            if (backend is not null)
            {
                backend.Break();
                await backend.DisposeAsync();
            }

            throw;
        }
    }

    private static async Task ReplayListenAsync(BackendConnection backend, List<string> channels, CancellationToken cancellationToken)
    {
        foreach (var channel in channels)
        {
            await RunInternalAsync(backend, "LISTEN " + BackendQuery.Identifier(channel), cancellationToken);
        }
    }

    /// <summary>
    /// A session's state in one result: a 'u' row counting what cannot be replayed (see
    /// <see cref="UnreplayableStateCounts"/>), then 's' rows (setting, value), 'p' rows (SQL-level
    /// PREPARE statements) and 'l' rows (LISTEN channels).
    /// </summary>
    private const string SessionStateQuery = "SELECT 'u', " + UnreplayableStateCounts + """

        UNION ALL
        SELECT 's', name, pg_catalog.current_setting(name), NULL FROM pg_catalog.pg_settings
          WHERE source = 'session' AND name NOT IN ('transaction_isolation', 'transaction_read_only', 'transaction_deferrable')
        UNION ALL
        SELECT 'p', statement, NULL, NULL FROM pg_catalog.pg_prepared_statements WHERE from_sql
        UNION ALL
        SELECT 'l', channel, NULL, NULL FROM pg_catalog.pg_listening_channels() AS channel
        """;

    /// <summary>Temporary tables, WITH HOLD cursors and session advisory locks of this backend, as three text counts.</summary>
    private const string UnreplayableStateCounts = """
        (SELECT count(*) FROM pg_catalog.pg_class WHERE relnamespace = pg_catalog.pg_my_temp_schema())::text,
          (SELECT count(*) FROM pg_catalog.pg_cursors WHERE is_holdable)::text,
          (SELECT count(*) FROM pg_catalog.pg_locks WHERE locktype = 'advisory' AND pid = pg_catalog.pg_backend_pid())::text
        """;

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

    /// <summary>
    /// What this session holds that cannot be copied to a joining node (null when nothing). Runs
    /// on the session's loop at a transaction boundary, like <see cref="JoinNodeAsync"/>.
    /// </summary>
    internal async Task<string?> FindUnreplayableStateAsync(CancellationToken cancellationToken) =>
        MainBackend is { } main ? await FindUnreplayableStateAsync(main, cancellationToken) : null;

    private static async Task<string?> FindUnreplayableStateAsync(BackendConnection main, CancellationToken cancellationToken)
    {
        var result = await BackendQuery.RunAsync(main, "SELECT NULL, " + UnreplayableStateCounts, cancellationToken);
        return result.Error is { } error
            ? $"could not inspect the session state: {error.Message}"
            : DescribeUnreplayableState(result.Rows[0]);
    }

    /// <summary>The reason a session cannot be copied, from a row whose columns 1-3 are <see cref="UnreplayableStateCounts"/>; null when nothing blocks.</summary>
    private static string? DescribeUnreplayableState(string?[] row)
    {
        var reasons = new List<string>();
        if (row[1] != "0")
        {
            reasons.Add("temporary tables");
        }

        if (row[2] != "0")
        {
            reasons.Add("WITH HOLD cursors");
        }

        if (row[3] != "0")
        {
            reasons.Add("session advisory locks");
        }

        return reasons.Count == 0 ? null : "the session holds " + string.Join(", ", reasons);
    }

    [LoggerMessage(EventId = 1051, Level = LogLevel.Debug, Message = "pid {Pid}: could not connect ahead to joining node {NodeId}, joins once it is read-write: {Reason}")]
    private static partial void LogJoinNotPrepared(ILogger logger, int pid, int nodeId, string reason);

    [LoggerMessage(EventId = 1052, Level = LogLevel.Information, Message = "pid {Pid}: the connection made to node {NodeId} while it was a standby is unusable after its promotion ({Reason}); connecting again")]
    private static partial void LogPreparedJoinLost(ILogger logger, int pid, int nodeId, string reason);

    [LoggerMessage(EventId = 1050, Level = LogLevel.Information, Message = "pid {Pid}: joined backend node {NodeId} (backend pid {BackendPid}) {How}")]
    private static partial void LogJoined(ILogger logger, int pid, int nodeId, int backendPid, string how);
}
