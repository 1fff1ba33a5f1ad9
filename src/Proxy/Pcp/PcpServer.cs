using System.Buffers.Binary;
using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Pcp;

/// <summary>
/// The PCP management port, wire-compatible with the stock pgpool-II 4.3 pcp_* tools
/// (../shared/docs/pcp-protocol.md): md5 salt authentication against pcp.conf, then node,
/// process and pool queries and attach / detach / recovery / reload / stop requests, all of
/// which go to <see cref="IClusterAdministration"/>. Error texts are pgpool's.
/// </summary>
public sealed partial class PcpServer
{
    /// <summary>How long a client may take to send a whole packet unless <see cref="IdleTimeout"/> says otherwise.</summary>
    public static readonly TimeSpan DefaultIdleTimeout = TimeSpan.FromSeconds(60);

    private readonly ClusterStateStore _store;
    private readonly OptionsHolder _options;
    private readonly IClusterAdministration _administration;
    private readonly Func<IReadOnlyList<PcpUser>> _users;
    private readonly ILogger _logger;

    public PcpServer(ClusterStateStore store, OptionsHolder options, IClusterAdministration administration, Func<IReadOnlyList<PcpUser>> users, ILogger<PcpServer> logger)
    {
        _store = store;
        _options = options;
        _administration = administration;
        _users = users;
        _logger = logger;
    }

    /// <summary>
    /// The time a client has to deliver each whole packet, counted from when the server starts
    /// waiting for it (a silent client, and one that trickles bytes, is told so and disconnected),
    /// and to take each reply (one that does not read is disconnected). Not a pgpool setting
    /// (pgpool waits forever); internal so tests can shorten it.
    /// </summary>
    internal TimeSpan IdleTimeout { get; set; } = DefaultIdleTimeout;

    /// <summary>
    /// Serves one PCP connection until the client sends 'X', closes, stalls or breaks the protocol.
    /// Returns how it ended: <see cref="PcpConnectionEnd.ClientNotReading"/> tells the host to abort
    /// the transport, because a graceful close would wait for ever to send the unread replies.
    /// </summary>
    public async Task<PcpConnectionEnd> HandleConnectionAsync(IDuplexPipe transport, EndPoint? remoteEndPoint, CancellationToken cancellationToken)
    {
        var client = remoteEndPoint is IPEndPoint ip ? ip.ToString() : "[local]";
        var end = await ServeAsync(transport, client, cancellationToken);

        // What is still pending (a FATAL error, say) gets a short limit: a client that does not take it does not read either.
        return end == PcpConnectionEnd.Closed && !await FinishAsync(transport.Output) ? PcpConnectionEnd.ClientNotReading : end;
    }

    private async Task<PcpConnectionEnd> ServeAsync(IDuplexPipe transport, string client, CancellationToken cancellationToken)
    {
        var reader = new PcpPacketReader(transport.Input, PcpWire.MaxRequestLength);
        var output = transport.Output;
        byte[]? salt = null;
        string? user = null;
        try
        {
            while (true)
            {
                var packet = await ReadRequestAsync(reader, output, client, cancellationToken);
                if (packet is null)
                {
                    return PcpConnectionEnd.Closed;
                }

                bool keepOpen;
                switch (packet.Type)
                {
                    case 'X':
                        return PcpConnectionEnd.Closed;
                    case 'M':
                        salt = RandomNumberGenerator.GetBytes(4);
                        PcpWire.WritePacket(output, 'm', salt);
                        keepOpen = true;
                        break;
                    case 'R':
                        user = Authenticate(output, packet, salt, client);
                        salt = null; // single use
                        keepOpen = user is not null;
                        if (keepOpen)
                        {
                            PcpWire.WriteStrings(output, 'r', "AuthenticationOK");
                        }

                        break;
                    case var _ when user is null:
                        LogUnauthenticatedRequest(_logger, PcpPacketReader.Printable(packet.Type), client);
                        Fatal(output, "authentication failed for new PCP connection", "connection not authorized");
                        return PcpConnectionEnd.Closed;
                    default:
                        keepOpen = await HandleRequestAsync(packet, output, user, client, cancellationToken);
                        break;
                }

                if (!keepOpen)
                {
                    return PcpConnectionEnd.Closed;
                }

                if (!await FlushAsync(output, client, cancellationToken))
                {
                    return PcpConnectionEnd.ClientNotReading;
                }
            }
        }
        catch (PcpPacketLengthException e)
        {
            LogInvalidPacket(_logger, client, e.Message);
            Fatal(output, "invalid PCP packet", $"incorrect packet length ({e.Length})");
            return PcpConnectionEnd.Closed;
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return PcpConnectionEnd.Closed; // shutting down (fast or immediate): the connection just closes
        }
        catch (Exception e) when (e is IOException or EndOfStreamException or ObjectDisposedException or InvalidOperationException)
        {
            LogConnectionLost(_logger, client, e.Message); // the tool went away mid-packet or mid-reply
            return PcpConnectionEnd.Closed;
        }
    }

