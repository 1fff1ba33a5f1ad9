using System.Globalization;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Pcp;

/// <summary>Where and how to connect, as the stock tools take it (-h -p -U and the password).</summary>
/// <param name="Host">A host name or address (TCP); null or empty for the Unix socket in /tmp; a path (starting with '/') for the Unix socket in that directory.</param>
/// <param name="Timeout">Limit for connecting and for each reply (pgpool-II 2.x's positional timeout); null waits forever, as the 4.x tools do. Recovery always waits for its end.</param>
/// <param name="Debug">Receives the stock tools' -d lines ("DEBUG: recv: tos="l", len=22").</param>
public sealed record PcpConnectOptions(string? Host, int Port, string User, string Password, TimeSpan? Timeout = null, Action<string>? Debug = null)
{
    /// <summary>The directory of the Unix socket the stock tools use when no host is given.</summary>
    public const string DefaultSocketDirectory = "/tmp";
}

/// <summary>The server answered a request with an error ('E'); <see cref="Error"/> is what it sent.</summary>
public sealed class PcpException(PcpError error) : Exception(error.ToString().TrimEnd())
{
    public PcpError Error { get; } = error;
}

/// <summary>Connecting failed; the message is the stock tools' text ("ERROR: connection to host ... failed with error ...").</summary>
public sealed class PcpConnectionException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>One backend as pcp_node_info reports it.</summary>
/// <param name="RawWeight">The weight as sent: the normalised weight times RAND_MAX.</param>
/// <param name="StatusChangeTime">Unix epoch seconds.</param>
public sealed record PcpNodeInfo(
    string Host, int Port, int Status, bool Quarantine, string PgStatus, double RawWeight, int Role, string PgRole,
    ulong ReplicationDelay, string ReplicationState, string ReplicationSyncState, long StatusChangeTime)
{
    public const double RandMax = 2147483647.0;

    public double Weight => RawWeight / RandMax;
}

/// <summary>The 17 fields of one pcp_proc_info row, in wire order (pool_pid first, status last).</summary>
public sealed record PcpProcessInfo(IReadOnlyList<string> Fields)
{
    public const int FieldCount = 17;

    public string Pid => Fields[0];
}

/// <summary>One pcp_pool_status row.</summary>
public sealed record PcpConfigItem(string Name, string Value, string Description);

/// <summary>
/// A PCP client that speaks to pgpool-II 4.x (and to PgPoolConsole's PCP port) like the stock
/// pcp_* tools: md5 salt authentication, one request at a time, typed replies. Errors the server
/// reports throw <see cref="PcpException"/>.
/// </summary>
public sealed class PcpClient : IAsyncDisposable
{
    private readonly Stream _stream;
    private readonly PcpPacketReader _reader;
    private readonly PipeWriter _writer;
    private readonly PcpConnectOptions _options;
    private bool _closed;

    private PcpClient(Stream stream, PcpConnectOptions options)
    {
        _stream = stream;
        _options = options;
        _reader = new PcpPacketReader(PipeReader.Create(stream), PcpWire.MaxReplyLength);
        _writer = PipeWriter.Create(stream);
    }

    /// <summary>Connects and authenticates. Throws <see cref="PcpConnectionException"/> or, for a refused login, <see cref="PcpException"/>.</summary>
    public static async Task<PcpClient> ConnectAsync(PcpConnectOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var socket = await OpenSocketAsync(options, cancellationToken);
        var client = new PcpClient(new NetworkStream(socket, ownsSocket: true), options);
        try
        {
            await client.AuthenticateAsync(cancellationToken);
            return client;
        }
        catch
        {
            client._closed = true; // the server closed (FATAL) or broke the protocol: no 'X'
            await client.DisposeAsync();
            throw;
        }
    }

    /// <summary>Where a host/port pair leads: the socket file for a Unix-socket host, else null.</summary>
    public static string? UnixSocketPath(string? host, int port) =>
        string.IsNullOrEmpty(host) ? PgSocketPaths.For(PcpConnectOptions.DefaultSocketDirectory, port)
        : host.StartsWith('/') ? PgSocketPaths.For(host, port)
        : null;

