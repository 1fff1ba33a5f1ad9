using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Tests.Infrastructure;
using Xunit.Abstractions;

namespace PgPoolConsole.Tests.Recovery;

[Collection(RecoveryCollection.Name)]
public sealed class OnlineRecoveryTests(RecoveryFixture proxy, ITestOutputHelper output) : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        await proxy.DropDatabasesAsync();
    }

    public Task DisposeAsync() => proxy.HealAsync();

    private IClusterAdministration Administration => proxy.Host.Services.GetRequiredService<IClusterAdministration>();

    private Task KillAndWaitDownAsync(int nodeId) => KillAndWaitDownCoreAsync(nodeId);

    private async Task KillAndWaitDownCoreAsync(int nodeId)
    {
        await proxy.Nodes[nodeId].KillAsync();
        await Eventually.TrueAsync(() => proxy.Host.Store.Current.Find(nodeId)?.Status == NodeStatus.Down, TimeSpan.FromSeconds(20), $"node {nodeId} is detached");
    }

    private void WriteStages(RecoveryProgress progress)
    {
        foreach (var stage in progress.Stages)
        {
            var took = stage.StartedAt is { } s && stage.FinishedAt is { } f ? $"{(f - s).TotalMilliseconds:0} ms" : "-";
            output.WriteLine($"{stage.Number} {stage.Name}: {stage.Outcome} {took} {stage.Error}\n    {stage.Output.Replace("\n", "\n    ", StringComparison.Ordinal)}");
        }
    }

    [Fact]
    public async Task KilledNode_WithIdleClients_IsRecovered_AndTheirSessionsWriteToItAfterwards()
    {
        var database = await proxy.CreateDatabaseAsync("recover");
        await using var idle = await proxy.OpenAsync(database);
        await using (var setup = new NpgsqlCommand("CREATE TABLE t (id serial PRIMARY KEY, v text); INSERT INTO t (v) SELECT 'before ' || i FROM generate_series(1, 1000) i", idle))
        {
            await setup.ExecuteNonQueryAsync();
        }

        await KillAndWaitDownAsync(1);
        await using (var missed = new NpgsqlCommand("INSERT INTO t (v) SELECT 'while down ' || i FROM generate_series(1, 500) i", idle))
        {
            await missed.ExecuteNonQueryAsync(); // only node 0 has these
        }

        var watch = Stopwatch.StartNew();
        var result = await Administration.RecoverAsync(1, default);
        output.WriteLine($"recovery took {watch.Elapsed.TotalSeconds:0.00} s: {result.Message}");
        var progress = proxy.Host.Store.Recovery.All[0];
        WriteStages(progress);

        Assert.True(result.Succeeded, result.Message + "\n" + result.Detail);
        Assert.Equal(RecoveryOutcome.Succeeded, progress.Outcome);
        Assert.All(progress.Stages, stage => Assert.Equal(RecoveryStageOutcome.Succeeded, stage.Outcome));
        Assert.True(proxy.Host.Store.Current.Find(1)!.IsUsable);

        // The idle session was joined to the recovered node: its next writes reach both nodes,
        // and the serial column hands out the same ids on both (exact sequence state).
        await using (var after = new NpgsqlCommand("INSERT INTO t (v) SELECT 'after ' || i FROM generate_series(1, 100) i", idle))
        {
            await after.ExecuteNonQueryAsync();
        }

        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, database, "t", "id");
        Assert.Equal(["1600"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], database, "SELECT count(*)::text FROM t"));
        var log = proxy.Host.Store.Log.Query().Select(e => e.Message).ToList();
        Assert.Contains("starting recovering node 1", log);
        Assert.Contains("1st stage is done", log);
        Assert.Contains("recovery done: node 1", log);
        Assert.Contains("d=1 ", await File.ReadAllTextAsync(proxy.FailbackLog));
    }
}
