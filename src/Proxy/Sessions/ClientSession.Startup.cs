using System.Text;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Sessions;

public sealed partial class ClientSession
{
    private Task<BackendCredential?>? _passwordRequest;
    private readonly object _passwordGate = new();

    // Kept to connect the session to a node that joins later (attach, online recovery).
    private List<KeyValuePair<string, string>> _backendParameters = [];

    /// <summary>
    /// Connects (or takes pooled connections) to every usable node, authenticates the client the
    /// way the backends demand, and sends the client its startup reply. Returns false when the
    /// session was refused (the client has been told why).
    /// </summary>
    private async Task<bool> StartupAsync(StartupPacket startup, CancellationToken cancellationToken)
    {
        var options = _context.Options.Current;
        if (startup.Get("replication") is { } replication && replication is not ("false" or "off" or "no" or "0"))
        {
            await TrySendFatalAsync("08P01", "replication connections are not supported by pgpoolconsole");
            return false;
        }

        using var authenticationTimeout = new CancellationTokenSource(options.AuthenticationTimeout > 0 ? TimeSpan.FromSeconds(options.AuthenticationTimeout) : Timeout.InfiniteTimeSpan);
        using var startupToken = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, authenticationTimeout.Token);
        var token = startupToken.Token;

        var parameters = new List<KeyValuePair<string, string>>();
        var unsupported = new List<string>();
        foreach (var pair in startup.Parameters)
        {
            if (pair.Key.StartsWith("_pq_.", StringComparison.Ordinal))
            {
                unsupported.Add(pair.Key);
            }
            else
            {
                parameters.Add(pair);
            }
        }

        _poolKey = PoolKeyOf(parameters);
        _backendParameters = parameters;
        _sessionIsolation = _startupIsolation = StartupIsolation(parameters);

        try
        {
            // A session that starts while the cluster is paused is not held here but at its first
            // transaction boundary, like every session: a client that opens connections from the thread
            // that drives its others (pgbench -C) could not finish their transactions otherwise, and
            // the pause would wait for them in vain. It connects to the nodes usable now and joins a
            // node that becomes usable meanwhile at that boundary (see SyncWithClusterAsync).
            var backends = await ConnectAllAsync(parameters, token);
            if (backends is null)
            {
                return false;
            }

            Volatile.Write(ref _backends, backends);
            HasBackends = true;
            ChooseLoadBalanceNode();
            await AlignApplicationNameAsync(startup.Get("application_name") ?? "", token);
            await AlignValueSettingsAsync(token);
        }
        catch (OperationCanceledException) when (authenticationTimeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            await ReleaseBackendsAsync(reusable: false);
            await TrySendFatalAsync("08006", $"authentication timeout: the client did not complete authentication within authentication_timeout ({options.AuthenticationTimeout} s)");
            return false;
        }

        if (unsupported.Count > 0 || (startup.ProtocolVersion & 0xffff) > 0)
        {
            PgWriter.NegotiateProtocolVersion(_clientOut, 0, unsupported);
        }

        PgWriter.AuthenticationOk(_clientOut);
        var main = MainBackend ?? throw new InvalidOperationException("no backend after startup");
        foreach (var (name, value) in main.ServerParameters)
        {
            PgWriter.ParameterStatus(_clientOut, name, value);
        }

