using Hangfire;
using PgPoolConsole.Api.Jobs;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Health;
using PgPoolConsole.Proxy.Sessions;

namespace PgPoolConsole.Api.Hosting;

/// <summary>
/// The one implementation of the operators' actions, shared by PCP, REST, the dashboard and the
/// command line.
/// </summary>
public sealed partial class ClusterAdministrationService(
    ClusterStateStore store,
    OptionsHolder options,
    FailoverController failover,
    SessionCoordinator coordinator,
    ReloadService reloadService,
    ShutdownCoordinator shutdown,
    IBackgroundJobClient jobs,
    ILogger<ClusterAdministrationService> logger) : IClusterAdministration
{
    /// <summary>Queues a consistency check; its results appear in the store under the returned id.</summary>
    public Task<(AdminResult Result, string? CheckId)> StartConsistencyCheckAsync(ConsistencyRequest request, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid().ToString("N")[..12];
        store.ConsistencyChecks.Publish(new ConsistencyCheck(id, store.TimeProvider.GetUtcNow(), null, ConsistencyCheckState.Running, [], null));
        jobs.Enqueue<ConsistencyCheckJob>(job => job.RunAsync(id, request.Databases.ToArray(), request.Tables.ToArray(), request.ChunkRows, CancellationToken.None));
        return Task.FromResult<(AdminResult, string?)>((AdminResult.Ok($"consistency check {id} started"), id));
    }

    /// <summary>
    /// Failback: the node must be detached and reachable. Traffic pauses at transaction
    /// boundaries while every session connects to the node (its state replayed), then the node
    /// is marked attached and failback_command runs.
    /// </summary>
    public async Task<AdminResult> AttachAsync(int nodeId, CancellationToken cancellationToken)
    {
        var node = store.Current.Find(nodeId);
        if (node is null)
        {
            return new AdminResult(AdminError.UnknownNode, $"node id {nodeId} is not configured");
        }

        if (node.IsUsable)
        {
            return new AdminResult(AdminError.InvalidState, $"node {nodeId} is already attached (status {node.StatusName})");
        }

        var settings = options.Current.Backends.FirstOrDefault(b => b.Id == nodeId)?.HealthCheck ?? options.Current.HealthCheck;
        if (await NodeProbe.ProbeAsync(node, settings, cancellationToken) is { Failure: { } failure })
        {
            return new AdminResult(AdminError.Unreachable, $"node {nodeId} cannot be attached: it is not reachable", failure);
        }

        LogAttaching(logger, nodeId, node.HostAndPort);
        try
        {
            await coordinator.RunPausedAsync(async (paused, token) =>
            {
                var ended = await paused.JoinNodeAsync(node, token);
                if (ended.Count > 0)
                {
                    LogSessionsEnded(logger, nodeId, ended.Count);
                }

                await failover.MarkAttachedAsync(nodeId, token);
            }, TimeSpan.FromSeconds(Math.Max(1, options.Current.RecoveryTimeout)), PauseTimeoutAction.Abort, cancellationToken);
        }
        catch (PauseTimeoutException e)
        {
            return new AdminResult(AdminError.Busy, $"node {nodeId} was not attached: transactions did not finish in time", e.Message);
        }

        return AdminResult.Ok($"node {nodeId} attached");
    }

    /// <summary>Detach: refused for the last usable node. Graceful waits for transaction boundaries first.</summary>
    public async Task<AdminResult> DetachAsync(int nodeId, bool graceful, CancellationToken cancellationToken)
    {
        var node = store.Current.Find(nodeId);
        if (node is null)
        {
            return new AdminResult(AdminError.UnknownNode, $"node id {nodeId} is not configured");
        }

        if (!node.IsUsable)
        {
            return new AdminResult(AdminError.InvalidState, $"node {nodeId} is already detached");
        }

        if (store.Current.UsableCount <= 1)
        {
            return new AdminResult(AdminError.LastNode, $"node {nodeId} is the last attached node and cannot be detached");
        }

        DetachResult result;
        if (graceful)
        {
            result = DetachResult.AlreadyDown;
            await coordinator.RunPausedAsync(async (_, token) => result = await failover.DetachAsync(nodeId, "detach requested", DetachCause.Request, token),
                TimeSpan.FromSeconds(Math.Max(1, options.Current.RecoveryTimeout)), PauseTimeoutAction.Wait, cancellationToken);
        }
        else
        {
            result = await failover.DetachAsync(nodeId, "detach requested", DetachCause.Request, cancellationToken);
        }

        return result switch
        {
            DetachResult.Detached => AdminResult.Ok($"node {nodeId} detached"),
            DetachResult.LastNode => new AdminResult(AdminError.LastNode, $"node {nodeId} is the last attached node and cannot be detached"),
            DetachResult.AlreadyDown => new AdminResult(AdminError.InvalidState, $"node {nodeId} is already detached"),
            _ => new AdminResult(AdminError.Failed, $"node {nodeId} was not detached ({result})"),
        };
    }

    public Task<(AdminResult Result, string? JobId)> StartRecoveryAsync(int nodeId, CancellationToken cancellationToken) =>
        Task.FromResult<(AdminResult, string?)>((new AdminResult(AdminError.NotSupported, "online recovery is not available in this build"), null));

    public Task<AdminResult> RecoverAsync(int nodeId, CancellationToken cancellationToken) =>
        Task.FromResult(new AdminResult(AdminError.NotSupported, "online recovery is not available in this build"));

    public Task<AdminResult> ReloadAsync(CancellationToken cancellationToken)
    {
        var outcome = reloadService.Reload();
        return Task.FromResult(outcome.Succeeded
            ? AdminResult.Ok("configuration reloaded", outcome.NeedRestart.Count > 0 ? "needs a restart: " + string.Join(", ", outcome.NeedRestart) : null)
            : new AdminResult(AdminError.Failed, "reload failed", outcome.Error));
    }

    public Task<AdminResult> StopAsync(ShutdownMode mode, CancellationToken cancellationToken)
    {
        shutdown.Request(mode);
        return Task.FromResult(AdminResult.Ok($"{mode.ToString().ToLowerInvariant()} shutdown requested"));
    }

    [LoggerMessage(EventId = 5201, Level = LogLevel.Information, Message = "attaching node {NodeId} ({HostPort}): pausing new transactions while sessions connect to it")]
    private static partial void LogAttaching(ILogger logger, int nodeId, string hostPort);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Warning, Message = "attach of node {NodeId}: {Count} session(s) ended because their state could not be replayed")]
    private static partial void LogSessionsEnded(ILogger logger, int nodeId, int count);
}
