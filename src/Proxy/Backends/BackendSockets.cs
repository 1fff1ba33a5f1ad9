using System.Net.Sockets;

namespace PgPoolConsole.Proxy.Backends;

/// <summary>
/// Opens the socket to a node. A host that starts with '/' is a Unix-socket directory, as in
/// pgpool.conf and libpq (backend_hostname0 = '/var/run/postgresql'): the node listens on
/// DIRECTORY/.s.PGSQL.PORT. Anything else is a TCP host name or address.
/// </summary>
public static class BackendSockets
{
    public static bool IsUnixSocketDirectory(string host) => host.StartsWith('/');

    /// <summary>The socket file of a node reached through a Unix-socket directory.</summary>
    public static string UnixSocketPath(BackendEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return Protocol.PgSocketPaths.For(endpoint.Host, endpoint.Port);
    }

    /// <summary>Connects; TCP sockets get TCP_NODELAY and keepalive. Connection errors are SocketExceptions.</summary>
    public static async Task<Socket> ConnectAsync(BackendEndpoint endpoint, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        var unix = IsUnixSocketDirectory(endpoint.Host);
        var socket = unix
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            if (unix)
            {
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(UnixSocketPath(endpoint)), cancellationToken);
            }
            else
            {
                await socket.ConnectAsync(endpoint.Host, endpoint.Port, cancellationToken);
                socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }
}
