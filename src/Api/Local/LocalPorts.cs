using System.Net;
using System.Net.Sockets;

namespace PgPoolConsole.Api.Local;

/// <summary>Free TCP ports on 127.0.0.1 for local servers.</summary>
public static class LocalPorts
{
    private static readonly HashSet<int> Handed = [];
    private static readonly Lock HandedLock = new();

    /// <summary>
    /// A port that was free on 127.0.0.1 a moment ago (the kernel picks it: bind to port 0).
    /// Never returns the same port twice within this process, so servers created concurrently
    /// in one test run do not collide; another process can still take it before we listen, which
    /// callers handle by retrying with a new port.
    /// </summary>
    public static int GetFreePort()
    {
        for (var attempt = 0; attempt < 100; attempt++)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            listener.Stop();
            lock (HandedLock)
            {
                if (Handed.Add(port))
                {
                    return port;
                }
            }
        }

        throw new InvalidOperationException("Could not find a free TCP port on 127.0.0.1 that was not handed out before.");
    }

    /// <summary>True when nothing listens on 127.0.0.1:<paramref name="port"/> right now (we can bind it).</summary>
    public static bool IsFree(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            listener.Stop();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
