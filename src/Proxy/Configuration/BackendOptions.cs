namespace PgPoolConsole.Proxy.Configuration;

/// <summary>One configured backend slot (backend_hostnameN, backend_portN, ...).</summary>
public sealed class BackendOptions
{
    public required int Id { get; init; }

    /// <summary>A TCP host name or address (pgpool's '' and '/dir' Unix-socket forms are rejected for now).</summary>
    public required string Hostname { get; init; }

    public int Port { get; init; } = 5432;

    /// <summary>Load-balance weight; pgpool-II's compiled default is 0, so set it for every node you balance to.</summary>
    public double Weight { get; init; } = 1;

    public string DataDirectory { get; init; } = "";

    /// <summary>backend_flag ALLOW_TO_FAILOVER (default) or DISALLOW_TO_FAILOVER; ALWAYS_PRIMARY is accepted and ignored.</summary>
    public bool AllowToFailover { get; init; } = true;

    public string ApplicationName { get; init; } = "";

    /// <summary>The global health_check_* values overridden by this node's health_check_*N, if any.</summary>
    public required HealthCheckOptions HealthCheck { get; init; }

    /// <summary>The global backend_ssl* values overridden by this node's backend_ssl*N, if any.</summary>
    public BackendTlsOptions Tls { get; init; } = new();
}
