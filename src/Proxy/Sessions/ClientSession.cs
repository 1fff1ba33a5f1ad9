using System.Collections.Concurrent;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Logging;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// One client connection and its backend connections (at most one per node). The session reads
/// client messages one at a time and runs each on the nodes its route requires. It is driven by
/// a single asynchronous loop; the only things other threads do to it are: post a command to run
/// at a transaction boundary (<see cref="RunAtBoundaryAsync"/>), break the connection of a node
/// that was detached, and cancel.
/// </summary>
public sealed partial class ClientSession : IProxySession
{
    private readonly ProxyContext _context;
    private readonly PgMessageReader _client;
    private readonly PipeWriter _clientOut;
    private readonly ILogger _logger;
    private readonly object _stateGate = new();
    private static readonly Task NeverCompletes = new TaskCompletionSource().Task;

    /// <summary>
    /// Reported settings that change how values are read and written: a timestamp's text and a
    /// date's day (TimeZone), a date's field order (DateStyle), an interval's text, and whether a
    /// backslash in a literal escapes. Every node of a session uses the main node's.
    /// </summary>
    private static readonly string[] ValueSettings = ["TimeZone", "DateStyle", "IntervalStyle", "standard_conforming_strings"];
    private readonly SessionCommands _commands = new();

    // Backend connections by node id; null where the session has none (node down or not joined).
    private BackendConnection?[] _backends = [];
    private long _seenClusterVersion;
    private int _loadBalanceNodeId = -1;
    private bool _hasBackends;
    private bool _valueSettingsMayDiffer;

    /// <summary>The client has the start of a large message whose rest is still coming from a node.</summary>
    private bool _clientMidMessage;
    private int _journalSlot = -1;

    // Transaction state as the main node reports it, and whether the transaction has written.
    private char _transactionStatus = 'I';
    private bool _transactionWrote;
    private bool _transactionNeedsAllNodes;
    private bool _transactionReadOnly;

    /// <summary>The isolation level of transactions that name none: from the startup options, then SET.</summary>
    private SqlIsolationLevel _sessionIsolation;
    private SqlIsolationLevel _startupIsolation;

    // The main node's transaction timestamp, once a write in this transaction needed it.
    private readonly TransactionClock _clock = new();

    private StartupPacket? _startup;
    private string _poolKey = "";
    private SessionActivity _activity = SessionActivity.Startup;
    private DateTimeOffset _lastActivity;
    private bool _listening;

    // The open batch has not waited at the boundary yet (see WaitAtBoundaryUnlessDeferredAsync).
    private bool _boundaryDeferred;
    private CancellationTokenSource? _terminate;
    private volatile string? _terminateReason;

    private readonly ClientConnection _connection;
    private readonly ClientAuthentication _authentication;

    // What PGPOOL SET changed, and the session's log lines that client_min_messages sends to the client.
    private readonly SessionSettings _settings;
    private readonly ConcurrentQueue<(EventLevel Level, string Message)> _clientNotices = new();

    public ClientSession(ProxyContext context, ClientConnection connection, int id, ClientAuthentication authentication)
    {
        _context = context;
        _connection = connection;
        _authentication = authentication;
        _client = connection.Reader;
        _clientOut = connection.Output;
        var remoteEndPoint = connection.RemoteEndPoint;
        Id = id;
        SecretKey = RandomNumberGenerator.GetInt32(int.MaxValue);
        ClientAddress = remoteEndPoint switch
        {
            IPEndPoint ip => $"{ip.Address}:{ip.Port}",
            null => "[local]",
            _ => remoteEndPoint.ToString() ?? "[local]",
        };
        ClientHost = remoteEndPoint is IPEndPoint address ? address.Address.ToString() : "[local]";
        ClientPort = remoteEndPoint is IPEndPoint port ? port.Port.ToString(CultureInfo.InvariantCulture) : "";
        _logger = context.LoggerFactory.CreateLogger(SessionLogContext.Category);
        _settings = new SessionSettings(context.Options, (level, message) => _clientNotices.Enqueue((level, message)));
        StartedAt = context.TimeProvider.GetUtcNow();
        _lastActivity = StartedAt;
    }

