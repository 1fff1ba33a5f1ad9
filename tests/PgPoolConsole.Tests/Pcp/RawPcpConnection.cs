using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using PgPoolConsole.Proxy.Pcp;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Tests.Pcp;

/// <summary>
/// A TCP connection to the PCP port that sends whatever bytes a test wants (bad lengths, unknown
/// types, nothing at all, one byte at a time) and reads the server's packets.
/// </summary>
internal sealed class RawPcpConnection : IAsyncDisposable
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(30);
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly PcpPacketReader _reader;

    private RawPcpConnection(TcpClient tcp)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _reader = new PcpPacketReader(PipeReader.Create(_stream), PcpWire.MaxReplyLength);
    }

    public static async Task<RawPcpConnection> OpenAsync(int port)
    {
        var tcp = new TcpClient { NoDelay = true };
        using var timeout = new CancellationTokenSource(ReadTimeout);
        await tcp.ConnectAsync("127.0.0.1", port, timeout.Token);
        return new RawPcpConnection(tcp);
    }

    /// <summary>A packet with a correct length word.</summary>
    public static byte[] Packet(char type, params byte[] payload) => Header(type, payload.Length + 4).Concat(payload).ToArray();

    /// <summary>Just a type letter and a length word (any value).</summary>
    public static byte[] Header(char type, int length)
    {
        var bytes = new byte[5];
        bytes[0] = (byte)type;
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(1), length);
        return bytes;
    }

    public static byte[] Text(string value) => [.. Encoding.UTF8.GetBytes(value), 0];

    public async Task SendAsync(byte[] bytes, CancellationToken cancellationToken = default)
    {
        await _stream.WriteAsync(bytes, cancellationToken);
        await _stream.FlushAsync(cancellationToken);
    }

    /// <summary>Sends each byte on its own, <paramref name="gap"/> apart.</summary>
    public async Task TrickleAsync(byte[] bytes, TimeSpan gap)
    {
        foreach (var b in bytes)
        {
            await SendAsync([b]);
            await Task.Delay(gap);
        }
    }

    /// <summary>The next packet from the server; null when it closed the connection. Throws <see cref="TimeoutException"/> when nothing comes.</summary>
    public async Task<PcpPacket?> ReadAsync(TimeSpan? timeout = null)
    {
        var limit = timeout ?? ReadTimeout;
        using var cancel = new CancellationTokenSource(limit > TimeSpan.Zero ? limit : TimeSpan.FromMilliseconds(1));
        try
        {
            return await _reader.ReadAsync(cancel.Token);
        }
        catch (IOException)
        {
            return null; // reset by the server
        }
        catch (OperationCanceledException)
        {
            throw new TimeoutException($"the server sent nothing and kept the connection open for {limit.TotalSeconds:0.#} s");
        }
    }

    /// <summary>Reads an 'E' packet and returns its fields.</summary>
    public async Task<PcpError> ReadErrorAsync()
    {
        var packet = await ReadAsync();
        Assert.NotNull(packet);
        Assert.Equal('E', packet.Type);
        return PcpWire.ParseError(packet.Payload);
    }

    /// <summary>Fails unless the server closes the connection within the timeout (after any packets it still sends).</summary>
    public async Task AssertClosedAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? ReadTimeout);
        while (await ReadAsync(deadline - DateTime.UtcNow) is { } packet)
        {
            Assert.Fail($"expected the server to close the connection, got a '{packet.Type}' packet");
        }
    }

    /// <summary>The md5 salt exchange, as the stock tools do it.</summary>
    public async Task<PcpPacket?> AuthenticateAsync(string user, string password)
    {
        await SendAsync(Packet('M'));
        var salt = await ReadAsync();
        Assert.NotNull(salt);
        Assert.Equal('m', salt.Type);
        await SendAsync(Packet('R', AuthenticationPayload(user, password, salt.Payload)));
        return await ReadAsync();
    }

    public static byte[] AuthenticationPayload(string user, string password, byte[] salt)
    {
        var inner = PgMd5.Hex(PgMd5.Hex(password) + user);
        var response = PgMd5.Hex([.. Encoding.ASCII.GetBytes(inner), .. salt]);
        return [.. Text(user), .. Text(response)];
    }

    public async ValueTask DisposeAsync()
    {
        await _stream.DisposeAsync();
        _tcp.Dispose();
    }
}
