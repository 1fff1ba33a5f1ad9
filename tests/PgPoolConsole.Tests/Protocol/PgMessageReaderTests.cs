using System.Buffers;
using System.IO.Pipelines;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Tests.Protocol;

public sealed class PgMessageReaderTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(5);

    private static byte[] Query(string sql)
    {
        var writer = new ArrayBufferWriter<byte>();
        PgWriter.Query(writer, sql);
        return writer.WrittenSpan.ToArray();
    }

    [Fact]
    public async Task Read_MessageSplitAcrossManyWrites_ReturnsItWhole()
    {
        var pipe = new Pipe();
        var reader = new PgMessageReader(pipe.Reader, 1 << 20, "client");
        var bytes = Query("SELECT 'split across writes'");

        var read = reader.ReadAsync(CancellationToken.None).AsTask();
        foreach (var b in bytes[..^1])
        {
            await pipe.Writer.WriteAsync(new[] { b });
            Assert.False(read.IsCompleted, "no message before its last byte");
        }

        await pipe.Writer.WriteAsync(bytes[^1..]);

        var message = await read.WaitAsync(Timeout);
        Assert.Equal('Q', message.TypeChar);
        Assert.Equal("SELECT 'split across writes'", PgPayload.SingleCString(message));
    }

    [Fact]
    public async Task Read_MessageLargerThanThePipesPauseThreshold_ArrivesWhole_AndTheWriterIsNeverStuck()
    {
        // Kestrel pauses a connection's socket once 1 MB waits unexamined; here the pipe pauses at
        // 64 kB. A 3 MB message must still arrive, and the one after it too.
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, useSynchronizationContext: false));
        var reader = new PgMessageReader(pipe.Reader, 16 << 20, "client");
        var text = string.Concat(Enumerable.Range(0, 300_000).Select(i => (char)('a' + (i % 26)))) + new string('z', 2_700_000);
        var large = Query(text);
        var writing = Task.Run(async () =>
        {
            for (var offset = 0; offset < large.Length; offset += 8192)
            {
                await pipe.Writer.WriteAsync(large.AsMemory(offset, Math.Min(8192, large.Length - offset)));
            }

            await pipe.Writer.WriteAsync(Query("SELECT 'after'"));
        });

        var message = await reader.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);
        Assert.Equal('Q', message.TypeChar);
        Assert.Equal(large.Length, message.Raw.Length);
        Assert.Equal(text, PgPayload.SingleCString(message));
        var after = await reader.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Timeout);
        Assert.Equal("SELECT 'after'", PgPayload.SingleCString(after));
        await writing.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Read_PeerClosesInTheMiddleOfALargeMessage_SaysSo()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, useSynchronizationContext: false));
        var reader = new PgMessageReader(pipe.Reader, 16 << 20, "client");
        var large = Query(new string('x', 1_000_000));
        var writing = Task.Run(async () =>
        {
            await pipe.Writer.WriteAsync(large.AsMemory(0, 500_000));
            await pipe.Writer.CompleteAsync();
        });

        var error = await Assert.ThrowsAsync<PgConnectionClosedException>(() => reader.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Timeout));
        Assert.True(error.MidMessage);
        Assert.Equal("client closed the connection in the middle of a message", error.Message);
        await writing.WaitAsync(Timeout);
    }

    [Fact]
    public async Task Read_SeveralMessagesInOneWrite_ReturnsEachInOrderWithoutWaiting()
    {
        var pipe = new Pipe();
        var reader = new PgMessageReader(pipe.Reader, 1 << 20, "client");
        var coalesced = Query("SELECT 1").Concat(Query("SELECT 2")).Concat(Query("SELECT 3")).ToArray();
        await pipe.Writer.WriteAsync(coalesced);

        var first = await reader.ReadAsync(CancellationToken.None);
        Assert.Equal("SELECT 1", PgPayload.SingleCString(first));
        Assert.True(reader.HasBufferedMessage);
        var second = reader.ReadAsync(CancellationToken.None);
        Assert.True(second.IsCompletedSuccessfully, "a buffered message is returned synchronously");
        Assert.Equal("SELECT 2", PgPayload.SingleCString(await second));
        Assert.Equal("SELECT 3", PgPayload.SingleCString(await reader.ReadAsync(CancellationToken.None)));
        Assert.False(reader.HasBufferedMessage);
    }

    [Fact]
    public async Task Read_LengthAboveLimit_ThrowsProtocolErrorNamingTheSize()
    {
        var pipe = new Pipe();
        var reader = new PgMessageReader(pipe.Reader, 1024, "client");
        // 'Q' claiming 1 GB: must be refused before any of it is buffered.
        await pipe.Writer.WriteAsync(new byte[] { (byte)'Q', 0x40, 0, 0, 0 });

        var error = await Assert.ThrowsAsync<PgProtocolException>(() => reader.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Timeout));
        Assert.Contains("1073741824 bytes long", error.Message);
        Assert.Contains("limit of 1024", error.Message);
    }

    [Fact]
    public async Task Read_LengthBelowFour_ThrowsProtocolError()
    {
        var pipe = new Pipe();
        var reader = new PgMessageReader(pipe.Reader, 1024, "client");
        await pipe.Writer.WriteAsync(new byte[] { (byte)'Q', 0, 0, 0, 3 });

        var error = await Assert.ThrowsAsync<PgProtocolException>(() => reader.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Timeout));
        Assert.Contains("invalid message length 3", error.Message);
    }

    [Fact]
    public async Task Read_PeerClosesMidMessage_ThrowsClosedMidMessage()
    {
        var pipe = new Pipe();
        var reader = new PgMessageReader(pipe.Reader, 1024, "client");
        var bytes = Query("SELECT 1");
        await pipe.Writer.WriteAsync(bytes.AsMemory(0, 7));
        await pipe.Writer.CompleteAsync();

        var error = await Assert.ThrowsAsync<PgConnectionClosedException>(() => reader.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Timeout));
        Assert.True(error.MidMessage);
        Assert.Contains("in the middle of a message", error.Message);
    }

    [Fact]
    public async Task Read_PeerClosesBetweenMessages_ThrowsClosedNotMidMessage()
    {
        var pipe = new Pipe();
        var reader = new PgMessageReader(pipe.Reader, 1024, "client");
        await pipe.Writer.CompleteAsync();

        var error = await Assert.ThrowsAsync<PgConnectionClosedException>(() => reader.ReadAsync(CancellationToken.None).AsTask().WaitAsync(Timeout));
        Assert.False(error.MidMessage);
    }

    [Fact]
    public async Task ReadStartupPacket_InvalidLength_ThrowsProtocolError()
    {
        var pipe = new Pipe();
        var reader = new PgMessageReader(pipe.Reader, 1024, "client");
        await pipe.Writer.WriteAsync(new byte[] { 0, 1, 0, 0, 0, 3, 0, 0 }); // 65536 bytes claimed

        var error = await Assert.ThrowsAsync<PgProtocolException>(async () => await reader.ReadStartupPacketAsync(CancellationToken.None).AsTask().WaitAsync(Timeout));
        Assert.Contains("invalid length of startup packet: 65536", error.Message);
    }

    [Fact]
    public async Task WaitForData_ThenRead_ReturnsTheMessageThatArrived()
    {
        var pipe = new Pipe();
        var reader = new PgMessageReader(pipe.Reader, 1024, "client");
        var waiting = reader.WaitForDataAsync(CancellationToken.None);
        Assert.False(waiting.IsCompleted);
        await pipe.Writer.WriteAsync(Query("SELECT 42"));

        Assert.True(await waiting.WaitAsync(Timeout));
        Assert.Equal("SELECT 42", PgPayload.SingleCString(await reader.ReadAsync(CancellationToken.None)));
    }

    private static byte[] Typed(char type, byte[] payload)
    {
        var bytes = new byte[5 + payload.Length];
        bytes[0] = (byte)type;
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(1), payload.Length + 4);
        payload.CopyTo(bytes, 5);
        return bytes;
    }

    [Fact]
    public async Task ReadHeaderOnly_ALargeDataRow_ComesBeforeItsBody_WhichIsPassedOnAsItArrives()
    {
        var pipe = new Pipe(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024, useSynchronizationContext: false));
        var reader = new PgMessageReader(pipe.Reader, 1 << 30, "backend node 0");
        var payload = Enumerable.Range(0, 3_000_000).Select(i => (byte)i).ToArray();
        var row = Typed('D', payload);
        await pipe.Writer.WriteAsync(row.AsMemory(0, 10_000));

        var header = await reader.ReadAsync(256 * 1024, CancellationToken.None).AsTask().WaitAsync(Timeout);
        Assert.Equal('D', header.TypeChar);
        Assert.Equal(5, header.Raw.Length);
        Assert.Equal(payload.Length, reader.PendingBody);
        Assert.Throws<InvalidOperationException>(() => reader.ReadAsync(CancellationToken.None));

        // The destination gets the first piece before the node has sent the rest.
        var destination = new Pipe();
        var passing = reader.PassBodyAsync(destination.Writer, CancellationToken.None).AsTask();
        var first = await destination.Reader.ReadAsync().AsTask().WaitAsync(Timeout);
        Assert.Equal(payload.AsSpan(0, (int)first.Buffer.Length).ToArray(), first.Buffer.ToArray());
        destination.Reader.AdvanceTo(first.Buffer.Start);
        Assert.False(passing.IsCompleted);

        var writing = Task.Run(async () =>
        {
            for (var offset = 10_000; offset < row.Length; offset += 8192)
            {
                await pipe.Writer.WriteAsync(row.AsMemory(offset, Math.Min(8192, row.Length - offset)));
            }

            await pipe.Writer.WriteAsync(Query("after"));
        });
        var received = new MemoryStream();
        var draining = destination.Reader.CopyToAsync(received);
        await passing.WaitAsync(Timeout);
        await destination.Writer.CompleteAsync();
        await draining.WaitAsync(Timeout);
        Assert.Equal(payload, received.ToArray());
        Assert.Equal(0, reader.PendingBody);
        Assert.Equal("after", PgPayload.SingleCString(await reader.ReadAsync(256 * 1024, CancellationToken.None).AsTask().WaitAsync(Timeout)));
        await writing.WaitAsync(Timeout);
    }

    [Fact]
    public async Task ReadHeaderOnly_MessagesTheProxyLooksInto_AndOnesAlreadyBuffered_ComeWhole()
    {
        var pipe = new Pipe();
        var reader = new PgMessageReader(pipe.Reader, 1 << 30, "backend node 0");
        var error = Typed('E', [.. "SERROR\0M"u8, .. Enumerable.Repeat((byte)'m', 300_000), 0, 0]);
        var smallRow = Typed('D', [0, 1, 0, 0, 0, 1, (byte)'x']);
        var bufferedRow = Typed('D', new byte[400_000]);
        var writing = Task.Run(async () =>
        {
            for (var offset = 0; offset < error.Length; offset += 8192)
            {
                await pipe.Writer.WriteAsync(error.AsMemory(offset, Math.Min(8192, error.Length - offset)));
            }

            await pipe.Writer.WriteAsync(smallRow.Concat(bufferedRow).ToArray());
        });

        var whole = await reader.ReadAsync(256 * 1024, CancellationToken.None).AsTask().WaitAsync(Timeout);
        Assert.Equal(error.Length, whole.Raw.Length);
        Assert.Equal(smallRow.Length, (await reader.ReadAsync(256 * 1024, CancellationToken.None)).Raw.Length);
        Assert.Equal(bufferedRow.Length, (await reader.ReadAsync(256 * 1024, CancellationToken.None)).Raw.Length);
        Assert.Equal(0, reader.PendingBody);
        reader.Release(); // the writer waits until what it wrote is consumed
        await writing.WaitAsync(Timeout);
    }

    [Fact]
    public async Task PassBody_PeerClosesBeforeTheBodyEnds_ThrowsClosedMidMessage()
    {
        var pipe = new Pipe();
        var reader = new PgMessageReader(pipe.Reader, 1 << 30, "backend node 1");
        await pipe.Writer.WriteAsync(Typed('D', new byte[1_000_000]).AsMemory(0, 5000));
        await reader.ReadAsync(256 * 1024, CancellationToken.None);
        await pipe.Writer.CompleteAsync();

        var error = await Assert.ThrowsAsync<PgConnectionClosedException>(() => reader.PassBodyAsync(null, CancellationToken.None).AsTask().WaitAsync(Timeout));
        Assert.True(error.MidMessage);
        Assert.Equal("backend node 1 closed the connection in the middle of a message", error.Message);
    }
}
