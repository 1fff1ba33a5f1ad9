using System.IO.Pipelines;
using System.Net;
using System.Net.Security;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Security;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// A client's byte streams: the transport as accepted, or a TLS stream over it once the client's
/// SSLRequest was answered 'S'. Sessions read and write only through <see cref="Reader"/> and
/// <see cref="Output"/>.
/// </summary>
public sealed class ClientConnection : IAsyncDisposable
{
    /// <summary>Largest message before authentication (PostgreSQL's PG_MAX_AUTH_TOKEN_LENGTH).</summary>
    public const int MaxAuthenticationMessageLength = 65535;

    private readonly IDuplexPipe _transport;
    private SslStream? _tls;
    private WholeRecordStream? _tlsOutput;
    private PipeReader? _tlsReader;
    private PipeWriter? _tlsWriter;

    public ClientConnection(IDuplexPipe transport, EndPoint? remoteEndPoint)
    {
        _transport = transport;
        RemoteEndPoint = remoteEndPoint;
        Reader = new PgMessageReader(transport.Input, MaxAuthenticationMessageLength, "client");
        Output = transport.Output;
    }

    public EndPoint? RemoteEndPoint { get; }

    public PgMessageReader Reader { get; private set; }

    public PipeWriter Output { get; private set; }

    /// <summary>True once TLS is established.</summary>
    public bool IsSsl => _tls is not null;

    /// <summary>"TLSv1.3 TLS_AES_256_GCM_SHA384" when encrypted, else "".</summary>
    public string SslDescription => _tls is { } tls ? $"{TlsVersionName(tls.SslProtocol)} {tls.NegotiatedCipherSuite}" : "";

    /// <summary>
    /// Runs the TLS handshake over the transport (after 'S' was sent) and switches
    /// <see cref="Reader"/> and <see cref="Output"/> to the encrypted stream.
    /// </summary>
    public async Task UpgradeToTlsAsync(ClientTls tls, CancellationToken cancellationToken)
    {
        if (Reader.HasBufferedBytes)
        {
            // CVE-2021-23214: bytes sent before the handshake would be taken as if encrypted.
            throw new PgProtocolException("received unencrypted data after SSL request");
        }

        Reader.Release();
        var stream = new SslStream(new DuplexPipeStream(_transport), leaveInnerStreamOpen: false);
        try
        {
            await stream.AuthenticateAsServerAsync(tls.ServerOptions, cancellationToken);
        }
        catch
        {
            await stream.DisposeAsync();
            throw;
        }

        _tls = stream;
        _tlsOutput = new WholeRecordStream(stream);
        _tlsReader = PipeReader.Create(stream, new StreamPipeReaderOptions(leaveOpen: true));
        _tlsWriter = PipeWriter.Create(_tlsOutput, new StreamPipeWriterOptions(leaveOpen: true));
        Reader = new PgMessageReader(_tlsReader, Reader.MaxMessageLength, "client");
        Output = _tlsWriter;
    }

    private static string TlsVersionName(System.Security.Authentication.SslProtocols protocol) => protocol switch
    {
        System.Security.Authentication.SslProtocols.Tls12 => "TLSv1.2",
        System.Security.Authentication.SslProtocols.Tls13 => "TLSv1.3",
        _ => protocol.ToString(),
    };

    public async ValueTask DisposeAsync()
    {
        Reader.Release();
        if (_tls is not null)
        {
            await _tlsReader!.CompleteAsync();
            try
            {
                await _tlsWriter!.CompleteAsync();
                if (!_tlsOutput!.IsCut)
                {
                    using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                    await _tls.ShutdownAsync().WaitAsync(timeout.Token);
                }
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
            {
                // the client is gone
            }

            await _tls.DisposeAsync();
        }
    }
}
