using System.Buffers;
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
/// process and pool queries and attach / detach / recovery / reload / stop requests.
/// </summary>
public sealed partial class PcpServer
{
    /// <summary>pgpool refuses packets with a length of 260 or more.</summary>
    public const int MaxPacketLength = 259;

    private static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(60);

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

    /// <summary>Serves one PCP connection until the client sends 'X', closes, stalls or errs.</summary>
    public async Task HandleConnectionAsync(IDuplexPipe transport, EndPoint? remoteEndPoint, CancellationToken cancellationToken)
    {
        var reader = new PgMessageReader(transport.Input, MaxPacketLength, "PCP client");
        var output = transport.Output;
        byte[]? salt = null;
        string? user = null;
        try
        {
            while (true)
            {
                PgMessage packet;
                using (var idle = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
                {
                    idle.CancelAfter(IdleTimeout);
                    try
                    {
                        packet = await reader.ReadAsync(idle.Token);
                    }
                    catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
                    {
                        await FatalAsync(output, "PCP client timed out", $"no request within {IdleTimeout.TotalSeconds:0} seconds");
                        return;
                    }
                }

                var type = packet.TypeChar;
                var payload = packet.PayloadToArray();
                switch (type)
                {
                    case 'X':
                        return;
                    case 'M':
                        salt = RandomNumberGenerator.GetBytes(4);
                        WritePacket(output, 'm', salt);
                        await output.FlushAsync(cancellationToken);
                        continue;
                    case 'R':
                        {
                            var authenticated = Authenticate(payload, salt, out var attemptedUser);
                            salt = null; // single use
                            if (authenticated is null)
                            {
                                LogAuthenticationFailed(_logger, attemptedUser, remoteEndPoint?.ToString() ?? "local");
                                await FatalAsync(output, attemptedUser is null ? "authentication failed" : $"authentication failed for user \"{attemptedUser}\"", "username and/or password does not match");
                                return;
                            }

                            user = authenticated;
                            WriteStrings(output, 'r', "AuthenticationOK");
                            await output.FlushAsync(cancellationToken);
                            continue;
                        }
                }

                if (user is null)
                {
                    await FatalAsync(output, "authentication failed for new PCP connection", "connection not authorized");
                    return;
                }

                if (!await HandleCommandAsync(type, payload, output, user, cancellationToken))
                {
                    return;
                }
            }
        }
        catch (PgProtocolException e)
        {
            LogInvalidPacket(_logger, e.Message);
            await FatalAsync(output, "invalid PCP packet", e.Message.Contains("bytes long", StringComparison.Ordinal) || e.Message.Contains("length", StringComparison.Ordinal)
                ? $"incorrect packet length ({e.Message})"
                : e.Message);
        }
        catch (PgConnectionClosedException)
        {
            // the tool exited
        }
        catch (IOException)
        {
            // the tool went away
        }
        finally
        {
            reader.Release();
        }
    }

    /// <summary>Handles an authenticated request. Returns false when the connection must close.</summary>
    private async Task<bool> HandleCommandAsync(char type, byte[] payload, PipeWriter output, string user, CancellationToken cancellationToken)
    {
        LogRequest(_logger, type, user);
        switch (type)
        {
            case 'L':
                WriteStrings(output, 'l', "CommandComplete", _store.Current.Nodes.Length.ToString(CultureInfo.InvariantCulture));
                break;
            case 'I':
                WriteNodeInfo(output, ReadText(payload));
                break;
            case 'H':
                WriteHealthCheckStats(output, ReadText(payload));
                break;
            case 'N':
                {
                    var pids = _store.Sessions.List().Select(s => s.Id.ToString(CultureInfo.InvariantCulture)).ToList();
                    WriteStrings(output, 'n', ["CommandComplete", pids.Count.ToString(CultureInfo.InvariantCulture), .. pids]);
                    break;
                }

            case 'P':
                WriteProcessInfo(output, ReadText(payload));
                break;
            case 'B':
                WritePoolStatus(output);
                break;
            case 'C':
                await RunNodeActionAsync(output, 'c', ReadText(payload), "attach", id => _administration.AttachAsync(id, cancellationToken));
                break;
            case 'D':
            case 'd':
                await RunNodeActionAsync(output, 'd', ReadText(payload), "detach", id => _administration.DetachAsync(id, type == 'd', cancellationToken));
                break;
            case 'O':
                {
                    if (!TryParseNodeId(ReadText(payload), out var nodeId) || _store.Current.Find(nodeId) is null)
                    {
                        WriteError(output, "process recovery request failed", $"node id {ReadText(payload)} is not valid");
                        break;
                    }

                    var result = await _administration.RecoverAsync(nodeId, cancellationToken);
                    if (result.Error == AdminError.Busy)
                    {
                        await FatalAsync(output, "failed to process PCP request at the moment", "pgpool-II is already processing another recovery request.");
                        return false;
                    }

                    if (result.Succeeded)
                    {
                        WriteStrings(output, 'c', "CommandComplete");
                    }
                    else
                    {
                        WriteError(output, result.Message, result.Detail);
                    }

                    break;
                }

            case 'J':
            case 'j':
                WriteError(output, "promote is not supported in native replication mode", "every attached node is read-write; there is no standby to promote");
                break;
            case 'Z':
                {
                    var result = await _administration.ReloadAsync(cancellationToken);
                    if (result.Succeeded)
                    {
                        WriteStrings(output, 'z', "CommandComplete");
                    }
                    else
                    {
                        WriteError(output, "PCP: error while reloading the configuration", result.Detail ?? result.Message);
                    }

                    break;
                }

            case 'T':
            case 't':
                {
                    var mode = payload.Length > 0 ? (char)payload[0] : 's';
                    ShutdownMode? shutdown = mode switch
                    {
                        's' => ShutdownMode.Smart,
                        'f' => ShutdownMode.Fast,
                        'i' => ShutdownMode.Immediate,
                        _ => null,
                    };
                    if (shutdown is null)
                    {
                        WriteError(output, "PCP: error while processing shutdown request", $"invalid shutdown mode \"{mode}\"");
                        break;
                    }

                    // Like pgpool: answer first, then shut down.
                    WriteStrings(output, 't', "CommandComplete");
                    await output.FlushAsync(cancellationToken);
                    _ = Task.Run(() => _administration.StopAsync(shutdown.Value, CancellationToken.None), CancellationToken.None);
                    return false;
                }

            case 'W':
                WriteError(output, "PCP: informing watchdog info failed", "watchdog is not enabled");
                break;
            case 'F':
                return true; // "stop recovery": no reply, as pgpool
            default:
                await FatalAsync(output, "unknown PCP packet type", $"packet type \"{PgMessageReader.Printable((byte)type)}\" is not a PCP request");
                return false;
        }

        await output.FlushAsync(cancellationToken);
        return true;
    }

    private async Task RunNodeActionAsync(PipeWriter output, char replyType, string idText, string action, Func<int, Task<AdminResult>> run)
    {
        if (!TryParseNodeId(idText, out var nodeId) || _store.Current.Find(nodeId) is null)
        {
            WriteError(output, $"{action} request failed", $"invalid node ID : {idText}");
            return;
        }

        var result = await run(nodeId);
        if (result.Succeeded)
        {
            WriteStrings(output, replyType, "CommandComplete");
        }
        else
        {
            WriteError(output, result.Message, result.Detail);
        }
    }

    /// <summary>Checks 'R' (user, md5(md5(md5(password)+user)+salt)) against pcp.conf. Returns the user or null.</summary>
    private string? Authenticate(byte[] payload, byte[]? salt, out string? attemptedUser)
    {
        attemptedUser = null;
        var parts = SplitStrings(payload);
        if (parts.Count < 2)
        {
            return null;
        }

        attemptedUser = parts[0];
        if (salt is null)
        {
            attemptedUser = null; // 'R' without 'M': pgpool says only "authentication failed"
            return null;
        }

        var response = parts[1];
        foreach (var entry in _users())
        {
            if (entry.User != parts[0])
            {
                continue;
            }

            var expected = PgMd5.Hex([.. Encoding.ASCII.GetBytes(PgMd5.Hex(entry.Md5Hex + entry.User)), .. salt]);
            if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(response)))
            {
                return entry.User;
            }
        }