    public async Task<int> NodeCountAsync(CancellationToken cancellationToken = default)
    {
        var reply = await RequestAsync('L', [], 'l', cancellationToken);
        return ParseInt(Field(reply.Strings(), 1));
    }

    /// <summary>One node, or all of them for <paramref name="nodeId"/> -1.</summary>
    public Task<IReadOnlyList<PcpNodeInfo>> NodeInfoAsync(int nodeId, CancellationToken cancellationToken = default) =>
        RequestArrayAsync('I', NumberText(nodeId), 'i', "NodeInfo", 12, fields => new PcpNodeInfo(
            fields[0], ParseInt(fields[1]), ParseInt(fields[2]), fields[3] == "1", fields[4],
            double.Parse(fields[5], CultureInfo.InvariantCulture), ParseInt(fields[6]), fields[7],
            ulong.Parse(fields[8], CultureInfo.InvariantCulture), fields[9], fields[10], long.Parse(fields[11], CultureInfo.InvariantCulture)), cancellationToken);

    /// <summary>The 20 health check fields of a node (node_id first), as strings.</summary>
    public async Task<IReadOnlyList<string>> HealthCheckStatsAsync(int nodeId, CancellationToken cancellationToken = default)
    {
        var reply = await RequestAsync('H', NumberText(nodeId), 'h', cancellationToken);
        var fields = reply.Strings();
        return fields.Count >= 21 ? fields.Skip(1).Take(20).ToList() : throw InvalidResponse('h');
    }

    /// <summary>The process ids (session ids for PgPoolConsole).</summary>
    public async Task<IReadOnlyList<int>> ProcessCountAsync(CancellationToken cancellationToken = default)
    {
        var fields = (await RequestAsync('N', [], 'n', cancellationToken)).Strings();
        var count = ParseInt(Field(fields, 1));
        return fields.Count >= 2 + count ? fields.Skip(2).Take(count).Select(ParseInt).ToList() : throw InvalidResponse('n');
    }

    /// <summary>Rows of one process, or of all for <paramref name="pid"/> 0.</summary>
    public Task<IReadOnlyList<PcpProcessInfo>> ProcessInfoAsync(int pid, CancellationToken cancellationToken = default) =>
        RequestArrayAsync('P', NumberText(pid), 'p', "ProcessInfo", PcpProcessInfo.FieldCount, fields => new PcpProcessInfo(fields), cancellationToken);

    /// <summary>Every setting (name, value, description).</summary>
    public Task<IReadOnlyList<PcpConfigItem>> PoolStatusAsync(CancellationToken cancellationToken = default) =>
        RequestArrayAsync('B', [], 'b', "ProcessConfig", 3, fields => new PcpConfigItem(fields[0], fields[1], fields[2]), cancellationToken);

    public Task AttachNodeAsync(int nodeId, CancellationToken cancellationToken = default) =>
        RequestAsync('C', NumberText(nodeId), 'c', cancellationToken);

    public Task DetachNodeAsync(int nodeId, bool graceful, CancellationToken cancellationToken = default) =>
        RequestAsync(graceful ? 'd' : 'D', NumberText(nodeId), 'd', cancellationToken);

    /// <summary>Online recovery: waits, with no time limit, until the server says it ended.</summary>
    public Task RecoverNodeAsync(int nodeId, CancellationToken cancellationToken = default) =>
        RequestAsync('O', NumberText(nodeId), 'c', cancellationToken, noTimeout: true);

    public Task PromoteNodeAsync(int nodeId, bool graceful, bool switchover, CancellationToken cancellationToken = default) =>
        RequestAsync(graceful ? 'j' : 'J', [.. Encoding.ASCII.GetBytes(nodeId.ToString(CultureInfo.InvariantCulture) + " "), 0, (byte)(switchover ? 's' : 'n')], 'd', cancellationToken);

    /// <summary><paramref name="cluster"/>: every pgpool of the watchdog cluster ('c'), else this one ('l').</summary>
    public Task ReloadConfigAsync(bool cluster, CancellationToken cancellationToken = default) =>
        RequestAsync('Z', [(byte)(cluster ? 'c' : 'l')], 'z', cancellationToken);

