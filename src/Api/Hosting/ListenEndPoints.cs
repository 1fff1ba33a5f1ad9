using System.Net;
using System.Net.Sockets;

namespace PgPoolConsole.Api.Hosting;

/// <summary>
/// listen_addresses and pcp_listen_addresses as pgpool-II reads them: '*' is every IPv4 and IPv6
/// address, 'localhost' both loopbacks, else a comma list of addresses or host names.
/// </summary>
internal static class ListenEndPoints
{
    public static IReadOnlyList<IPAddress> Addresses(string listenAddresses)
    {
        var items = listenAddresses.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (items.Contains("*"))
        {
            // One dual-stack socket (Kestrel makes [::] dual-mode): IPv4 clients arrive as ::ffff:a.b.c.d, see ClientEndPoint.
            return [CanBind(IPAddress.IPv6Any) ? IPAddress.IPv6Any : IPAddress.Any];
        }

        var addresses = new List<IPAddress>();
        foreach (var item in items)
        {
            IEnumerable<IPAddress> resolved = item switch
            {
                "localhost" => CanBind(IPAddress.IPv6Loopback) ? [IPAddress.Loopback, IPAddress.IPv6Loopback] : [IPAddress.Loopback],
                _ when IPAddress.TryParse(item, out var ip) => [ip],
                _ => Dns.GetHostAddresses(item).Where(a => a.AddressFamily == AddressFamily.InterNetwork),
            };
            foreach (var address in resolved)
            {
                if (!addresses.Contains(address))
                {
                    addresses.Add(address);
                }
            }
        }

        return addresses;
    }

    /// <summary>The client's address as pool_hba.conf, the log and SHOW pool_processes should see it: IPv4 stays IPv4 on a dual-stack socket.</summary>
    public static EndPoint? ClientEndPoint(EndPoint? remote) =>
        remote is IPEndPoint { Address.IsIPv4MappedToIPv6: true } ip ? new IPEndPoint(ip.Address.MapToIPv4(), ip.Port) : remote;

    /// <summary>Whether this host has the address (IPv6 may be switched off, in a container say).</summary>
    private static bool CanBind(IPAddress address)
    {
        if (!Socket.OSSupportsIPv6)
        {
            return false;
        }

        try
        {
            using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            probe.Bind(new IPEndPoint(address, 0));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