        PgWriter.BackendKeyData(_clientOut, Id, SecretKey);
        WriteReadyForQuery('I');
        await _clientOut.FlushAsync(cancellationToken);
        return true;
    }

    /// <summary>
    /// Gets one authenticated connection per usable node. Nodes that cannot be reached are
    /// reported for failover and skipped; a backend that rejects the login rejects the session.
    /// </summary>
    private async Task<BackendConnection?[]?> ConnectAllAsync(List<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        while (true)
        {
            var snapshot = _context.Store.Current;
            var nodes = snapshot.Nodes.Where(n => n.IsUsable).ToList();
            if (nodes.Count == 0)
            {
                await TrySendFatalAsync("57P03", "all backend nodes are down, pgpoolconsole requires at least one valid node", "repair the backend nodes and attach them with pcp_attach_node or online recovery");
                return null;
            }

            var attempts = nodes.Select(node => AcquireAsync(node, parameters, cancellationToken)).ToList();
            try
            {
                await Task.WhenAll(attempts);
            }
            catch
            {
                // examined one by one below
            }

            var backends = new BackendConnection?[snapshot.Nodes.Max(n => n.Id) + 1];
            Exception? rejection = null;
            var unavailable = new List<BackendUnavailableException>();
            foreach (var attempt in attempts)
            {
                if (attempt.IsCompletedSuccessfully)
                {
                    backends[attempt.Result.NodeId] = attempt.Result;
                }
                else if (attempt.Exception?.InnerException is BackendUnavailableException down)
                {
                    unavailable.Add(down);
                }
                else
                {
                    rejection ??= attempt.Exception?.InnerException ?? new OperationCanceledException();
                }
            }

            if (rejection is not null)
            {
                foreach (var backend in backends)
                {
                    if (backend is not null)
                    {
                        await backend.DisposeAsync();
                    }
                }

                await RejectAsync(rejection);
                return null;
            }

            var detachedAny = false;
            foreach (var failure in unavailable)
            {
                LogNodeUnreachable(_logger, Id, failure.NodeId, failure.Message);
                detachedAny |= await _context.Failover.ReportBackendFailureAsync(failure.NodeId, failure.Message, cancellationToken);
            }

            if (unavailable.Count == 0)
            {
                MarkNodesInUse(backends);
                _seenClusterVersion = snapshot.Version; // a node usable only in a later version is joined at a boundary
                return backends;
            }

            foreach (var backend in backends)
            {
                if (backend is not null)
                {
                    await _context.Pool.ReturnAsync(backend, _poolKey);
                }
            }

            if (!detachedAny && unavailable.Count > 0)
            {
                // The node stays attached (failover not allowed or last node): the session cannot
                // promise that its writes reach every attached node.
                await TrySendFatalAsync("08006", $"cannot connect to backend node {unavailable[0].NodeId}", unavailable[0].Message);
                return null;
            }

            // Nodes were detached: try again with the nodes that remain.
        }
    }

    private async Task<BackendConnection> AcquireAsync(NodeState node, List<KeyValuePair<string, string>> parameters, CancellationToken cancellationToken)
    {
        if (_context.Options.Current.ConnectionCache && _context.Pool.TryTake(node.Id, _poolKey) is { } pooled)
        {
            // A client the proxy authenticated may use any connection of its user; a pass-through
            // client must know the password the connection was opened with.
            if (!_authentication.ByProxy && pooled.Password is { } fingerprint)
            {
                var password = (await ProvidePasswordAsync(cancellationToken))?.Password;
                if (password is null || !fingerprint.Matches(password))
                {
                    await _context.Pool.ReturnAsync(pooled, _poolKey);
                    throw new BackendRejectedException(node.Id, new PgErrorFields { Severity = "FATAL", SqlState = "28P01", Message = $"password authentication failed for user \"{User}\"" });
                }
            }

            return pooled;
        }

        var endpoint = BackendEndpoint.Of(node);
        try
        {
            return await _context.Connector.ConnectAsync(endpoint, parameters, ProvidePasswordAsync, cancellationToken);
        }
        catch (BackendRejectedException e) when (e.Error.SqlState == TooManyConnections)
        {
            // The node has no connection slot left (max_connections, or a database's or role's
            // CONNECTION LIMIT) while this pool may hold some idle: those give way to a client.
            var closed = await _context.Pool.DropNodeAsync(node.Id);
            if (closed == 0)
            {
                throw;
            }

            LogIdleClosedForLogin(_logger, Id, node.Id, e.Message, closed);
        }

        for (var attempt = 1; ; attempt++)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(50 * attempt), cancellationToken); // the closed backends exit and free their slots
            try
            {
                return await _context.Connector.ConnectAsync(endpoint, parameters, ProvidePasswordAsync, cancellationToken);
            }
            catch (BackendRejectedException e) when (e.Error.SqlState == TooManyConnections && attempt < 4)
            {
            }
        }
    }

    private const string TooManyConnections = "53300";

    /// <summary>
    /// What a backend that wants a password gets: what client authentication left
    /// (<see cref="ClientAuthentication.Credential"/>), else the client's password asked once in
    /// clear text (pass-through) when that is allowed: allow_clear_text_frontend_auth = on, or the
    /// client connection is encrypted.
    /// </summary>
    private ValueTask<BackendCredential?> ProvidePasswordAsync(CancellationToken cancellationToken)
    {
        if (_authentication.Credential is { } credential)
        {
            return new ValueTask<BackendCredential?>(credential);
        }

        lock (_passwordGate)
        {
            _passwordRequest ??= AskClientForPasswordAsync(cancellationToken);
            return new ValueTask<BackendCredential?>(_passwordRequest);
        }
    }

    private async Task<BackendCredential?> AskClientForPasswordAsync(CancellationToken cancellationToken)
    {
        if (!_context.Options.Current.AllowClearTextFrontendAuth && !_connection.IsSsl)
        {
            throw new ClearTextPasswordRefusedException(User);
        }

        PgWriter.AuthenticationCleartextPassword(_clientOut);
        await _clientOut.FlushAsync(cancellationToken);
        PgMessage message;
        try
        {
            message = await _client.ReadAsync(cancellationToken);
        }
        catch (PgConnectionClosedException)
        {
            // psql closes and reconnects after asking the user for a password.
            return null;
        }

        if (message.TypeChar != 'p')
        {
            throw new PgProtocolException($"expected password response, got message type {PgMessageReader.Printable(message.Type)}");
        }

        return new BackendCredential(PgPayload.SingleCString(message));
    }

    private async Task RejectAsync(Exception rejection)
    {
        switch (rejection)
        {
            case BackendRejectedException rejected:
                LogLoginRejected(_logger, Id, rejected.NodeId, rejected.Error.Message);
                await TrySendErrorAsync(rejected.Error with { Severity = "FATAL" });
                break;
            case PasswordRequiredException:
                // The client disconnected instead of sending a password (psql does this to prompt).
                break;
            case ClearTextPasswordRefusedException refused:
                LogLoginRejected(_logger, Id, -1, refused.Message);
                await TrySendFatalAsync("28000", refused.Message, refused.Detail);
                break;
            case PgProtocolException protocol:
                await TrySendFatalAsync(protocol.SqlState, protocol.Message);
                break;
            case OperationCanceledException:
                throw rejection;
            default:
                LogLoginRejected(_logger, Id, -1, rejection.Message);
                await TrySendFatalAsync("XX000", rejection.Message);
                break;
        }
    }

    private async Task TrySendErrorAsync(PgErrorFields error)
    {
        try
        {
            PgWriter.ErrorOrNotice(_clientOut, true, error);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await _clientOut.FlushAsync(timeout.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            // the client is gone
        }
    }

    /// <summary>
    /// The default isolation level a startup packet asks for: a default_transaction_isolation
    /// parameter, or <c>-c default_transaction_isolation=...</c> (or <c>--default-transaction-isolation=...</c>)
    /// in options, as PGOPTIONS and JDBC's options set it. Role and database settings are not seen.
    /// </summary>
    internal static SqlIsolationLevel StartupIsolation(IEnumerable<KeyValuePair<string, string>> parameters)
    {
        var level = SqlIsolationLevel.Default;
        foreach (var (key, value) in parameters)
        {
            if (key == "default_transaction_isolation")
            {
                level = SqlIsolationLevels.Parse(value);
            }
            else if (key == "options")
            {
                var words = OptionWords(value);
                for (var i = 0; i < words.Count; i++)
                {
                    var setting = words[i] switch
                    {
                        "-c" when i + 1 < words.Count => words[++i],
                        ['-', 'c', .. var rest] => rest,
                        ['-', '-', .. var rest] => rest,
                        _ => "",
                    };
                    var equals = setting.IndexOf('=', StringComparison.Ordinal);
                    if (equals > 0 && setting[..equals].Replace('-', '_') == "default_transaction_isolation")
                    {
                        level = SqlIsolationLevels.Parse(setting.AsSpan(equals + 1));
                    }
                }
            }
        }

        return level;
    }

    /// <summary>The options parameter split at spaces, where a backslash keeps the next character (libpq's escaping).</summary>
    private static List<string> OptionWords(string options)
    {
        var words = new List<string>();
        var word = new System.Text.StringBuilder();
        for (var i = 0; i < options.Length; i++)
        {
            if (options[i] == '\\' && i + 1 < options.Length)
            {
                word.Append(options[++i]);
            }
            else if (char.IsWhiteSpace(options[i]))
            {
                if (word.Length > 0)
                {
                    words.Add(word.ToString());
                    word.Clear();
                }
            }
            else
            {
                word.Append(options[i]);
            }
        }

        if (word.Length > 0)
        {
            words.Add(word.ToString());
        }

        return words;
    }

    /// <summary>A node that had no connection yet (status waiting) is now up.</summary>
    private void MarkNodesInUse(BackendConnection?[] backends)
    {
        var snapshot = _context.Store.Current;
        foreach (var backend in backends)
        {
            if (backend is not null && snapshot.Find(backend.NodeId)?.Status == NodeStatus.Waiting)
            {
                // Only from waiting: a failover may have detached it since the snapshot was taken.
                _context.Store.SetStatus(backend.NodeId, NodeStatus.Up, onlyFrom: NodeStatus.Waiting);
            }
        }
    }

    /// <summary>
    /// Pooled connections are shared by clients that differ only in application_name; set the
    /// name this client asked for (the ParameterStatus it causes reaches the client in its startup reply).
    /// </summary>
    private async Task AlignApplicationNameAsync(string applicationName, CancellationToken cancellationToken)
    {
        var main = MainBackend;
        if (main is null || !main.ServerParameters.TryGetValue("application_name", out var current) || current == applicationName)
        {
            return;
        }

        var sql = "SET application_name = " + BackendQuery.Literal(applicationName);
        foreach (var backend in LiveBackends())
        {
            await RunInternalAsync(backend, sql, cancellationToken);
        }
    }

    /// <summary>
    /// Gives every node the main node's value of each setting that changes how a statement's
    /// values are read or written (see <see cref="ValueSettings"/>): a node whose own default
    /// differs (another TimeZone in its postgresql.conf) would store other values for the same
    /// statement. Runs at startup, and at the next boundary after a node reported a change to one
    /// of them (RESET, DISCARD ALL, a node joining).
    /// </summary>
    private async Task AlignValueSettingsAsync(CancellationToken cancellationToken)
    {
        _valueSettingsMayDiffer = false;
        if (MainBackend is not { } main)
        {
            return;
        }

        foreach (var backend in LiveBackends().Where(b => b != main))
        {
            foreach (var name in ValueSettings)
            {
                if (!main.ServerParameters.TryGetValue(name, out var wanted) || !backend.ServerParameters.TryGetValue(name, out var own) || own == wanted)
                {
                    continue;
                }

                if (_context.FirstTime($"value setting {backend.NodeId} {name} {own} {wanted}"))
                {
                    LogValueSettingDiffers(_logger, backend.NodeId, name, own, wanted);
                }

                await RunInternalAsync(backend, $"SET {name} = {BackendQuery.Literal(wanted)}", cancellationToken);
            }
        }
    }

    private void NoteParameterStatus(BackendConnection backend, in PgMessage message)
    {
        if (ValueSettings.Contains(backend.ApplyParameterStatus(message)))
        {
            _valueSettingsMayDiffer = true;
        }
    }

    [LoggerMessage(EventId = 1013, Level = LogLevel.Warning, Message = "backend node {NodeId} has {Name} '{Own}' where the main node has '{Wanted}': sessions set the main node's on node {NodeId}, so that values are stored alike; give every node the same {Name} in its postgresql.conf")]
    private static partial void LogValueSettingDiffers(ILogger logger, int nodeId, string name, string own, string wanted);

    /// <summary>user, database and every other startup parameter except application_name.</summary>
    private static string PoolKeyOf(List<KeyValuePair<string, string>> parameters)
    {
        var builder = new StringBuilder();
        foreach (var pair in parameters.Where(p => p.Key != "application_name").OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            builder.Append(pair.Key).Append('=').Append(pair.Value).Append('\0');
        }

        return builder.ToString();
    }

    /// <summary>
    /// At client exit: clean backend connections are reset (reset_query_list) and pooled; any
    /// other is closed.
    /// </summary>
    private async Task ReleaseBackendsAsync(bool reusable)
    {
        await DiscardPreparedJoinAsync();
        var backends = Interlocked.Exchange(ref _backends, []);
        var resetQueries = _context.Options.Current.ResetQueryList;
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        foreach (var backend in backends)
        {
            if (backend is null)
            {
                continue;
            }

            backend.ForgetOwedBegin(); // the client left before the node needed it
            var keep = reusable && !backend.IsBroken && _context.Options.Current.ConnectionCache && _context.Store.Current.Find(backend.NodeId)?.IsUsable == true;
            if (keep && !string.IsNullOrWhiteSpace(resetQueries))
            {
                try
                {
                    foreach (var query in resetQueries.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                    {
                        await RunInternalAsync(backend, query, timeout.Token);
                    }
                }
                catch (Exception e) when (e is IOException or OperationCanceledException or PgProtocolException or InternalQueryException or ObjectDisposedException)
                {
                    keep = false;
                }
            }

            if (keep)
            {
                await _context.Pool.ReturnAsync(backend, _poolKey);
            }
            else
            {
                backend.Break();
                await backend.DisposeAsync();
            }
        }
    }

    [LoggerMessage(EventId = 1010, Level = LogLevel.Warning, Message = "pid {Pid}: backend node {NodeId} refused the login: {Reason}")]
    private static partial void LogLoginRejected(ILogger logger, int pid, int nodeId, string reason);

    [LoggerMessage(EventId = 1012, Level = LogLevel.Warning, Message = "pid {Pid}: backend node {NodeId} refused a login ({Reason}) while the pool held {Closed} idle connection(s) to it: closed them and tried again; keep num_init_children * max_pool below the node's max_connections")]
    private static partial void LogIdleClosedForLogin(ILogger logger, int pid, int nodeId, string reason, int closed);

    [LoggerMessage(EventId = 1011, Level = LogLevel.Error, Message = "pid {Pid}: connection to backend node {NodeId} failed: {Reason}")]
    private static partial void LogNodeUnreachable(ILogger logger, int pid, int nodeId, string reason);
}

/// <summary>A backend wants a password that only the client knows, and asking for it in clear text is not allowed.</summary>
public sealed class ClearTextPasswordRefusedException(string user)
    : Exception($"the backend requires a password for user \"{user}\", and pool_passwd has none")
{
    public string Detail => "Add the user to pool_passwd (pgpoolconsole passwd), or let the proxy ask for the password in clear text: connect with SSL, or set allow_clear_text_frontend_auth = on.";
}