    /// <summary>The next packet, or null when the client closed the connection or took too long (then it was told so).</summary>
    private async Task<PcpPacket?> ReadRequestAsync(PcpPacketReader reader, PipeWriter output, string client, CancellationToken cancellationToken)
    {
        var timeout = IdleTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            return await reader.ReadAsync(deadline.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            LogTimedOut(_logger, client, timeout.TotalSeconds);
            Fatal(output, "PCP connection timed out", string.Create(CultureInfo.InvariantCulture, $"no complete request received within {timeout.TotalSeconds:0.###} seconds"));
            return null;
        }
    }

    /// <summary>Handles an authenticated request. Returns false when the connection must close.</summary>
    private async Task<bool> HandleRequestAsync(PcpPacket packet, PipeWriter output, string user, string client, CancellationToken cancellationToken)
    {
        LogRequest(_logger, packet.Type, user);
        try
        {
            return await DispatchAsync(packet, output, client, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // A bug or an unexpected failure below: report it like pgpool's ereport(ERROR) and keep serving.
            LogRequestFailed(_logger, e, packet.Type);
            Error(output, "PCP request failed", e.Message);
            return true;
        }
    }

    private async Task<bool> DispatchAsync(PcpPacket packet, PipeWriter output, string client, CancellationToken cancellationToken)
    {
        switch (packet.Type)
        {
            case 'L':
                PcpWire.WriteStrings(output, 'l', PcpWire.CommandComplete, Number(_store.Current.Nodes.Length));
                return true;
            case 'I':
                WriteNodeInfo(output, packet.Text());
                return true;
            case 'H':
                WriteHealthCheckStats(output, packet.Text());
                return true;
            case 'N':
                {
                    var ids = _store.Sessions.List().Select(s => Number(s.Id)).ToList();
                    PcpWire.WriteStrings(output, 'n', [PcpWire.CommandComplete, Number(ids.Count), .. ids]);
                    return true;
                }

            case 'P':
                WriteProcessInfo(output, packet.Text());
                return true;
            case 'B':
                WritePoolStatus(output);
                return true;
            case 'C':
                await AttachAsync(output, packet.Text(), cancellationToken);
                return true;
            case 'D':
            case 'd':
                await DetachAsync(output, packet.Text(), graceful: packet.Type == 'd', cancellationToken);
                return true;
            case 'O':
                return await RecoverAsync(output, packet.Text(), cancellationToken);
            case 'J':
            case 'j':
                Error(output, "invalid pgpool mode for process promote node request",
                    $"promote is not supported in replication mode: every attached node is read-write, there is no standby to promote (node id {packet.Text().Trim()})");
                return true;
            case 'Z':
                await ReloadAsync(output, cancellationToken);
                return true;
            case 'T':
            case 't':
                return await StopAsync(output, packet.Payload, client, cancellationToken);
            case 'W':
                Error(output, "PCP: informing watchdog info failed", "watchdog is not enabled");
                return true;
            case 'F':
                return true; // "stop online recovery": pgpool sends no reply either
            default:
                LogUnknownPacket(_logger, PcpPacketReader.Printable(packet.Type));
                Fatal(output, "PCP processing request", $"unknown PCP packet type \"{PcpPacketReader.Printable(packet.Type)}\"");
                return false;
        }
    }

    /// <summary>
    /// Checks 'R' (user, md5(md5(md5(password) + user) + salt)) against pcp.conf. Returns the user,
    /// or null after sending pgpool's FATAL for the failure.
    /// </summary>
    private string? Authenticate(PipeWriter output, PcpPacket packet, byte[]? salt, string client)
    {
        if (salt is null)
        {
            LogAuthenticationFailed(_logger, null, client, "'R' without a salt request ('M') first");
            Fatal(output, "authentication failed", "username and/or password does not match");
            return null;
        }

        var parts = packet.Strings();
        if (parts.Count < 2)
        {
            LogAuthenticationFailed(_logger, null, client, "malformed authentication packet");
            Fatal(output, "failed to authenticate PCP user", "error while reading authentication packet");
            return null;
        }

        var (user, response) = (parts[0], parts[1]);
        foreach (var entry in _users())
        {
            if (entry.User != user)
            {
                continue;
            }

            var expected = PgMd5.Hex([.. Encoding.ASCII.GetBytes(PgMd5.Hex(entry.Md5Hex + entry.User)), .. salt]);
            if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.UTF8.GetBytes(response)))
            {
                return user;
            }
        }

