namespace PgPoolConsole.Proxy.Cluster;

/// <summary>Why an administrative action was refused or failed.</summary>
public enum AdminError
{
    None,
    UnknownNode,
    InvalidState,
    LastNode,
    Busy,
    Unreachable,
    NotSupported,
    Failed,
}

/// <summary>The outcome of an administrative action (attach, detach, recover, reload, stop).</summary>
public sealed record AdminResult(AdminError Error, string Message, string? Detail = null)
{
    public bool Succeeded => Error == AdminError.None;

    public static AdminResult Ok(string message, string? detail = null) => new(AdminError.None, message, detail);
}

/// <summary>Shutdown modes (pgpool's -m).</summary>
public enum ShutdownMode
{
    Smart,
    Fast,
    Immediate,
}

/// <summary>
/// The actions operators take on the cluster. One implementation serves the PCP port, the REST
/// API, the dashboard and the command line, so each action behaves the same everywhere.
/// </summary>
public interface IClusterAdministration
{
    /// <summary>Attaches a detached node (failback) after checking it is reachable.</summary>
    Task<AdminResult> AttachAsync(int nodeId, CancellationToken cancellationToken);

    /// <summary>Detaches a node; refuses the last usable node.</summary>
    Task<AdminResult> DetachAsync(int nodeId, bool graceful, CancellationToken cancellationToken);

    /// <summary>Starts an online recovery of a node; returns its job id.</summary>
    Task<(AdminResult Result, string? JobId)> StartRecoveryAsync(int nodeId, CancellationToken cancellationToken);

    /// <summary>Runs an online recovery and waits for it to end.</summary>
    Task<AdminResult> RecoverAsync(int nodeId, CancellationToken cancellationToken);

    /// <summary>Cancels a running recovery (traffic resumes, the node stays down).</summary>
    Task<AdminResult> CancelRecoveryAsync(string recoveryId, CancellationToken cancellationToken);

    Task<AdminResult> ReloadAsync(CancellationToken cancellationToken);

    /// <summary>Starts a consistency check of the attached nodes (a background job); returns its id.</summary>
    Task<(AdminResult Result, string? CheckId)> StartConsistencyCheckAsync(ConsistencyRequest request, CancellationToken cancellationToken);

    Task<AdminResult> StopAsync(ShutdownMode mode, CancellationToken cancellationToken);
}
