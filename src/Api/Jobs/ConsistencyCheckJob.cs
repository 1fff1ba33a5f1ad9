using Hangfire;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Replication;

namespace PgPoolConsole.Api.Jobs;

/// <summary>A consistency check as a Hangfire job; progress and results go to the cluster state store.</summary>
public sealed class ConsistencyCheckJob(ConsistencyVerifier verifier)
{
    [AutomaticRetry(Attempts = 0)]
    public async Task RunAsync(string checkId, string[] databases, string[] tables, int chunkRows, CancellationToken cancellationToken) =>
        await verifier.RunAsync(checkId, new ConsistencyRequest(databases, tables, chunkRows), cancellationToken);
}
