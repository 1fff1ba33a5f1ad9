using System.Globalization;

namespace PgPoolConsole.Proxy.Protocol;

/// <summary>
/// PostgreSQL's name for a server's Unix-domain socket, DIRECTORY/.s.PGSQL.PORT: what libpq, pgpool
/// and the pcp tools look for, for the nodes, the proxy and PCP alike.
/// </summary>
public static class PgSocketPaths
{
    public static string For(string directory, int port) => Path.Combine(directory, ".s.PGSQL." + port.ToString(CultureInfo.InvariantCulture));
}
