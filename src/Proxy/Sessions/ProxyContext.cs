using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Proxy.Security;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>Reacts to a backend that failed under a session: decides whether the node is detached.</summary>
public interface IFailoverController
{
    /// <summary>
    /// Reports that a node failed (connect refused, connection lost mid-session). Returns true
    /// when the node is (now) detached, false when it stays attached (failover not allowed, or it
    /// is the last usable node).
    /// </summary>
    Task<bool> ReportBackendFailureAsync(int nodeId, string reason, CancellationToken cancellationToken);

    /// <summary>Detaches nodes whose results disagreed with the majority.</summary>
    Task<bool> DetachForMismatchAsync(int nodeId, string reason, CancellationToken cancellationToken);
}

/// <summary>The shared services every client session uses.</summary>
public sealed class ProxyContext
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, byte> _seen = new(StringComparer.Ordinal);

    public required OptionsHolder Options { get; init; }
    public required ClusterStateStore Store { get; init; }
    public required BackendPool Pool { get; init; }
    public required BackendConnector Connector { get; init; }
    public required IFailoverController Failover { get; init; }
    public required QueryRouter Router { get; init; }
    public required LockWaitInspector LockWaits { get; init; }
    public required ILoggerFactory LoggerFactory { get; init; }
    public SessionGate Gate { get; init; } = new();

    /// <summary>Commits in flight, for the next start to find those a crash cut (none: not recorded).</summary>
    public Replication.CommitJournal? Journal { get; init; }

    /// <summary>The node behind each snapshot a session exported (for pg_dump -j's workers).</summary>
    public ExportedSnapshots Snapshots { get; init; } = new();

    /// <summary>The OIDs the proxy picks for new large objects.</summary>
    public LargeObjectIds LargeObjects { get; init; } = new();

    /// <summary>TLS, pool_hba.conf and pool_passwd for client connections.</summary>
    public ClientSecurityHolder Security { get; init; } = new(ClientSecurity.None);
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The shared one-second tick that bounds lock-wait checks of replicated writes.</summary>
    public SecondTicker Ticker { get; init; } = SecondTicker.System;

    /// <summary>Largest message a client may send (bytes).</summary>
    public int MaxClientMessageLength { get; init; } = 256 * 1024 * 1024;

    /// <summary>Version string reported by SHOW POOL_VERSION.</summary>
    public string Version { get; init; } = "pgpoolconsole";

    /// <summary>True the first time <paramref name="key"/> is asked about (a warning worth one log line, not one per session).</summary>
    public bool FirstTime(string key) => _seen.TryAdd(key, 0);
}
