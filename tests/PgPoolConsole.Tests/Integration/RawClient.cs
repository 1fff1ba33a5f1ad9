using System.Buffers;
using System.IO.Pipelines;
using System.Text;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Sessions;

namespace PgPoolConsole.Tests.Integration;

/// <summary>
/// A client that speaks raw protocol bytes to the proxy engine over in-memory pipes, to send what
/// drivers never would (split, coalesced, oversized or truncated messages).
/// </summary>
internal sealed class RawClient : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(20);
    private readonly Pipe _toServer = new(new PipeOptions(pauseWriterThreshold: 0));
    private readonly Pipe _toClient;
    private readonly PgMessageReader _reader;
    private readonly CancellationTokenSource _stop = new();

    /// <param name="server">The proxy engine.</param>
    /// <param name="unreadLimit">Bytes the proxy may write ahead of what this client has read
    /// (0: no limit), as a socket's buffers would hold for a slow client.</param>
    public RawClient(ProxyServer server, long unreadLimit = 0)
    {
        _toClient = new(new PipeOptions(pauseWriterThreshold: unreadLimit, resumeWriterThreshold: unreadLimit / 2));
        _reader = new PgMessageReader(_toClient.Reader, 1 << 30, "proxy");
        ServerTask = server.HandleConnectionAsync(new Duplex(_toServer.Reader, _toClient.Writer), null, _stop.Token)
            .ContinueWith(t => _toClient.Writer.Complete(t.Exception), TaskScheduler.Default);
    }

    /// <summary>The proxy's messages, for reading a large one piece by piece.</summary>
    public PgMessageReader Reader => _reader;

    /// <summary>Completes when the proxy ended the connection.</summary>
    public Task ServerTask { get; }

    public async Task SendAsync(byte[] bytes) => await _toServer.Writer.WriteAsync(bytes);

    public void CloseSending() => _toServer.Writer.Complete();

    /// <summary>Ends the connection as a reset would (the proxy's read fails with an IOException).</summary>
    public void Reset() => _toServer.Writer.Complete(new IOException("Connection reset by peer"));

    public static byte[] Startup(string user, string database)
    {
        var writer = new ArrayBufferWriter<byte>();
        PgWriter.StartupMessage(writer, [new("user", user), new("database", database)]);
        return writer.WrittenSpan.ToArray();
    }

    public static byte[] Query(string sql) => PgWriter.QueryBytes(sql);

    public static byte[] Message(char type, params byte[][] parts)
    {
        var payload = parts.SelectMany(p => p).ToArray();
        var bytes = new byte[5 + payload.Length];
        bytes[0] = (byte)type;
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(1), payload.Length + 4);
        payload.CopyTo(bytes, 5);
        return bytes;
    }

    /// <summary>Parse, Bind and Execute of the unnamed statement and portal, without Sync.</summary>
    public static byte[] Execute(string sql) =>
    [
        .. Message('P', CString(""), CString(sql), Int16(0)),
        .. Message('B', CString(""), CString(""), Int16(0), Int16(0), Int16(0)),
        .. Message('E', CString(""), Int32(0)),
    ];

    public static byte[] CString(string value) => [.. Encoding.UTF8.GetBytes(value), 0];

    public static byte[] Int16(short value) => [(byte)(value >> 8), (byte)value];

    public static byte[] Int32(int value) => [(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value];

    /// <summary>Reads messages up to and including the next ReadyForQuery (or until the proxy closes).</summary>
    public Task<List<(char Type, string Text)>> ReadUntilReadyAsync() => ReadUntilAsync('Z');

    /// <summary>Reads messages up to and including the next one of type <paramref name="last"/> (or until the proxy closes).</summary>
    public async Task<List<(char Type, string Text)>> ReadUntilAsync(char last)
    {
        var messages = new List<(char, string)>();
        while (true)
        {
            PgMessage message;
            try
            {
                message = await _reader.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);
            }
            catch (PgConnectionClosedException)
            {
                return messages;
            }

            var text = message.TypeChar switch
            {
                'E' or 'N' => PgErrorFields.Parse(message.Payload) is var e ? $"{e.Severity} {e.SqlState} {e.Message}" : "",
                'C' => PgPayload.SingleCString(message),
                'D' => Encoding.UTF8.GetString(message.Payload.ToArray()),
                'Z' => message.ReadyForQueryStatus().ToString(),
                _ => "",
            };
            messages.Add((message.TypeChar, text));
            if (message.TypeChar == last)
            {
                return messages;
            }
        }
    }

    /// <summary>Sends a startup packet and reads the startup reply.</summary>
    public async Task<List<(char Type, string Text)>> ConnectAsync(string database = "postgres")
    {
        await SendAsync(Startup("postgres", database));
        return await ReadUntilReadyAsync();
    }

    public async ValueTask DisposeAsync()
    {
        _toServer.Writer.Complete();
        await _stop.CancelAsync();
        await ServerTask.WaitAsync(Timeout);
        _stop.Dispose();
    }

    private sealed class Duplex(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
