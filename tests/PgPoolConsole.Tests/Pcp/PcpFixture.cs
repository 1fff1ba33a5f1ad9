using System.Globalization;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Pcp;

/// <summary>
/// The product on real nodes (see <see cref="ProxyFixture"/>) with its PCP Unix socket in the
/// fixture's own folder, a .pcppass file for the pcp.conf user (postgres / postgres), and helpers
/// that run the stock Debian pcp_* tools and <c>pgpoolconsole pcp</c> against it.
/// </summary>
public class PcpFixture : ProxyFixture, IAsyncLifetime
{
    public const string User = "postgres";
    public const string PcpPassword = "postgres";

    public PcpFixture()
        : base(2)
    {
    }

    protected PcpFixture(int nodeCount, bool archiving)
        : base(nodeCount, archiving)
    {
    }

    /// <summary>pcp_socket_dir: the fixture's folder, never /tmp itself.</summary>
    public string SocketDirectory => Directory;

    public string SocketPath => Path.Combine(SocketDirectory, $".s.PGSQL.{PcpPort.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>A .pcppass (mode 0600) that matches any host and port for postgres / postgres.</summary>
    public string PassFile => Path.Combine(Directory, "pcppass");

    protected override string ExtraConfiguration => $"pcp_socket_dir = '{SocketDirectory}'";

    public new async Task InitializeAsync()
    {
        await base.InitializeAsync();
        PcpTools.WritePassFile(PassFile, $"*:*:{User}:{PcpPassword}\n");
    }

    /// <summary>Runs a stock tool over TCP with -w and the fixture's .pcppass: <c>pcp_x -h 127.0.0.1 -p PORT -U postgres -w ARGS</c>.</summary>
    public Task<ProcessResult> ToolAsync(string tool, params string[] args) =>
        PcpTools.RunStockAsync(tool, [.. ConnectionArguments(), .. args], PassFile);

    /// <summary>The same through our command line: <c>pgpoolconsole pcp TOOL -h 127.0.0.1 -p PORT -U postgres -w ARGS</c>.</summary>
    public Task<ProcessResult> OurToolAsync(string tool, params string[] args) =>
        PcpTools.RunOursAsync(tool, [.. ConnectionArguments(), .. args], PassFile);

    public string[] ConnectionArguments() => ["-h", "127.0.0.1", "-p", PcpPort.ToString(CultureInfo.InvariantCulture), "-U", User, "-w"];
}

/// <summary>Shares one <see cref="PcpFixture"/> between the classes that only read state or check errors.</summary>
[CollectionDefinition(Name)]
public sealed class PcpCollection : ICollectionFixture<PcpFixture>
{
    public const string Name = "PCP on two nodes";
}
