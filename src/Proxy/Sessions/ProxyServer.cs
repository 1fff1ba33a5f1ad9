using System.IO.Pipelines;
using System.Net;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// Accepts client connections (any <see cref="IDuplexPipe"/>: a Kestrel connection in the host, an
/// in-memory pipe in tests): negotiates SSL/GSS encryption (declined for now), serves
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
    }

    public ProxyContext Context => _context;

    /// <summary>Clients waiting for a free session slot.</summary>
    public int WaitingClients => Math.Max(0, Volatile.Read(ref _waiting));

    private int _waiting;

    /// <summary>Serves one client connection until it ends.</summary>
    public async Task HandleConnectionAsync(IDuplexPipe transport, EndPoint? remoteEndPoint, CancellationToken cancellationToken)
    {
        var reader = new PgMessageReader(transport.Input, _context.MaxClientMessageLength, "client");
        try
        {
            var startup = await ReadStartupAsync(reader, transport.Output, cancellationToken);
            if (startup is null)
            {
                return;
            }

            if (startup.Kind == StartupPacketKind.CancelRequest)
            {
                await CancelAsync(startup.CancelProcessId, startup.CancelSecretKey, cancellationToken);
                return;
            }

            if (!await AcquireSlotAsync(transport.Output, cancellationToken))
            {
                return;
            }

            try
            {
                var session = new ClientSession(_context, reader, transport.Output, remoteEndPoint, _context.Store.Sessions.NextId());
                if (_context.Options.Current.LogConnections)
                {
                    LogConnectionReceived(_logger, session.Id, session.ClientAddress, startup.User, startup.Database);
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
            await TryWriteFatalAsync(transport.Output, e.SqlState, e.Message);
        }
        catch (PgConnectionClosedException)
        {
            // a client that connected and left (port scanners, pg_isready)
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            await TryWriteFatalAsync(transport.Output, "57P01", "terminating connection due to administrator command");
        }
        catch (IOException)
        {
            // the client went away
        }
        finally
        {
            reader.Release();
        }
    }

    /// <summary>Reads the first packets until a StartupMessage or CancelRequest, declining encryption.</summary>
    private async Task<StartupPacket?> ReadStartupAsync(PgMessageReader reader, PipeWriter output, CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(TimeSpan.FromSeconds(Math.Max(1, _context.Options.Current.AuthenticationTimeout)));
        try
        {
            for (var round = 0; round < 3; round++)
            {
                var packet = StartupPacket.Parse(await reader.ReadStartupPacketAsync(timeout.Token));
                switch (packet.Kind)
                {
                    case StartupPacketKind.SslRequest:
                    case StartupPacketKind.GssEncRequest:
                        // 'N': continue unencrypted (the client decides whether that is acceptable).
                        output.GetSpan(1)[0] = (byte)'N';
                        output.Advance(1);
                        await output.FlushAsync(timeout.Token);
                        continue;
                    default:
                        return packet;
                }
            }

            throw new PgProtocolException("too many encryption requests in one connection");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            LogStartupTimeout(_logger, _context.Options.Current.AuthenticationTimeout);
            return null;
        }
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
        Interlocked.Increment(ref _waiting);
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

    [LoggerMessage(EventId = 1100, Level = LogLevel.Information, Message = "pid {Pid}: connection received: host={Client} user={User} database={Database}")]
    private static partial void LogConnectionReceived(ILogger logger, int pid, string client, string user, string database);

    [LoggerMessage(EventId = 1101, Level = LogLevel.Warning, Message = "invalid startup packet from client: {Reason}")]
    private static partial void LogBadStartup(ILogger logger, string reason);

    [LoggerMessage(EventId = 1102, Level = LogLevel.Warning, Message = "client did not send a startup packet within authentication_timeout ({Seconds} s); connection closed")]
    private static partial void LogStartupTimeout(ILogger logger, int seconds);

    [LoggerMessage(EventId = 1103, Level = LogLevel.Debug, Message = "pid {Pid}: cancel request received")]
    private static partial void LogCancel(ILogger logger, int pid);

    [LoggerMessage(EventId = 1104, Level = LogLevel.Debug, Message = "cancel request for unknown session {Pid} ignored")]
    private static partial void LogCancelUnknown(ILogger logger, int pid);
}
