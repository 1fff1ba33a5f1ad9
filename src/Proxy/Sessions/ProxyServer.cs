using System.IO.Pipelines;
using System.Net;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// Accepts client connections (any <see cref="IDuplexPipe"/>: a Kestrel connection in the host, an
/// in-memory pipe in tests): negotiates TLS (GSS encryption is declined), authenticates the client (pool_hba.conf, pool_passwd), serves
/// CancelRequests and runs a <see cref="ClientSession"/> for each StartupMessage, at most
/// num_init_children at a time (more wait, as in pgpool).
/// </summary>
public sealed partial class ProxyServer : IDisposable
{
    private readonly ProxyContext _context;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _slots;
    private readonly int _slotCount;

    public ProxyServer(ProxyContext context)
    {
        _context = context;
        _logger = context.LoggerFactory.CreateLogger("PgPoolConsole.Proxy.ProxyServer");
        _slotCount = Math.Max(1, context.Options.Current.NumInitChildren);
        _slots = new SemaphoreSlim(_slotCount, _slotCount);
        _authenticator = new ClientAuthenticator(context, context.LoggerFactory.CreateLogger("PgPoolConsole.Proxy.Authentication"));
    }

    private readonly ClientAuthenticator _authenticator;

    public ProxyContext Context => _context;

    /// <summary>Clients waiting for a free session slot.</summary>
    public int WaitingClients => Math.Max(0, Volatile.Read(ref _waiting));

    private int _waiting;

    /// <summary>
    /// Serves one client connection until it ends. Everything before the session slot — TLS
    /// handshake, startup packet, authentication by the proxy — must finish within
    /// authentication_timeout, so clients that never finish do not hold a slot.
    /// </summary>
    public async Task HandleConnectionAsync(IDuplexPipe transport, EndPoint? remoteEndPoint, CancellationToken cancellationToken)
    {
        await using var connection = new ClientConnection(transport, remoteEndPoint);
        try
        {
            var timeoutSeconds = _context.Options.Current.AuthenticationTimeout;
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            if (timeoutSeconds > 0)
            {
                deadline.CancelAfter(TimeSpan.FromSeconds(timeoutSeconds));
            }

            StartupPacket? startup;
            ClientAuthentication? authentication;
            try
            {
                startup = await ReadStartupAsync(connection, deadline.Token);
                if (startup is null)
                {
                    return;
                }

                if (startup.Kind == StartupPacketKind.CancelRequest)
                {
                    await CancelAsync(startup.CancelProcessId, startup.CancelSecretKey, cancellationToken);
                    return;
                }

                authentication = await _authenticator.AuthenticateAsync(connection, startup, deadline.Token);
                if (authentication is null)
                {
                    return;
                }
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                LogStartupTimeout(_logger, ClientAddressOf(remoteEndPoint), timeoutSeconds);
                return;
            }
            catch (System.Security.Authentication.AuthenticationException e)
            {
                LogTlsFailed(_logger, ClientAddressOf(remoteEndPoint), e.Message);
                return;
            }

            connection.Reader.MaxMessageLength = _context.MaxClientMessageLength;
            if (!await AcquireSlotAsync(connection.Output, cancellationToken))
            {
                return;
            }

            try
            {
                var session = new ClientSession(_context, connection, _context.Store.Sessions.NextId(), authentication);
                var options = _context.Options.Current;
                if (options.LogHostname && (options.LogConnections || options.LogDisconnections))
                {
                    await session.ResolveClientHostAsync(cancellationToken);
                }

                if (options.LogConnections)
                {
                    LogConnectionReceived(_logger, session.Id, session.ClientHost, session.ClientPort.Length > 0 ? " port=" + session.ClientPort : "", startup.User, startup.Database, connection.IsSsl ? " " + connection.SslDescription : "", authentication.Method);
                }

                await session.RunAsync(startup, cancellationToken);
            }
            finally
            {
                _slots.Release();
            }
        }
        catch (PgProtocolException e)
        {
            LogBadStartup(_logger, e.Message);
            await TryWriteFatalAsync(connection.Output, e.SqlState, e.Message);
        }
        catch (PgConnectionClosedException)
        {
            // a client that connected and left (port scanners, pg_isready)
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await TryWriteFatalAsync(connection.Output, "57P01", "terminating connection due to administrator command");
        }
        catch (IOException)
        {
            // the client went away
        }
    }

    private static string ClientAddressOf(EndPoint? endPoint) => endPoint is IPEndPoint ip ? ip.Address.ToString() : "[local]";