    public int Id { get; }

    /// <summary>Set once the session has its backend connections: from then on a pause holds it at its next transaction boundary.</summary>
    internal bool HasBackends
    {
        get => Volatile.Read(ref _hasBackends);
        private set => Volatile.Write(ref _hasBackends, value);
    }

    public int SecretKey { get; }

    public DateTimeOffset StartedAt { get; }

    public string User => _startup?.User ?? "";

    public string Database => _startup?.Database ?? "";

    public string ClientAddress { get; }

    /// <summary>The client's address, or its host name once <see cref="ResolveClientHostAsync"/> found one (log_hostname).</summary>
    internal string ClientHost { get; private set; }

    /// <summary>The client's TCP port ("" over a Unix-domain socket).</summary>
    internal string ClientPort { get; }

    /// <summary>
    /// log_hostname: the client's host name by reverse DNS, for the connection log lines. A lookup that
    /// fails or takes longer than two seconds leaves the address, so a slow resolver cannot hold a client up for long.
    /// </summary>
    internal async Task ResolveClientHostAsync(CancellationToken cancellationToken)
    {
        if (_connection.RemoteEndPoint is not IPEndPoint endPoint)
        {
            return;
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(2));
        try
        {
            ClientHost = (await Dns.GetHostEntryAsync(endPoint.Address).WaitAsync(timeout.Token)).HostName;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            // no name: the address stays
        }
    }

    public string ApplicationName => _startup?.Get("application_name") ?? "";

    public SessionActivity Activity
    {
        get
        {
            lock (_stateGate)
            {
                return _activity;
            }
        }
    }

    public DateTimeOffset LastActivity
    {
        get
        {
            lock (_stateGate)
            {
                return _lastActivity;
            }
        }
    }

    public IReadOnlyList<SessionBackendInfo> Backends
    {
        get
        {
            var list = new List<SessionBackendInfo>();
            foreach (var backend in Volatile.Read(ref _backends))
            {
                if (backend is not null)
                {
                    list.Add(new SessionBackendInfo(backend.NodeId, backend.ProcessId, backend.ConnectedAtUtc, backend.ReuseCount, backend.ServerMajorVersion, backend.ServerMinorVersion));
                }
            }

            return list;
        }
    }

    /// <summary>Runs the session until the client leaves or the proxy shuts down.</summary>
    public async Task RunAsync(StartupPacket startup, CancellationToken shutdownToken)
    {
        using var terminate = CancellationTokenSource.CreateLinkedTokenSource(shutdownToken);
        _terminate = terminate;
        var cancellationToken = terminate.Token;
        _startup = startup;
        SessionLogContext.Current = _settings;
        _context.Store.Sessions.Add(this);
        _journalSlot = _context.Journal?.Rent() ?? -1;
        var reusable = false;
        try
        {
            if (!await StartupAsync(startup, cancellationToken))
            {
                return;
            }

            SetActivity(SessionActivity.Idle);
            LogSessionStarted(_logger, Id, User, Database, ClientAddress);
            reusable = await MessageLoopAsync(cancellationToken);
        }
        catch (PgProtocolException e)
        {
            LogClientProtocolError(_logger, Id, e.Message);
            await TrySendFatalAsync(e.SqlState, e.Message);
        }
        catch (PgConnectionClosedException e)
        {
            NoteClientGone(e.MidMessage ? "in the middle of a message" : "without Terminate");
        }
        catch (SessionTerminatedException e)
        {
            LogSessionTerminated(_logger, Id, e.Message);
            await TrySendFatalAsync(e.SqlState, e.Message, e.Detail);
        }
        catch (OperationCanceledException) when (_terminateReason is { } reason)
        {
            LogSessionTerminated(_logger, Id, reason);
            await TrySendFatalAsync("57P01", reason);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await TrySendFatalAsync("57P01", "terminating connection due to administrator command");
        }
        catch (IOException e)
        {
            NoteClientGone($"({e.Message})");
        }
#pragma warning disable CA1031 // a bug in one session must end that session with a message, not take the listener down silently
        catch (Exception e)
#pragma warning restore CA1031
        {
            LogSessionFailed(_logger, Id, e);
            await TrySendFatalAsync("XX000", $"pgpoolconsole internal error: {e.GetType().Name}: {e.Message}");
        }
        finally
        {
            _context.Store.Sessions.Remove(this);
            _commands.Close();
            await ReleaseBackendsAsync(reusable);
            _context.Journal?.Return(_journalSlot);
            LogSessionEnded(_logger, Id, User, Database);
            if (_startup is not null && _context.Options.Current.LogDisconnections)
            {
                var time = _context.TimeProvider.GetUtcNow() - StartedAt;
                LogFrontendDisconnection(_logger, Id, $"{(int)time.TotalHours}:{time.Minutes:00}:{time.Seconds:00}.{time.Milliseconds:000}", User, Database, ClientHost, ClientPort.Length > 0 ? " port=" + ClientPort : "");
            }
        }
    }

