namespace PgPoolConsole.Proxy.Cluster;

/// <summary>Backend status codes, numbered as pgpool-II's (SHOW POOL_NODES, pcp_node_info).</summary>
public enum NodeStatus
{
    /// <summary>Slot not configured (CON_UNUSED).</summary>
    Unused = 0,

    /// <summary>Attached but no client has connected to it yet (CON_CONNECT_WAIT).</summary>
    Waiting = 1,

    /// <summary>Attached and in use (CON_UP).</summary>
    Up = 2,

    /// <summary>Detached (CON_DOWN).</summary>
    Down = 3,
}

public enum NodeRole
{
    Main = 0,
    Replica = 1,
}

/// <summary>An immutable view of one configured backend node.</summary>
public sealed record NodeState
{
    public required int Id { get; init; }
    public required string Host { get; init; }
    public required int Port { get; init; }
    public double Weight { get; init; } = 1;
    public string DataDirectory { get; init; } = "";
    public bool AllowToFailover { get; init; } = true;
    public NodeStatus Status { get; init; } = NodeStatus.Waiting;
    public DateTimeOffset LastStatusChange { get; init; }

    /// <summary>TLS to the node (backend_sslmode and friends), fixed until restart.</summary>
    public Security.BackendTls Tls { get; init; } = Security.BackendTls.Default;

    /// <summary>Why the node went down (health check, backend error, detach request, mismatch).</summary>
    public string? DownReason { get; init; }

    /// <summary>
    /// <see cref="ClusterStateStore.WriteCount"/> when the node went down (0 for a node down since
    /// start): a larger count now means writes went through the proxy that the node did not get.
    /// </summary>
    public long WritesWhenDetached { get; init; }

    /// <summary>Whether queries may be sent to it.</summary>
    public bool IsUsable => Status is NodeStatus.Up or NodeStatus.Waiting;

    public string StatusName => StatusNames.Of(Status);

    /// <summary>A node as configured by backend_* settings (<paramref name="tls"/> loaded from its backend_ssl* files), with the given status.</summary>
    public static NodeState FromOptions(Configuration.BackendOptions backend, Security.BackendTls tls, NodeStatus status, string? downReason, DateTimeOffset now) => new()
    {
        Tls = tls,
        Id = backend.Id,
        Host = backend.Hostname,
        Port = backend.Port,
        Weight = backend.Weight,
        DataDirectory = backend.DataDirectory,
        AllowToFailover = backend.AllowToFailover,
        Status = status,
        DownReason = status == NodeStatus.Down ? downReason : null,
        LastStatusChange = now,
    };

    /// <summary>"host(port)" as pgpool prints it in failover log lines.</summary>
    public string HostAndPort => $"{Host}({Port})";
}

public static class StatusNames
{
    public static string Of(NodeStatus status) => status switch
    {
        NodeStatus.Unused => "unused",
        NodeStatus.Waiting => "waiting",
        NodeStatus.Up => "up",
        NodeStatus.Down => "down",
        _ => "unknown",
    };

    public static string Of(NodeRole role) => role == NodeRole.Main ? "main" : "replica";
}