    /// <summary>
    /// Reads the first packets until a StartupMessage or CancelRequest. An SSLRequest is answered
    /// 'S' and TLS is set up when ssl is on, else 'N'; a GSSENCRequest is always answered 'N'.
    /// </summary>
    private async Task<StartupPacket?> ReadStartupAsync(ClientConnection connection, CancellationToken cancellationToken)
    {
        for (var round = 0; round < 3; round++)
        {
            var packet = StartupPacket.Parse(await connection.Reader.ReadStartupPacketAsync(cancellationToken));
            switch (packet.Kind)
            {
                case StartupPacketKind.SslRequest when !connection.IsSsl && _context.Security.Current.Tls is { } tls:
                    connection.Output.GetSpan(1)[0] = (byte)'S';
                    connection.Output.Advance(1);
                    await connection.Output.FlushAsync(cancellationToken);
                    await connection.UpgradeToTlsAsync(tls, cancellationToken);
                    continue;
                case StartupPacketKind.SslRequest when connection.IsSsl:
                    throw new PgProtocolException("SSL request received on an encrypted connection");
                case StartupPacketKind.SslRequest:
                case StartupPacketKind.GssEncRequest:
                    // 'N': continue unencrypted (the client decides whether that is acceptable).
                    connection.Output.GetSpan(1)[0] = (byte)'N';
                    connection.Output.Advance(1);
                    await connection.Output.FlushAsync(cancellationToken);
                    continue;
                default:
                    return packet;
            }
        }

        throw new PgProtocolException("too many encryption requests in one connection");
    }

    private async Task<bool> AcquireSlotAsync(PipeWriter output, CancellationToken cancellationToken)
    {
        if (_slots.Wait(0, CancellationToken.None))
        {
            return true;
        }

        if (_context.Options.Current.ReservedConnections > 0)
        {
            await TryWriteFatalAsync(output, "53300", "Sorry, too many clients already");
            return false;
        }

        // Like pgpool's listen queue: wait for a session to end.
        if (Interlocked.Increment(ref _waiting) == 1)
        {
            LogAllSlotsBusy(_logger, _slotCount); // once per burst: a client that seems to hang otherwise leaves no trace
        }

        try
        {
            await _slots.WaitAsync(cancellationToken);
            return true;
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    private async Task CancelAsync(int processId, int secretKey, CancellationToken cancellationToken)
    {
        if (_context.Store.Sessions.Find(processId) is ClientSession session && session.SecretKey == secretKey)
        {
            LogCancel(_logger, processId);
            await session.CancelAsync(cancellationToken);
        }
        else
        {
            LogCancelUnknown(_logger, processId);
        }
    }

    private static async Task TryWriteFatalAsync(PipeWriter output, string sqlState, string message)
    {
        try
        {
            PgWriter.Error(output, "FATAL", sqlState, message);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await output.FlushAsync(timeout.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException)
        {
            // the client is gone
        }
    }

    public void Dispose() => _slots.Dispose();

    // pgpool-II's words ("new connection received", then "connecting host=... port=..." as its DETAIL), on one line.
    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "pid {Pid}: new connection received: connecting host={Host}{Port} user={User} database={Database}{Ssl} authentication={Method}")]
    private static partial void LogConnectionReceived(ILogger logger, int pid, string host, string port, string user, string database, string ssl, string method);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "invalid startup packet from client: {Reason}")]
    private static partial void LogBadStartup(ILogger logger, string reason);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "client {Client} did not complete startup and authentication within authentication_timeout ({Seconds} s); connection closed")]
    private static partial void LogStartupTimeout(ILogger logger, string client, int seconds);

    [LoggerMessage(EventId = 1105, Level = LogLevel.Warning, Message = "TLS handshake with client {Client} failed: {Reason}")]
    private static partial void LogTlsFailed(ILogger logger, string client, string reason);

    [LoggerMessage(EventId = 1106, Level = LogLevel.Warning, Message = "all {Slots} session slots (num_init_children) are in use: new clients wait for a session to end (raise num_init_children, or set reserved_connections to refuse them instead)")]
    private static partial void LogAllSlotsBusy(ILogger logger, int slots);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Debug, Message = "pid {Pid}: cancel request received")]
    private static partial void LogCancel(ILogger logger, int pid);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Debug, Message = "cancel request for unknown session {Pid} ignored")]
    private static partial void LogCancelUnknown(ILogger logger, int pid);
}
