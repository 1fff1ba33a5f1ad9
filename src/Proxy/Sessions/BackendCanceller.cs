using System.Net.Sockets;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// Sends a CancelRequest to a backend on a new connection, as PostgreSQL requires. Always in plain
/// text, also to nodes reached over TLS (libpq before 17 did the same; 17 and later use TLS when
/// the cancelled connection did): the request carries only the backend's pid and secret key, and
/// PostgreSQL handles it before pg_hba.conf, so hostssl-only nodes accept it.
/// </summary>
public static class BackendCanceller
{
    public static async Task CancelAsync(BackendEndpoint endpoint, int processId, int secretKey, CancellationToken cancellationToken)
    {
        try
        {
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            using var socket = await BackendSockets.ConnectAsync(endpoint, timeout.Token);
            await socket.SendAsync(PgWriter.CancelRequest(processId, secretKey), SocketFlags.None, timeout.Token);
            // The server closes the connection after reading the request; wait for that briefly.
            var buffer = new byte[1];
            await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token);
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException or IOException)
        {
            // Cancellation is best effort, as in PostgreSQL itself.
        }
    }
}
