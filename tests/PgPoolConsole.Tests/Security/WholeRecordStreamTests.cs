using System.Buffers;
using System.IO.Pipelines;
using System.Net.Security;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using PgPoolConsole.Proxy.Security;

namespace PgPoolConsole.Tests.Security;

/// <summary>TLS over in-memory pipes: what a cancelled flush leaves of the stream.</summary>
public sealed class WholeRecordStreamTests : IAsyncDisposable
{
    private readonly Pipe _toClient = new(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024));
    private readonly Pipe _toServer = new();
    private SslStream? _server;
    private SslStream? _client;

    private async Task<(SslStream Server, SslStream Client)> HandshakeAsync()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var selfSigned = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var certificate = X509CertificateLoader.LoadPkcs12(selfSigned.Export(X509ContentType.Pkcs12), null);
        _server = new SslStream(new DuplexPipeStream(new Transport(_toServer.Reader, _toClient.Writer)));
        _client = new SslStream(new DuplexPipeStream(new Transport(_toClient.Reader, _toServer.Writer)), false, (_, _, _, _) => true);
        await Task.WhenAll(_server.AuthenticateAsServerAsync(certificate), _client.AuthenticateAsClientAsync("localhost"));
        return (_server, _client);
    }

    private static async Task<string> ReadUntilAsync(Stream client, string end)
    {
        var text = new StringBuilder();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (!text.ToString().EndsWith(end, StringComparison.Ordinal))
        {
            var read = await client.ReadAsync(buffer, timeout.Token);
            Assert.NotEqual(0, read);
            text.Append(Encoding.ASCII.GetString(buffer, 0, read));
        }

        return text.ToString();
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task FlushWithACancelledToken_ThenAnotherFlush_ThePeerReadsBoth(bool whole)
    {
        var (server, client) = await HandshakeAsync();
        var writer = PipeWriter.Create(whole ? new WholeRecordStream(server) : server, new StreamPipeWriterOptions(leaveOpen: true));
        using var cancelled = new CancellationTokenSource();
        await cancelled.CancelAsync();

        writer.Write("CommandComplete;"u8);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await writer.FlushAsync(cancelled.Token));
        writer.Write("FATAL;"u8);
        await writer.FlushAsync();

        if (whole)
        {
            Assert.Equal("CommandComplete;FATAL;", await ReadUntilAsync(client, "FATAL;"));
        }
        else
        {
            // What the proxy did before: SslStream had encrypted the first record when the cancellation stopped it.
            await Assert.ThrowsAsync<IOException>(() => ReadUntilAsync(client, "FATAL;"));
        }
    }

    [Fact]
    public async Task CancelledWhileThePeerDoesNotRead_LetsTheWriterGo_AndLaterWritesFailClearly()
    {
        var (server, _) = await HandshakeAsync();
        var stream = new WholeRecordStream(server);
        using var cancellation = new CancellationTokenSource();

        var write = stream.WriteAsync(new byte[256 * 1024], cancellation.Token).AsTask(); // more than the transport holds: it waits for the peer
        await Task.Delay(200);
        Assert.False(write.IsCompleted);
        await cancellation.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => write.WaitAsync(TimeSpan.FromSeconds(5)));
        Assert.True(stream.IsCut);
        var next = await Assert.ThrowsAsync<IOException>(async () => await stream.WriteAsync(new byte[1]));
        Assert.Contains("cut in the middle of a record", next.Message, StringComparison.Ordinal);
    }

    public async ValueTask DisposeAsync()
    {
        await _toClient.Writer.CompleteAsync();
        await _toServer.Writer.CompleteAsync();
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        if (_client is not null)
        {
            await _client.DisposeAsync();
        }
    }

    private sealed class Transport(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input => input;

        public PipeWriter Output => output;
    }
}