    /// <summary><paramref name="mode"/> is 's', 'f' or 'i'. The server answers, then shuts down.</summary>
    public async Task StopPgpoolAsync(char mode, bool cluster, CancellationToken cancellationToken = default)
    {
        await RequestAsync(cluster ? 't' : 'T', [(byte)mode], 't', cancellationToken);
        _closed = true; // the server has closed its end
    }

    /// <summary>The watchdog JSON of one node, or of all for -1.</summary>
    public async Task<string> WatchdogInfoAsync(int nodeId, CancellationToken cancellationToken = default) =>
        Field((await RequestAsync('W', NumberText(nodeId), 'w', cancellationToken)).Strings(), 1);

    /// <summary>Says goodbye ('X') and closes.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_closed)
        {
            _closed = true;
            try
            {
                await SendAsync('X', [], CancellationToken.None);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or InvalidOperationException or OperationCanceledException)
            {
                // the server is already gone
            }
        }

        await _reader.Pipe.CompleteAsync();
        await _writer.CompleteAsync();
        await _stream.DisposeAsync();
    }

    private async Task AuthenticateAsync(CancellationToken cancellationToken)
    {
        await SendAsync('M', [], cancellationToken, log: false);
        var salt = (await ReceiveAsync('m', cancellationToken)).Payload;
        if (salt.Length < 4)
        {
            throw InvalidResponse('m');
        }

        // md5(md5(md5(password) + user) + salt): pcp.conf holds md5(password), the server salts md5(that + user).
        var inner = PgMd5.Hex(PgMd5.Hex(_options.Password) + _options.User);
        var response = PgMd5.Hex([.. Encoding.ASCII.GetBytes(inner), .. salt.AsSpan(0, 4)]);
        await SendAsync('R', [.. Encoding.UTF8.GetBytes(_options.User), 0, .. Encoding.ASCII.GetBytes(response), 0], cancellationToken, log: false);
        await ReceiveAsync('r', cancellationToken);
    }

    /// <summary>
    /// A reply in several packets: "ArraySize" (a count the client does not need), one packet per
    /// item tagged <paramref name="itemTag"/> with <paramref name="fieldCount"/> strings after the tag,
    /// then "CommandComplete".
    /// </summary>
    private async Task<IReadOnlyList<T>> RequestArrayAsync<T>(char type, byte[] payload, char replyType, string itemTag, int fieldCount, Func<IReadOnlyList<string>, T> parse, CancellationToken cancellationToken)
    {
        await SendAsync(type, payload, cancellationToken);
        var items = new List<T>();
        while (true)
        {
            var fields = (await ReceiveAsync(replyType, cancellationToken)).Strings();
            var tag = Field(fields, 0);
            if (tag == PcpWire.CommandComplete)
            {
                return items;
            }

            if (tag == itemTag && fields.Count > fieldCount)
            {
                items.Add(parse(fields.Skip(1).Take(fieldCount).ToList()));
            }
            else if (tag != "ArraySize")
            {
                throw InvalidResponse(replyType);
            }
        }
    }

    private async Task<PcpPacket> RequestAsync(char type, byte[] payload, char replyType, CancellationToken cancellationToken, bool noTimeout = false)
    {
        await SendAsync(type, payload, cancellationToken);
        return await ReceiveAsync(replyType, cancellationToken, noTimeout);
    }

    private async Task SendAsync(char type, byte[] payload, CancellationToken cancellationToken, bool log = true)
    {
        PcpWire.WritePacket(_writer, type, payload);
        if (log)
        {
            _options.Debug?.Invoke(string.Create(CultureInfo.InvariantCulture, $"DEBUG: send: tos=\"{type}\", len={payload.Length + 4}"));
        }

        await _writer.FlushAsync(cancellationToken);
    }

    /// <summary>The next reply of <paramref name="expected"/> type; notices are skipped, an error throws.</summary>
    private async Task<PcpPacket> ReceiveAsync(char expected, CancellationToken cancellationToken, bool noTimeout = false)
    {
        while (true)
        {
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (_options.Timeout is { } timeout && !noTimeout)
            {
                deadline.CancelAfter(timeout);
            }

            PcpPacket? packet;
            try
            {
                packet = await _reader.ReadAsync(deadline.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                _closed = true;
                throw new PcpException(new PcpError("ERROR", "timed out waiting for a reply from pgpool-II"));
            }
            catch (Exception e) when (e is IOException or PcpPacketLengthException)
            {
                _closed = true;
                throw new PcpException(new PcpError("ERROR", "unable to read data from the server", e.Message));
            }

            if (packet is null)
            {
                _closed = true;
                throw new PcpException(new PcpError("ERROR", "the server closed the connection unexpectedly"));
            }

            _options.Debug?.Invoke(string.Create(CultureInfo.InvariantCulture, $"DEBUG: recv: tos=\"{packet.Type}\", len={packet.Payload.Length + 4}"));
            switch (packet.Type)
            {
                case 'N':
                    continue; // notices precede replies; the stock tools ignore them too
                case 'E':
                    var error = PcpWire.ParseError(packet.Payload);
                    _closed |= error.Severity == "FATAL";
                    throw new PcpException(error);
            }

            return packet.Type == expected ? packet : throw InvalidResponse(packet.Type);
        }
    }

    private static async Task<Socket> OpenSocketAsync(PcpConnectOptions options, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (options.Timeout is { } timeout)
        {
            deadline.CancelAfter(timeout);
        }

        if (UnixSocketPath(options.Host, options.Port) is { } path)
        {
            var unix = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            try
            {
                await unix.ConnectAsync(new UnixDomainSocketEndPoint(path), deadline.Token);
                return unix;
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
                unix.Dispose();
                throw new PcpConnectionException($"ERROR: connection to socket \"{path}\" failed with error \"{Describe(e, path)}\"", e);
            }
        }

        IPAddress[] addresses;
        try
        {
            addresses = IPAddress.TryParse(options.Host, out var literal) ? [literal] : await Dns.GetHostAddressesAsync(options.Host!, deadline.Token);
        }
        catch (SocketException e)
        {
            // What the stock tools print (they read errno after gethostbyname, which is 0).
            throw new PcpConnectionException("ERROR: could not retrieve hostname. gethostbyname failed with error \"Success\"", e);
        }

        var tcp = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            await tcp.ConnectAsync(addresses, options.Port, deadline.Token);
            return tcp;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            tcp.Dispose();
            throw new PcpConnectionException($"ERROR: connection to host \"{options.Host}\" failed with error \"{Describe(e, null)}\"", e);
        }
    }

    /// <summary>strerror's text for the usual failures, as the stock tools print it.</summary>
    private static string Describe(Exception e, string? socketPath) => e switch
    {
        OperationCanceledException => "Connection timed out",
        SocketException when socketPath is not null && !File.Exists(socketPath) => "No such file or directory",
        SocketException { SocketErrorCode: SocketError.ConnectionRefused } => "Connection refused",
        SocketException { SocketErrorCode: SocketError.AccessDenied } => "Permission denied",
        SocketException { SocketErrorCode: SocketError.TimedOut } => "Connection timed out",
        SocketException { SocketErrorCode: SocketError.NetworkUnreachable } => "Network is unreachable",
        SocketException { SocketErrorCode: SocketError.HostUnreachable } => "No route to host",
        _ => e.Message,
    };

    private static byte[] NumberText(int value) => [.. Encoding.ASCII.GetBytes(value.ToString(CultureInfo.InvariantCulture)), 0];

    private static string Field(IReadOnlyList<string> fields, int index) =>
        index < fields.Count ? fields[index] : throw new PcpException(new PcpError("ERROR", "invalid response", $"a reply has {fields.Count} fields, expected more than {index}"));

    private static int ParseInt(string text) =>
        int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value
        : throw new PcpException(new PcpError("ERROR", "invalid response", $"\"{text}\" is not a number"));

    private static PcpException InvalidResponse(char type) =>
        new(new PcpError("ERROR", "invalid response", $"unexpected packet type \"{PcpPacketReader.Printable(type)}\""));
}
