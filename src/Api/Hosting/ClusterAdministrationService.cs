using Hangfire;
using PgPoolConsole.Api.Jobs;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Health;
using PgPoolConsole.Proxy.Recovery;
using PgPoolConsole.Proxy.Replication;
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
    ConsistencyVerifier verifier,
    OnlineRecovery recovery,
    ILogger<ClusterAdministrationService> logger) : IClusterAdministration
{
    private readonly object _recoveryGate = new();

    /// <summary>How long an attach may spend proving the node holds the main node's data.</summary>
    internal TimeSpan SyncCheckBudget { get; set; } = TimeSpan.FromSeconds(10);

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

        if (await IsInRecoveryAsync(node, cancellationToken))
        {
            return new AdminResult(AdminError.InvalidState, $"node {nodeId} cannot be attached: it is in recovery (a read-only standby); promote it, or bring it back with online recovery");
        }

        // A stale node must not silently rejoin: compare it with the main node first. Writes that
        // become visible after the comparison started could be missing from it, so the count of
        // writes is compared again once traffic is paused.
        var writesBefore = store.WriteCount;
        var sync = await CheckInSyncAsync(node, cancellationToken);
        if (sync.Differences is { } differences)
        {
            LogAttachRefusedStale(logger, nodeId, differences);
            return new AdminResult(AdminError.InvalidState, $"node {nodeId} was not attached: its data differs from the main node; bring it back with online recovery", differences);
        }

        // Unproven, the node may still be attached as it is, but only if nothing was written
        // through the proxy since it was detached: otherwise it certainly lacks those writes.
        var missedWrites = store.WriteCount - node.WritesWhenDetached;
        if (!sync.Proven && missedWrites > 0)
        {
            LogAttachRefusedUnproven(logger, nodeId, missedWrites, sync.Reason);
            return new AdminResult(
                AdminError.InvalidState,
                $"node {nodeId} was not attached: {missedWrites} write(s) went through the proxy since it was detached, and it could not be proved to have them ({sync.Reason}); bring it back with online recovery",
                "pcp_recovery_node copies the main node's data to it while clients keep working");
        }

        LogAttaching(logger, nodeId, node.HostAndPort);
        await coordinator.WaitForCopyableStateAsync(TimeSpan.FromSeconds(Math.Max(1, options.Current.RecoveryTimeout)), cancellationToken);
        var writesDuringCheck = false;
        try
        {
            await coordinator.RunPausedAsync(async (paused, token) =>
            {
                // Proven: nothing may have been written since the comparison began. Unproven: nothing
                // since the node was detached.
                if (store.WriteCount != (sync.Proven ? writesBefore : node.WritesWhenDetached))
                {
                    writesDuringCheck = true;
                    return;
                }

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

        if (writesDuringCheck)
        {
            return new AdminResult(AdminError.Busy, $"node {nodeId} was not attached: writes went through while it was being compared with the main node, so it may miss them; try again or bring it back with online recovery");
        }

        if (!sync.Proven)
        {
            LogAttachedUnproven(logger, nodeId, sync.Reason);
            return AdminResult.Ok($"node {nodeId} attached", $"WARNING: node {nodeId} could not be proved to be in sync with the main node ({sync.Reason}); nothing was written through the proxy since it was detached, but if it was changed directly, run a consistency check, or detach it and use online recovery");
        }

        return AdminResult.Ok($"node {nodeId} attached", "its data matches the main node's");
    }

    private async Task<bool> IsInRecoveryAsync(NodeState node, CancellationToken cancellationToken)
    {
        await using var connection = await AdminConnector.ConnectAsync(node, "postgres", options.Current, "pgpoolconsole attach", cancellationToken);
        return (await BackendQuery.RunAsync(connection, "SELECT pg_catalog.pg_is_in_recovery()", cancellationToken)).Scalar == "t";
    }

    private sealed record SyncCheck(bool Proven, string? Differences, string Reason);

    /// <summary>Compares every table of the node with the main node's, within <see cref="SyncCheckBudget"/>.</summary>
    private async Task<SyncCheck> CheckInSyncAsync(NodeState node, CancellationToken cancellationToken)
    {
        if (store.Current.Find(store.Current.MainNodeId) is not { IsUsable: true } main)
        {
            return new SyncCheck(false, null, "there is no main node to compare with");
        }

        using var budget = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        budget.CancelAfter(SyncCheckBudget);
        ConsistencyCheck check;
        try
        {
            check = await verifier.CompareAsync($"attach-{node.Id}", [main, node], new ConsistencyRequest([], []), _ => { }, budget.Token);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new SyncCheck(false, null, $"the comparison did not finish within {SyncCheckBudget.TotalSeconds:0} s");
        }

        if (check.State != ConsistencyCheckState.Completed)
        {
            return new SyncCheck(false, null, $"the comparison failed: {check.Error}");
        }

        var differing = check.Tables.Where(t => !t.Identical).ToList();
        return differing.Count > 0
            ? new SyncCheck(false, string.Join("; ", differing.Take(5).Select(t => $"{t.Database}.{t.Table}: {t.Difference}")), "")
            : new SyncCheck(true, null, "");
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

    /// <summary>
    /// Queues an online recovery of a detached node as a Hangfire job; one at a time. The returned
    /// id is the recovery's id in the store (its progress) and the Hangfire job's argument.
    /// </summary>
    public Task<(AdminResult Result, string? JobId)> StartRecoveryAsync(int nodeId, CancellationToken cancellationToken)
    {
        var node = store.Current.Find(nodeId);
        if (node is null)
        {
            return Refused(new AdminResult(AdminError.UnknownNode, $"node id {nodeId} is not configured"));
        }

        if (node.IsUsable)
        {
            return Refused(new AdminResult(AdminError.InvalidState, $"node {nodeId} is attached (status {node.StatusName}); only a detached node can be recovered"));
        }

        string id;
        lock (_recoveryGate)
        {
            if (store.Recovery.Running is { } running)
            {
                return Refused(new AdminResult(AdminError.Busy, $"a recovery is already running (node {running.NodeId}, id {running.JobId}); one recovery at a time"));
            }

            id = Guid.NewGuid().ToString("N")[..12];
            recovery.Queue(id, nodeId);
        }

        try
        {
            jobs.Enqueue<RecoveryJob>(job => job.RunAsync(id, nodeId, CancellationToken.None));
        }
        catch (BackgroundJobClientException e)
        {
            // The job store (hangfire_connection_string) is unreachable: say so, and leave no
            // recovery "running" that would refuse every later request.
            var error = $"could not queue the recovery of node {nodeId}: the job store refused it: {e.InnerException?.Message ?? e.Message}";
            recovery.FailQueued(id, error);
            return Refused(new AdminResult(AdminError.Failed, error));
        }

        return Task.FromResult<(AdminResult, string?)>((AdminResult.Ok($"recovery of node {nodeId} started", id), id));

        static Task<(AdminResult, string?)> Refused(AdminResult result) => Task.FromResult<(AdminResult, string?)>((result, null));
    }

    /// <summary>Starts a recovery and waits for its outcome (pcp_recovery_node blocks the same way).</summary>
    public async Task<AdminResult> RecoverAsync(int nodeId, CancellationToken cancellationToken)
    {
        var (started, id) = await StartRecoveryAsync(nodeId, cancellationToken);
        if (id is null)
        {
            return started;
        }

        while (store.Recovery.Find(id) is { Outcome: RecoveryOutcome.Running })
        {
            await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
        }

        var result = store.Recovery.Find(id);
        return result?.Outcome == RecoveryOutcome.Succeeded
            ? AdminResult.Ok($"node {nodeId} recovered and attached", id)
            : new AdminResult(AdminError.Failed, result?.Error ?? $"recovery {id} of node {nodeId} did not finish", result?.Stages.FirstOrDefault(s => s.Outcome == RecoveryStageOutcome.Failed)?.Output);
    }

    /// <summary>Cancels a running recovery; it stops at its next step, traffic resumes and the node stays down.</summary>
    public Task<AdminResult> CancelRecoveryAsync(string recoveryId, CancellationToken cancellationToken) =>
        Task.FromResult(recovery.Cancel(recoveryId)
            ? AdminResult.Ok($"recovery {recoveryId} is being cancelled")
            : new AdminResult(AdminError.InvalidState, $"recovery {recoveryId} is not running"));

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

    [LoggerMessage(EventId = 5203, Level = LogLevel.Warning, Message = "node {NodeId} was not attached: its data differs from the main node: {Differences}")]
    private static partial void LogAttachRefusedStale(ILogger logger, int nodeId, string differences);

    [LoggerMessage(EventId = 5205, Level = LogLevel.Warning, Message = "node {NodeId} was not attached: {Writes} write(s) went through the proxy since it was detached and it could not be proved to have them: {Reason}")]
    private static partial void LogAttachRefusedUnproven(ILogger logger, int nodeId, long writes, string reason);

    [LoggerMessage(EventId = 5204, Level = LogLevel.Warning, Message = "node {NodeId} attached, but it could not be proved to be in sync with the main node: {Reason}")]
    private static partial void LogAttachedUnproven(ILogger logger, int nodeId, string reason);

    [LoggerMessage(EventId = 5202, Level = LogLevel.Warning, Message = "attach of node {NodeId}: {Count} session(s) ended because their state could not be replayed")]
    private static partial void LogSessionsEnded(ILogger logger, int nodeId, int count);
}
