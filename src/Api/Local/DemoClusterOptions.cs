namespace PgPoolConsole.Api.Local;

/// <summary>What <see cref="DemoCluster.StartAsync"/> builds. Ports apply when the folder is first created.</summary>
public sealed record DemoClusterOptions
{
    /// <summary>The folder holding everything (e.g. <c>&lt;checkout&gt;/.demo</c>).</summary>
    public required string Folder { get; init; }

    /// <summary>One PostgreSQL node per port: node0, node1, ….</summary>
    public IReadOnlyList<int> NodePorts { get; init; } = [5433, 5434];

    /// <summary>The proxy's client port written to pgpool.conf.</summary>
    public int ProxyPort { get; init; } = 9999;

    /// <summary>The PCP port written to pgpool.conf.</summary>
    public int PcpPort { get; init; } = 9898;

    /// <summary>The dashboard port shown in the connection help.</summary>
    public int DashboardPort { get; init; } = 5000;

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(Folder);
        // The folder is written into pgpool.conf strings and into shell commands run by failover.
        if (Path.GetFullPath(Folder).IndexOfAny(['"', '\'', '$', '`', '\\', '%', '\n', '\r']) >= 0)
        {
            throw new ArgumentException($"The demo folder '{Folder}' must not contain quotes, '$', '`', '\\', '%' or line breaks.", nameof(Folder));
        }

        if (NodePorts.Count == 0)
        {
            throw new ArgumentException("The demo needs at least one node.", nameof(NodePorts));
        }

        int[] all = [.. NodePorts, ProxyPort, PcpPort, DashboardPort];
        if (all.Any(port => port is <= 0 or > 65535))
        {
            throw new ArgumentOutOfRangeException(nameof(NodePorts), "Every demo port must be a TCP port (1-65535).");
        }

        if (all.Distinct().Count() != all.Length)
        {
            throw new ArgumentException("The demo's node, proxy, PCP and dashboard ports must all differ.", nameof(NodePorts));
        }
    }
}
