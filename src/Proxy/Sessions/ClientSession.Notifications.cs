using System.Buffers;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Sessions;

public sealed partial class ClientSession
{
    /// <summary>
    /// While a listening session waits for its client, the main node may send NOTIFY messages
    /// (or notices, parameter changes, or a FATAL before closing). Completes when it has.
    /// </summary>
    private Task<bool> WatchMainForNotificationsAsync(CancellationToken cancellationToken)
    {
        var main = MainBackend;
        return main is null ? Task.FromResult(false) : main.Reader.WaitForDataAsync(cancellationToken);
    }

    /// <summary>Ends a watch that is no longer needed (the client spoke first) or relays what it found.</summary>
    private async Task StopWatchingAsync(Task<bool> watch)
    {
        var main = MainBackend;
        if (!watch.IsCompleted)
        {
            main?.Reader.Pipe.CancelPendingRead();
        }

        try
        {
            await watch;
        }
        catch (OperationCanceledException)
        {
            // cancelled on purpose
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            // noticed again at the next use of the connection
        }
    }

    /// <summary>Relays asynchronous messages the main node sent while the session was idle.</summary>
    private async Task RelayIdleMessagesAsync(CancellationToken cancellationToken)
    {
        var main = MainBackend;
        if (main is null)
        {
            return;
        }

        try
        {
            while (main.Reader.HasBufferedMessage)
            {
                var message = await main.Reader.ReadAsync(cancellationToken);
                switch (message.TypeChar)
                {
                    case 'S':
                        main.ApplyParameterStatus(message);
                        break;
                    case 'E':
                        // A FATAL (administrator command, shutdown) precedes the server closing the connection.
                        throw new IOException($"backend node {main.NodeId} closed the idle connection: {PgErrorFields.Parse(message.Payload).Message}");
                    case 'A':
                    case 'N':
                        break;
                    default:
                        throw new PgProtocolException($"unexpected message \"{message.TypeChar}\" from idle backend node {main.NodeId}");
                }

                foreach (var segment in message.Raw)
                {
                    _clientOut.Write(segment.Span);
                }
            }

            await _clientOut.FlushAsync(cancellationToken);
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            await HandleBackendLostAsync(main.NodeId, e, cancellationToken);
        }
    }
}