        LogAuthenticationFailed(_logger, user, client, "username and/or password does not match");
        Fatal(output, $"authentication failed for user \"{user}\"", "username and/or password does not match");
        return null;
    }

    private void WriteNodeInfo(PipeWriter output, string idText)
    {
        var snapshot = _store.Current;
        if (!TryParseNodeId(idText, out var nodeId, allowAll: true) || (nodeId != -1 && snapshot.Find(nodeId) is null))
        {
            Error(output, "informing node info failed", $"invalid node ID : {idText}");
            return;
        }

        var nodes = nodeId == -1 ? snapshot.Nodes.ToList() : [snapshot.Find(nodeId)!];
        PcpWire.WriteStrings(output, 'i', "ArraySize", Number(nodes.Count));
        foreach (var node in nodes)
        {
            var role = snapshot.RoleOf(node.Id);
            PcpWire.WriteStrings(output, 'i',
                "NodeInfo",
                node.Host,
                Number(node.Port),
                Number((int)node.Status),
                "0", // quarantine: not used in native replication mode
                ClusterReports.PgStatus(_store, node),
                (snapshot.NormalizedWeight(node.Id) * 2147483647.0).ToString("F6", CultureInfo.InvariantCulture), // the client divides by RAND_MAX
                Number((int)role),
                StatusNames.Of(role), // pg_role: in replication mode the same as the role
                "0", // replication delay
                "", // replication state
                "", // replication sync state
                Number(node.LastStatusChange.ToUnixTimeSeconds()));
        }

        PcpWire.WriteStrings(output, 'i', PcpWire.CommandComplete);
    }

    private void WriteHealthCheckStats(PipeWriter output, string idText)
    {
        var snapshot = _store.Current;
        if (!TryParseNodeId(idText, out var nodeId, allowAll: false) || snapshot.Find(nodeId) is not { } node)
        {
            Error(output, "informing health check stats info failed", $"invalid node ID {idText}");
            return;
        }

        PcpWire.WriteStrings(output, 'h', [PcpWire.CommandComplete, .. ClusterReports.HealthCheckRow(_store, snapshot, node)]);
    }

    /// <summary>One row per backend connection of each session (a session stands in for a pgpool child process, its id for the pid).</summary>
    private void WriteProcessInfo(PipeWriter output, string pidText)
    {
        if (!int.TryParse(pidText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var pid) || pid < 0
            || (pid != 0 && _store.Sessions.Find(pid) is null))
        {
            Error(output, "informing process info failed", $"invalid process ID : {pidText}");
            return;
        }

        var sessions = pid == 0 ? _store.Sessions.List() : [_store.Sessions.Find(pid)!];
        var rows = ClusterReports.PoolRows(sessions, _store.TimeProvider.GetUtcNow());
        PcpWire.WriteStrings(output, 'p', "ArraySize", Number(rows.Count));
        foreach (var row in rows)
        {
            PcpWire.WriteStrings(output, 'p', ["ProcessInfo", .. row]);
        }

        PcpWire.WriteStrings(output, 'p', PcpWire.CommandComplete);
    }

    /// <summary>pcp_pool_status: every effective setting (the ArraySize packet carries a binary count).</summary>
    private void WritePoolStatus(PipeWriter output)
    {
        var settings = _options.Current.Effective;
        var header = new byte["ArraySize\0"u8.Length + 4];
        "ArraySize\0"u8.CopyTo(header);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(header.Length - 4), settings.Count);
        PcpWire.WritePacket(output, 'b', header);
        foreach (var setting in settings)
        {
            // The client keeps 64, 512 and 80 bytes (with the NUL) of name, value and description.
            PcpWire.WriteStrings(output, 'b', "ProcessConfig", Clip(setting.Name, 63), Clip(setting.Value, 511), Clip(setting.Description, 79));
        }

        PcpWire.WriteStrings(output, 'b', PcpWire.CommandComplete);
    }

    /// <summary>
    /// Failback ('C'), with pgpool's texts for an id out of range or a node that is not detached.
    /// Other refusals (unreachable, or data that differs from the main node's) keep our own text.
    /// </summary>
    private Task AttachAsync(PipeWriter output, string idText, CancellationToken cancellationToken) =>
        RunNodeActionAsync(output, idText, 'c', "invalid failback request",
            (id, status) => $"node id : {id} status: [{status}] not valid for failback",
            wrongStateIsUsable: true,
            id => _administration.AttachAsync(id, cancellationToken));

    /// <summary>Detach ('D', or 'd' gracefully), with pgpool's texts for an id out of range or a node that is not attached.</summary>
    private Task DetachAsync(PipeWriter output, string idText, bool graceful, CancellationToken cancellationToken) =>
        RunNodeActionAsync(output, idText, 'd', "invalid degenerate backend request",
            (id, status) => $"node id : {id} status: [{status}] is not valid for failover",
            wrongStateIsUsable: false,
            id => _administration.DetachAsync(id, graceful, cancellationToken));

    /// <summary>
    /// Runs an attach or detach. pgpool's "status not valid" text is used only when pgpool itself
    /// would refuse: an unknown node, or a node whose usability (<paramref name="wrongStateIsUsable"/>)
    /// makes the request meaningless.
    /// </summary>
    private async Task RunNodeActionAsync(PipeWriter output, string idText, char replyType, string invalidRequest, Func<int, int, string> invalidState, bool wrongStateIsUsable, Func<int, Task<AdminResult>> run)
    {
        if (!TryParseNodeId(idText, out var nodeId, allowAll: false))
        {
            Error(output, $"{invalidRequest}, node id: {idText} is out of range. node id must be between [0 and {MaxNodeId}]", null);
            return;
        }

        var result = await run(nodeId);
        switch (result.Error)
        {
            case AdminError.None:
                PcpWire.WriteStrings(output, replyType, PcpWire.CommandComplete);
                break;
            case AdminError.UnknownNode:
            case AdminError.InvalidState when _store.Current.Find(nodeId)?.IsUsable == wrongStateIsUsable:
                Error(output, $"{invalidRequest}, {invalidState(nodeId, StatusNumber(nodeId))}", result.Message);
                break;
            default:
                Error(output, result.Message, result.Detail);
                break;
        }
    }

    /// <summary>Online recovery: waits for the whole job, then answers 'c' or the error. Returns false when the connection must close.</summary>
    private async Task<bool> RecoverAsync(PipeWriter output, string idText, CancellationToken cancellationToken)
    {
        if (!TryParseNodeId(idText, out var nodeId, allowAll: false) || _store.Current.Find(nodeId) is not { } node)
        {
            Error(output, "process recovery request failed", $"node id {idText} is not valid");
            return true;
        }

        if (node.IsUsable)
        {
            Error(output, $"node recovery failed, node id: {nodeId} is alive", null);
            return true;
        }

        var result = await _administration.RecoverAsync(nodeId, cancellationToken);
        switch (result.Error)
        {
            case AdminError.None:
                PcpWire.WriteStrings(output, 'c', PcpWire.CommandComplete);
                return true;
            case AdminError.Busy:
                Fatal(output, "process recovery request failed", "pgpool-II is already processing another recovery request.");
                return false;
            case AdminError.UnknownNode:
                Error(output, "process recovery request failed", $"node id {nodeId} is not valid");
                return true;
            case AdminError.InvalidState:
                Error(output, $"node recovery failed, node id: {nodeId} is alive", result.Message);
                return true;
            default:
                Error(output, result.Message, result.Detail);
                return true;
        }
    }

    private async Task ReloadAsync(PipeWriter output, CancellationToken cancellationToken)
    {
        var result = await _administration.ReloadAsync(cancellationToken);
        if (result.Succeeded)
        {
            PcpWire.WriteStrings(output, 'z', PcpWire.CommandComplete);
        }
        else
        {
            Error(output, "process reload config request failed", result.Detail ?? result.Message);
        }
    }

    /// <summary>Like pgpool: answer 't' first, then shut down (this connection closes).</summary>
    private async Task<bool> StopAsync(PipeWriter output, byte[] payload, string client, CancellationToken cancellationToken)
    {
        var mode = payload.Length > 0 ? (char)payload[0] : '\0';
        ShutdownMode? shutdown = mode switch
        {
            's' => ShutdownMode.Smart,
            'f' => ShutdownMode.Fast,
            'i' => ShutdownMode.Immediate,
            _ => null,
        };
        if (shutdown is null)
        {
            Error(output, "PCP: error while processing shutdown request", $"invalid shutdown mode \"{(mode == '\0' ? "" : PcpPacketReader.Printable(mode))}\"");
            return true;
        }

        PcpWire.WriteStrings(output, 't', PcpWire.CommandComplete);
        await FlushAsync(output, client, cancellationToken);
        LogStopRequested(_logger, shutdown.Value.ToString().ToLowerInvariant());
        _ = Task.Run(() => _administration.StopAsync(shutdown.Value, CancellationToken.None), CancellationToken.None);
        return false;
    }

    /// <summary>Sends what is written; false when the client has not taken it within <see cref="IdleTimeout"/> (it does not read).</summary>
    private async Task<bool> FlushAsync(PipeWriter output, string client, CancellationToken cancellationToken)
    {
        var timeout = IdleTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        try
        {
            await output.FlushAsync(deadline.Token);
            return true;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            LogNotReading(_logger, client, timeout.TotalSeconds);
            return false;
        }
    }

    private int MaxNodeId => Math.Max(0, _store.Current.Nodes.Length - 1);

    /// <summary>pgpool's backend_status number of a node (0, unused, for an id that is not configured).</summary>
    private int StatusNumber(int nodeId) => _store.Current.Find(nodeId) is { } node ? (int)node.Status : (int)NodeStatus.Unused;

    private static string Clip(string value, int max) => value.Length <= max ? value : value[..max];

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static bool TryParseNodeId(string text, out int nodeId, bool allowAll) =>
        int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out nodeId) && (nodeId >= 0 || (allowAll && nodeId == -1));

    private static void Error(PipeWriter output, string message, string? detail) =>
        PcpWire.WriteError(output, new PcpError("ERROR", message, detail));

    /// <summary>A FATAL error; the caller closes the connection after it (<see cref="HandleConnectionAsync"/> flushes it).</summary>
    private static void Fatal(PipeWriter output, string message, string? detail) =>
        PcpWire.WriteError(output, new PcpError("FATAL", message, detail));

    /// <summary>Flushes what is pending (a FATAL error, say) with a short limit. False when the client did not take it in time.</summary>
    private static async Task<bool> FinishAsync(PipeWriter output)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await output.FlushAsync(timeout.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false; // the client does not read
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or ObjectDisposedException)
        {
            return true; // the client is gone
        }
    }

    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "PCP authentication failed for user \"{User}\" from {Client}: {Reason}")]
    private static partial void LogAuthenticationFailed(ILogger logger, string? user, string client, string reason);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "invalid PCP packet from {Client}: {Reason}")]
    private static partial void LogInvalidPacket(ILogger logger, string client, string reason);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Debug, Message = "pcp_child: received PCP packet type of service '{Type}' from user {User}")]
    private static partial void LogRequest(ILogger logger, char type, string user);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Warning, Message = "PCP client {Client} sent no complete request within {Seconds} seconds; closing the connection")]
    private static partial void LogTimedOut(ILogger logger, string client, double seconds);

    [LoggerMessage(EventId = 6005, Level = LogLevel.Warning, Message = "PCP request '{Type}' before authentication from {Client}; closing the connection")]
    private static partial void LogUnauthenticatedRequest(ILogger logger, string type, string client);

    [LoggerMessage(EventId = 6006, Level = LogLevel.Warning, Message = "unknown PCP packet type \"{Type}\"; closing the connection")]
    private static partial void LogUnknownPacket(ILogger logger, string type);

    [LoggerMessage(EventId = 6007, Level = LogLevel.Error, Message = "PCP request '{Type}' failed")]
    private static partial void LogRequestFailed(ILogger logger, Exception exception, char type);

    [LoggerMessage(EventId = 6008, Level = LogLevel.Debug, Message = "PCP connection from {Client} ended: {Reason}")]
    private static partial void LogConnectionLost(ILogger logger, string client, string reason);

    [LoggerMessage(EventId = 6009, Level = LogLevel.Information, Message = "PCP: {Mode} shutdown requested")]
    private static partial void LogStopRequested(ILogger logger, string mode);

    [LoggerMessage(EventId = 6010, Level = LogLevel.Warning, Message = "PCP client {Client} did not read its reply within {Seconds} seconds; closing the connection")]
    private static partial void LogNotReading(ILogger logger, string client, double seconds);
}