    /// <summary>
    /// Reads and handles client messages. Returns true when the client ended cleanly with Terminate
    /// and the backend connections may return to the pool.
    /// </summary>
    private async Task<bool> MessageLoopAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            SetActivity(_transactionStatus == 'I' ? SessionActivity.Idle : SessionActivity.IdleInTransaction);
            if (_terminateReason is { } pending)
            {
                throw new SessionTerminatedException("57P01", pending);
            }

            if (_valueSettingsMayDiffer && _transactionStatus == 'I' && !_batch.IsOpen)
            {
                await AlignValueSettingsAsync(cancellationToken);
            }

            var message = await NextClientMessageAsync(cancellationToken);
            SetActivity(SessionActivity.Active);
            if (_terminateReason is { } reason)
            {
                throw new SessionTerminatedException("57P01", reason);
            }

            switch (message.TypeChar)
            {
                case 'Q':
                    if (await RunBatchBeforeAsync(cancellationToken))
                    {
                        await HandleSimpleQueryAsync(message, cancellationToken);
                    }

                    break;
                case 'P':
                case 'D':
                case 'C':
                    if (!_batch.IsOpen)
                    {
                        await WaitAtBoundaryUnlessDeferredAsync(cancellationToken);
                    }

                    await AddToBatchAsync(message, cancellationToken);
                    break;
                case 'B':
                case 'E':
                    if (!_batch.IsOpen)
                    {
                        await WaitAtBoundaryAsync(cancellationToken);
                    }
                    else
                    {
                        await EndDeferredBoundaryAsync(cancellationToken);
                    }

                    await AddToBatchAsync(message, cancellationToken);
                    break;
                case 'H':
                    await ExecuteBatchAsync(sync: false, cancellationToken);
                    break;
                case 'S':
                    if (!_batch.IsOpen)
                    {
                        await WaitAtBoundaryAsync(cancellationToken);
                    }

                    // A batch that only parses, describes or closes runs even while the cluster is paused.
                    _boundaryDeferred = false;
                    await ExecuteBatchAsync(sync: true, cancellationToken);
                    break;
                case 'F':
                    if (await RunBatchBeforeAsync(cancellationToken))
                    {
                        await HandleFunctionCallAsync(message, cancellationToken);
                    }

                    break;
                case 'X':
                    return !_batch.IsOpen;
                case 'd':
                case 'c':
                case 'f':
                    // PostgreSQL ignores copy messages outside COPY (after a failed COPY they may still arrive).
                    break;
                default:
                    throw new PgProtocolException($"invalid frontend message type {PgMessageReader.Printable(message.Type)}");
            }
        }
    }

    /// <summary>
    /// Before a simple Query or FunctionCall: a Query that arrives before an extended batch's Sync
    /// (pgjdbc's autosave sends SAVEPOINT so, after an extended BEGIN) runs after what came before
    /// it, as in PostgreSQL, which also ignores it when that failed (false: skip the message).
    /// </summary>
    private async Task<bool> RunBatchBeforeAsync(CancellationToken cancellationToken)
    {
        if (!_batch.IsOpen)
        {
            await WaitAtBoundaryAsync(cancellationToken);
            return true;
        }

        await ExecuteBatchAsync(sync: false, cancellationToken);
        return !_batch.Failed;
    }

    /// <summary>
    /// Waits for the next client message while also serving commands posted to the session and,
    /// when the session listens, relaying notifications from the main node.
    /// </summary>
    private async ValueTask<PgMessage> NextClientMessageAsync(CancellationToken cancellationToken)
    {
        if (_client.HasBufferedMessage)
        {
            return await _client.ReadAsync(cancellationToken);
        }

        var idleLimit = _settings.ClientIdleLimit;
        using var idleTimeout = idleLimit > 0 ? new CancellationTokenSource(TimeSpan.FromSeconds(idleLimit)) : null;
        using var linked = idleTimeout is null ? null : CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, idleTimeout.Token);
        var token = linked?.Token ?? cancellationToken;
        var clientData = _client.WaitForDataAsync(token);
        ClientDataWhileIdle = clientData;
        try
        {
            while (!clientData.IsCompleted)
            {
                // A listener's notifications come from the main node; when that one is detached
                // the watch moves to the next, which has been queueing them meanwhile.
                var clusterChanged = _listening ? _context.Store.NextChange : NeverCompletes;
                if (_listening && _context.Store.Current.Version != _seenClusterVersion && _transactionStatus == 'I')
                {
                    await SyncWithClusterAsync(cancellationToken);
                }

                var watch = _listening ? WatchMainForNotificationsAsync(token) : null;
                // Posted commands run only at a transaction boundary; inside a transaction they wait.
                var commandSignal = _transactionStatus == 'I' && !_batch.IsOpen ? _commands.WaitAsync() : NeverCompletes;
                var completed = watch is null
                    ? await Task.WhenAny(clientData, commandSignal)
                    : await Task.WhenAny(clientData, commandSignal, watch, clusterChanged);
                if (watch is not null)
                {
                    await StopWatchingAsync(watch);
                    if (completed == watch)
                    {
                        await RelayIdleMessagesAsync(cancellationToken);
                    }
                }

                if (completed == commandSignal)
                {
                    await RunPostedCommandsAsync(cancellationToken);
                }
            }

            if (!await clientData)
            {
                throw new PgConnectionClosedException("client closed the connection");
            }
        }
        catch (OperationCanceledException) when (idleTimeout?.IsCancellationRequested == true && !cancellationToken.IsCancellationRequested)
        {
            throw new SessionTerminatedException("57P05", $"terminating connection due to client_idle_limit ({idleLimit} s) timeout");
        }
        finally
        {
            ClientDataWhileIdle = null;
        }

        return await _client.ReadAsync(cancellationToken);
    }

    private void SetActivity(SessionActivity activity)
    {
        lock (_stateGate)
        {
            _activity = activity;
            _lastActivity = _context.TimeProvider.GetUtcNow();
        }
    }

    /// <summary>
    /// Before work that would start a new transaction: wait while the cluster is paused (online
    /// recovery, attach), then make the session's node set match the cluster.
    /// </summary>
    private async ValueTask WaitAtBoundaryAsync(CancellationToken cancellationToken)
    {
        if (_transactionStatus == 'I')
        {
            // While the gate is closed, keep serving posted commands: the pause itself is one
            // (it parks this session), and it cannot finish while the session only waits here.
            while (true)
            {
                if (_commands.HasPending)
                {
                    await RunPostedCommandsAsync(cancellationToken);
                }

                var open = _context.Gate.WaitWhilePausedAsync(cancellationToken);
                if (!open.IsCompleted)
                {
                    await Task.WhenAny(open, _commands.WaitAsync());
                }

                if (open.IsCompleted)
                {
                    await open;
                    if (!_commands.HasPending)
                    {
                        break;
                    }
                }
            }
        }

        await SyncWithClusterAsync(cancellationToken);
    }

    /// <summary>
    /// Before a batch's first Parse, Describe or Close. While the cluster is paused, the wait is
    /// put off until the batch turns out to run something (Bind, Execute, Flush): a batch that
    /// only prepares changes no data, and a client may block on it (pgbench 15 -M prepared sends
    /// a new connection's PQprepare from the thread that drives its other clients, which the
    /// pause waits for). Such a batch runs on the session's nodes as they are; a node that joins
    /// meanwhile gets its statements replayed at the session's next boundary.
    /// </summary>
    private ValueTask WaitAtBoundaryUnlessDeferredAsync(CancellationToken cancellationToken)
    {
        if (_transactionStatus == 'I' && _context.Gate.IsPaused)
        {
            _boundaryDeferred = true;
            return SyncWithClusterAsync(cancellationToken);
        }

        return WaitAtBoundaryAsync(cancellationToken);
    }

    /// <summary>
    /// The batch put off its wait at the boundary (see <see cref="WaitAtBoundaryUnlessDeferredAsync"/>)
    /// and is about to run something: wait now. Nothing of the batch has reached a node yet, so
    /// the session may still be parked and joined to a node before the batch is sent.
    /// </summary>
    private async ValueTask EndDeferredBoundaryAsync(CancellationToken cancellationToken)
    {
        if (!_boundaryDeferred)
        {
            return;
        }

        _boundaryDeferred = false;
        await WaitAtBoundaryAsync(cancellationToken);
    }

    /// <summary>Sends a FATAL error to the client if it is still there.</summary>
    private async Task TrySendFatalAsync(string sqlState, string message, string? detail = null)
    {
        if (_clientMidMessage)
        {
            return; // the client would read the error as the rest of the row it is receiving
        }

        try
        {
            PgWriter.Error(_clientOut, "FATAL", sqlState, message, detail);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _clientOut.FlushAsync(timeout.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException or ObjectDisposedException)
        {
            // the client is gone
        }
    }

    /// <summary>A client that vanished is routine, unless it left a transaction behind (rolled back on every node).</summary>
    private void NoteClientGone(string how)
    {
        if (_transactionStatus is 'T' or 'E')
        {
            LogClientGoneInTransaction(_logger, Id, how);
        }
        else
        {
            LogClientGone(_logger, Id, how);
        }
    }

    /// <summary>Writes ReadyForQuery, after the log lines that client_min_messages sends to the client as notices.</summary>
    private void WriteReadyForQuery(char transactionStatus)
    {
        while (_clientNotices.TryDequeue(out var notice))
        {
            PgWriter.Notice(_clientOut, PgpoolLogLine.LevelName(notice.Level), "00000", notice.Message);
        }

        PgWriter.ReadyForQuery(_clientOut, transactionStatus);
    }

    /// <summary>Writes an ErrorResponse followed by ReadyForQuery and flushes (the session continues).</summary>
    private async ValueTask SendErrorAndReadyAsync(string sqlState, string message, string? detail, CancellationToken cancellationToken, string? hint = null)
    {
        PgWriter.Error(_clientOut, "ERROR", sqlState, message, detail, hint);
        WriteReadyForQuery(_transactionStatus);
        await _clientOut.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Ends the session with a FATAL message: at once when it is waiting for its client, else as
    /// soon as the statement it is running completes (a statement is never cut in the middle).
    /// </summary>
    public Task TerminateAsync(string reason, CancellationToken cancellationToken)
    {
        _terminateReason = reason;
        if (Activity != SessionActivity.Active)
        {
            try
            {
                _terminate?.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // the session has already ended
            }
        }

        return Task.CompletedTask;
    }

    public async Task CancelAsync(CancellationToken cancellationToken)
    {
        var tasks = new List<Task>();
        foreach (var backend in Volatile.Read(ref _backends))
        {
            if (backend is not null && !backend.IsBroken)
            {
                tasks.Add(BackendCanceller.CancelAsync(backend.Endpoint, backend.ProcessId, backend.SecretKey, cancellationToken));
            }
        }

        await Task.WhenAll(tasks);
    }

    /// <summary>Called by failover: closes this session's connection to a detached node at once,
    /// so a statement waiting on it (a hung node) ends.</summary>
    public void BreakNode(int nodeId)
    {
        var backends = Volatile.Read(ref _backends);
        if (nodeId < backends.Length && backends[nodeId] is { } backend)
        {
            backend.Break();
        }
    }

    /// <summary>
    /// Runs <paramref name="command"/> on the session's own loop at the next point where the
    /// session is idle outside a transaction. Used to pause sessions and to join a node to them.
    /// </summary>
    public Task RunAtBoundaryAsync(Func<ClientSession, CancellationToken, Task> command, CancellationToken cancellationToken) =>
        _commands.Post(command, cancellationToken);

    /// <summary>
    /// While the session waits for its client's next message (and serves posted commands
    /// meanwhile): completes when that message arrives. Null while the session has a message in hand.
    /// </summary>
    internal Task? ClientDataWhileIdle { get; private set; }

    private async Task RunPostedCommandsAsync(CancellationToken cancellationToken)
    {
        if (_transactionStatus != 'I' || _batch.SentAny)
        {
            return; // commands run only at a transaction boundary; they stay queued
        }

        while (_commands.TryTake(out var command))
        {
            await command.RunAsync(this, cancellationToken);
        }
    }

    [LoggerMessage(EventId = 1001, Level = LogLevel.Information, Message = "pid {Pid}: session started: user={User} database={Database} client={Client}")]
    private static partial void LogSessionStarted(ILogger logger, int pid, string user, string database, string client);

    [LoggerMessage(EventId = 1002, Level = LogLevel.Information, Message = "pid {Pid}: session ended: user={User} database={Database}")]
    private static partial void LogSessionEnded(ILogger logger, int pid, string user, string database);

    // pgpool-II's log_disconnections line, word for word.
    [LoggerMessage(EventId = 1008, Level = LogLevel.Information, Message = "pid {Pid}: frontend disconnection: session time: {Time} user={User} database={Database} host={Host}{Port}")]
    private static partial void LogFrontendDisconnection(ILogger logger, int pid, string time, string user, string database, string host, string port);

    [LoggerMessage(EventId = 1003, Level = LogLevel.Warning, Message = "pid {Pid}: protocol violation by client: {Reason}")]
    private static partial void LogClientProtocolError(ILogger logger, int pid, string reason);

    [LoggerMessage(EventId = 1004, Level = LogLevel.Debug, Message = "pid {Pid}: client disconnected {How}")]
    private static partial void LogClientGone(ILogger logger, int pid, string how);

    // PostgreSQL logs the same loss at LOG: "unexpected EOF on client connection with an open transaction".
    [LoggerMessage(EventId = 1007, Level = LogLevel.Information, Message = "pid {Pid}: client disconnected {How} with an open transaction; it is rolled back on every node")]
    private static partial void LogClientGoneInTransaction(ILogger logger, int pid, string how);

    [LoggerMessage(EventId = 1009, Level = LogLevel.Information, Message = "pid {Pid}: client disconnected during COPY FROM STDIN; the COPY is aborted on every node")]
    private static partial void LogClientGoneDuringCopy(ILogger logger, int pid);

    [LoggerMessage(EventId = 1006, Level = LogLevel.Error, Message = "pid {Pid}: session failed")]
    private static partial void LogSessionFailed(ILogger logger, int pid, Exception exception);

    [LoggerMessage(EventId = 1005, Level = LogLevel.Warning, Message = "pid {Pid}: terminating session: {Reason}")]
    private static partial void LogSessionTerminated(ILogger logger, int pid, string reason);
}

/// <summary>Ends a session with a FATAL error sent to the client.</summary>
public sealed class SessionTerminatedException(string sqlState, string message, string? detail = null) : Exception(message)
{
    public string SqlState { get; } = sqlState;

    public string? Detail { get; } = detail;
}
