using Microsoft.AspNetCore.Connections;
using PgPoolConsole.Proxy.Sessions;

namespace PgPoolConsole.Api.Hosting;

/// <summary>Kestrel hands every connection on the proxy port (9999) to the proxy engine.</summary>
internal sealed class PostgresConnectionHandler(ProxyServer server, ShutdownCoordinator shutdown) : ConnectionHandler
{
    public override Task OnConnectedAsync(ConnectionContext connection) =>
        server.HandleConnectionAsync(connection.Transport, ListenEndPoints.ClientEndPoint(connection.RemoteEndPoint), shutdown.SessionsAborted);
}
