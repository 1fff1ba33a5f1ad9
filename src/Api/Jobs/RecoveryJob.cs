using Hangfire;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Logging;
using PgPoolConsole.Proxy.Recovery;

namespace PgPoolConsole.Api.Jobs;

/// <summary>
/// An online recovery as a Hangfire job (never retried: a half-done recovery must not rerun on
/// its own). Stage progress goes to the cluster state store; the job fails when the recovery
/// does, so Hangfire's dashboard shows the same outcome.
/// </summary>
public sealed class RecoveryJob(OnlineRecovery recovery, ClusterStateStore store)
{
    [AutomaticRetry(Attempts = 0, OnAttemptsExceeded = AttemptsExceededAction.Fail)]
    public async Task RunAsync(string recoveryId, int nodeId, CancellationToken cancellationToken)
    {
        if (store.Recovery.Find(recoveryId) is null)
        {
            // Persistent job storage hands a job that was running when the product stopped to the
            // next process; the recovery it belonged to is gone and the node stayed down.
            throw new InvalidOperationException($"recovery {recoveryId} of node {nodeId} was interrupted by a restart of the product; node {nodeId} stays down; start a new recovery");
        }

        var result = await recovery.RunAsync(recoveryId, cancellationToken);
        if (result.Outcome != RecoveryOutcome.Succeeded)
        {
            throw new AlreadyLoggedException(result.Error ?? $"recovery of node {nodeId} ended {result.Outcome}");
        }
    }
}
