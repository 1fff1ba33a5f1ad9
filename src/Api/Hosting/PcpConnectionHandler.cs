using Microsoft.AspNetCore.Connections;
using PgPoolConsole.Proxy.Pcp;

namespace PgPoolConsole.Api.Hosting;

/// <summary>Kestrel hands every connection on the PCP port (9898, and its Unix socket) to the PCP server.</summary>
internal sealed class PcpConnectionHandler(PcpServer server, ShutdownCoordinator shutdown) : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var end = await server.HandleConnectionAsync(connection.Transport, ListenEndPoints.ClientEndPoint(connection.RemoteEndPoint), shutdown.SessionsAborted);
        if (end == PcpConnectionEnd.ClientNotReading)
        {
            // Kestrel's graceful close would wait for ever to send the replies the client does not read.
            connection.Abort(new ConnectionAbortedException("the PCP client did not read its replies"));
        }
    }
}
