using Microsoft.AspNetCore.Connections;
using PgPoolConsole.Proxy.Pcp;

namespace PgPoolConsole.Api.Hosting;

/// <summary>Kestrel hands every connection on the PCP port (9898, and its Unix socket) to the PCP server.</summary>
internal sealed class PcpConnectionHandler(PcpServer server, ShutdownCoordinator shutdown) : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection) =>
        server.HandleConnectionAsync(connection.Transport, connection.RemoteEndPoint, shutdown.SessionsAborted);
}