        return null;
    }

    private void WriteNodeInfo(PipeWriter output, string idText)
    {
        var snapshot = _store.Current;
        if (!TryParseNodeId(idText, out var nodeId) || (nodeId != -1 && snapshot.Find(nodeId) is null))
        {
            WriteError(output, "informing node info failed", $"invalid node ID : {idText}");
            return;
        }

        var nodes = nodeId == -1 ? snapshot.Nodes.ToList() : [snapshot.Find(nodeId)!];
        WriteStrings(output, 'i', "ArraySize", nodes.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var node in nodes)
        {
            var role = snapshot.RoleOf(node.Id);
            WriteStrings(output, 'i',
                "NodeInfo",
                node.Host,
                node.Port.ToString(CultureInfo.InvariantCulture),
                ((int)node.Status).ToString(CultureInfo.InvariantCulture),
                "0",
                ClusterReports.PgStatus(_store, node),
                (snapshot.NormalizedWeight(node.Id) * 2147483647.0).ToString("F6", CultureInfo.InvariantCulture),
                ((int)role).ToString(CultureInfo.InvariantCulture),
                StatusNames.Of(role),
                "0",
                "",
                "",
                node.LastStatusChange.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture));
        }

        WriteStrings(output, 'i', "CommandComplete");
    }

    private void WriteHealthCheckStats(PipeWriter output, string idText)
    {
        var snapshot = _store.Current;
        if (!TryParseNodeId(idText, out var nodeId) || snapshot.Find(nodeId) is not { } node)
        {
            WriteError(output, "informing health check stats info failed", $"invalid node ID {idText}");
            return;
        }

        WriteStrings(output, 'h', ["CommandComplete", .. ClusterReports.HealthCheckRow(_store, snapshot, node)]);
    }

    /// <summary>One row per backend connection of each session (a session stands in for a pgpool child).</summary>
    private void WriteProcessInfo(PipeWriter output, string pidText)
    {
        if (!int.TryParse(pidText, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var pid) || pid < 0)
        {
            WriteError(output, "informing process info failed", $"invalid process ID : {pidText}");
            return;
        }

        var sessions = pid == 0 ? _store.Sessions.List() : _store.Sessions.Find(pid) is { } one ? [one] : [];
        if (pid != 0 && sessions.Count == 0)
        {
            WriteError(output, "informing process info failed", $"invalid process ID : {pidText}");
            return;
        }

        var rows = ClusterReports.PoolRows(sessions, _store.TimeProvider.GetUtcNow());

        WriteStrings(output, 'p', "ArraySize", rows.Count.ToString(CultureInfo.InvariantCulture));
        foreach (var row in rows)
        {
            WriteStrings(output, 'p', ["ProcessInfo", .. row]);
        }

        WriteStrings(output, 'p', "CommandComplete");
    }

    /// <summary>pcp_pool_status: every effective setting (ArraySize carries a binary count).</summary>
    private void WritePoolStatus(PipeWriter output)
    {
        var settings = _options.Current.Effective;
        var header = new ArrayBufferWriter<byte>();
        header.Write("ArraySize\0"u8);
        var count = new byte[4];
        BinaryPrimitives.WriteInt32BigEndian(count, settings.Count);
        header.Write(count);
        WritePacket(output, 'b', header.WrittenSpan);
        foreach (var setting in settings)
        {
            WriteStrings(output, 'b', "ProcessConfig", Clip(setting.Name, 63), Clip(setting.IsSecret ? "********" : setting.Value, 511), Clip(setting.Description, 79));
        }

        WriteStrings(output, 'b', "CommandComplete");
    }

    private static string Clip(string value, int max) => value.Length <= max ? value : value[..max];

    private static bool TryParseNodeId(string text, out int nodeId) =>
        int.TryParse(text.Trim(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out nodeId) && nodeId >= -1;

    private static string ReadText(byte[] payload)
    {
        var end = Array.IndexOf(payload, (byte)0);
        return Encoding.UTF8.GetString(payload, 0, end < 0 ? payload.Length : end);
    }

    private static List<string> SplitStrings(byte[] payload)
    {
        var parts = new List<string>();
        var start = 0;
        for (var i = 0; i < payload.Length; i++)
        {
            if (payload[i] == 0)
            {
                parts.Add(Encoding.UTF8.GetString(payload, start, i - start));
                start = i + 1;
            }
        }

        return parts;
    }

    private static void WriteStrings(PipeWriter output, char type, params string[] values)
    {
        var buffer = new ArrayBufferWriter<byte>();
        foreach (var value in values)
        {
            buffer.Write(Encoding.UTF8.GetBytes(value));
            buffer.Write([(byte)0]);
        }

        WritePacket(output, type, buffer.WrittenSpan);
    }

    private static void WritePacket(PipeWriter output, char type, ReadOnlySpan<byte> payload)
    {
        var span = output.GetSpan(5 + payload.Length);
        span[0] = (byte)type;
        BinaryPrimitives.WriteInt32BigEndian(span[1..], payload.Length + 4);
        payload.CopyTo(span[5..]);
        output.Advance(5 + payload.Length);
    }

    /// <summary>
    /// An error packet the stock client prints as "ERROR:  message / DETAIL:  detail". Fields in
    /// the order S, C, M, D; the message must not start with S, M or D (the client's parser would
    /// mangle it), so such messages are prefixed.
    /// </summary>
    private static void WriteError(PipeWriter output, string message, string? detail, string severity = "ERROR")
    {
        if (message.Length > 0 && message[0] is 'S' or 'M' or 'D')
        {
            message = "PCP: " + message;
        }

        var buffer = new ArrayBufferWriter<byte>();
        void Field(char code, string value)
        {
            buffer.Write([(byte)code]);
            buffer.Write(Encoding.UTF8.GetBytes(value));
            buffer.Write([(byte)0]);
        }

        Field('S', severity);
        Field('C', "XX000");
        Field('M', message);
        if (detail is not null)
        {
            Field('D', detail);
        }

        buffer.Write([(byte)0]);
        WritePacket(output, 'E', buffer.WrittenSpan);
    }

    private static async Task FatalAsync(PipeWriter output, string message, string? detail)
    {
        try
        {
            WriteError(output, message, detail, "FATAL");
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await output.FlushAsync(timeout.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            // the client is gone
        }
    }

    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "PCP authentication failed for user \"{User}\" from {Client}")]
    private static partial void LogAuthenticationFailed(ILogger logger, string? user, string client);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "invalid PCP packet: {Reason}")]
    private static partial void LogInvalidPacket(ILogger logger, string reason);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Debug, Message = "pcp_child: received PCP packet type of service '{Type}' from user {User}")]
    private static partial void LogRequest(ILogger logger, char type, string user);
}
