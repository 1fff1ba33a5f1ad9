using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Tests.Infrastructure;
using Xunit.Abstractions;

namespace PgPoolConsole.Tests.Failover;

[Collection(FailoverCollection.Name)]
public sealed class FailoverTests(FailoverFixture proxy, ITestOutputHelper output) : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        File.Delete(proxy.FailoverLog);
        File.Delete(proxy.FailbackLog);
    }

    public Task DisposeAsync() => proxy.HealAsync();

    private string Port => proxy.ProxyPort.ToString(CultureInfo.InvariantCulture);

    private Task WaitForStatusAsync(int nodeId, NodeStatus status, TimeSpan timeout) =>
        Eventually.TrueAsync(() => proxy.Host.Store.Current.Find(nodeId)?.Status == status, timeout, $"node {nodeId} becomes {status}");

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public async Task NodeKilledUnderPgbench_NoClientAborts_AndEveryCommitSurvives(int killed)
    {
        var database = await proxy.CreateDatabaseAsync("kill");
        var init = await Pgbench.RunAsync(["-h", "127.0.0.1", "-p", Port, "-U", "postgres", "-i", "-s", "1", database], null, TimeSpan.FromMinutes(2));
        Assert.True(init.Process.Succeeded, init.Process.Describe());

        var run = Pgbench.RunAsync(["-h", "127.0.0.1", "-p", Port, "-U", "postgres", "-c", "8", "-j", "2", "-T", "30", database], null, TimeSpan.FromMinutes(3));
        await Task.Delay(TimeSpan.FromSeconds(10));
        var killedAt = Stopwatch.StartNew();
        await proxy.Nodes[killed].KillAsync();
        await WaitForStatusAsync(killed, NodeStatus.Down, TimeSpan.FromSeconds(20));
        output.WriteLine($"node {killed} detected down {killedAt.Elapsed.TotalMilliseconds:0} ms after the kill");
        var result = await run;

        output.WriteLine(result.Process.StandardOutput);
        output.WriteLine(result.Process.StandardError);
        Assert.Equal(0, result.AbortedClients);
        Assert.Equal(0L, result.FailedTransactions ?? 0);
        Assert.False(result.RunAborted, result.Process.Describe());
        var survivor = proxy.Nodes[1 - killed];
        var history = await NodeSql.ReadColumnAsync(survivor, database, "SELECT count(*)::text FROM pgbench_history");
        Assert.Equal(result.TransactionsProcessed, long.Parse(history.Single(), CultureInfo.InvariantCulture));
        Assert.Equal(1 - killed, proxy.Host.Store.Current.MainNodeId);
        Assert.Contains($"d={killed} ", await File.ReadAllTextAsync(proxy.FailoverLog));
    }

    [Fact]
    public async Task DetachedNode_PgStatusFollowsTheServer_DownWhileStopped_UpOnceItRunsAgain()
    {
        // Detached while healthy (pcp_detach_node), then stopped: no health check ever failed on it.
        var administration = proxy.Host.Services.GetRequiredService<IClusterAdministration>();
        Assert.True((await administration.DetachAsync(1, graceful: false, default)).Succeeded);
        await Eventually.TrueAsync(async () => await PgStatusOfNode1Async() == "up", TimeSpan.FromSeconds(15), "SHOW POOL_NODES: pg_status of the detached, running node is up");
        await proxy.Nodes[1].KillAsync();
        await Eventually.TrueAsync(async () => await PgStatusOfNode1Async() == "down", TimeSpan.FromSeconds(15), "SHOW POOL_NODES: pg_status of the stopped node is down");

        await proxy.Nodes[1].StartAsync();

        await Eventually.TrueAsync(async () => await PgStatusOfNode1Async() == "up", TimeSpan.FromSeconds(15), "SHOW POOL_NODES: pg_status of the running, detached node is up");
        Assert.Equal(NodeStatus.Down, proxy.Host.Store.Current.Find(1)!.Status); // answering does not attach it

        async Task<string> PgStatusOfNode1Async()
        {
            var show = await proxy.PsqlAsync("postgres", "SHOW POOL_NODES");
            show.EnsureSuccess();
            return show.StandardOutput.Split('\n').Single(line => line.StartsWith("1|", StringComparison.Ordinal)).Split('|')[4];
        }
    }

    [Fact]
    public async Task SeedFailureExample_ReplicaKilledDuringABigUpdate_UpdateCommitsOnTheMain()
    {
        var database = await proxy.CreateDatabaseAsync("seedfail");
        (await proxy.PsqlAsync(database,
            "CREATE TABLE history (tid int, bid int, aid int, mtime timestamp, filler text)",
            "INSERT INTO history SELECT 1, 1, 1, now(), i::text FROM generate_series(1, 300000) i")).EnsureSuccess();

        var update = proxy.PsqlAsync(database, "update history set tid=2");
        await Task.Delay(300);
        await proxy.Nodes[1].KillAsync(); // the tutorial's "pkill postgres" on node2
        var result = await update;

        Assert.True(result.Succeeded, result.Describe());
        Assert.Equal("UPDATE 300000", result.StandardOutput.Trim());
        await WaitForStatusAsync(1, NodeStatus.Down, TimeSpan.FromSeconds(10));
        Assert.Equal(["300000"], await NodeSql.ReadColumnAsync(proxy.Nodes[0], database, "SELECT count(*)::text FROM history WHERE tid = 2"));

        var node0 = proxy.Nodes[0];
        var node1 = proxy.Nodes[1];
        var failover = (await File.ReadAllTextAsync(proxy.FailoverLog)).Trim();
        Assert.Equal($"d=1 h=127.0.0.1 p={node1.Port} D={node1.DataDirectory} m=0 H=127.0.0.1 M=0 P=-1 r={node0.Port} R={node0.DataDirectory} N= S= pct=%", failover);
        var log = proxy.Host.Store.Log.Query().Select(e => e.Message).ToList();
        Assert.Contains($"starting degeneration. shutdown host 127.0.0.1({node1.Port})", log);
        Assert.Contains($"failover done. shutdown host 127.0.0.1({node1.Port})", log);
        Assert.Contains(log, m => m.StartsWith("execute command: echo \"d=1 ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FrozenNode_IsDetectedByHealthCheckTimeout_AndAWaitingSessionCarriesOn()
    {
        var database = await proxy.CreateDatabaseAsync("frozen");
        await using var connection = await proxy.OpenAsync(database);
        await using (var create = new NpgsqlCommand("CREATE TABLE f (id int)", connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        await proxy.Nodes[1].PauseAsync(); // SIGSTOP: accepts TCP, never answers
        var watch = Stopwatch.StartNew();
        await using var insert = new NpgsqlCommand("INSERT INTO f VALUES (1)", connection);
        Assert.Equal(1, await insert.ExecuteNonQueryAsync().WaitAsync(TimeSpan.FromSeconds(30)));
        await WaitForStatusAsync(1, NodeStatus.Down, TimeSpan.FromSeconds(20));
        output.WriteLine($"frozen node detached after {watch.Elapsed.TotalSeconds:0.0} s");

        // period 1 s + (timeout 2 s + retry delay 1 s) x (1 retry + 1): well under 10 s.
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), $"took {watch.Elapsed}");
        Assert.Equal(["1"], await NodeSql.ReadColumnAsync(proxy.Nodes[0], database, "SELECT count(*)::text FROM f"));
        Assert.Contains(proxy.Host.Store.Log.Query(text: "health check failed on node 1"), e => e.Message.Contains("timed out", StringComparison.Ordinal));
        var stats = proxy.Host.Store.Statistics(1).Health;
        Assert.True(stats.FailCount >= 1);

        // The failover closed the session's connection to the frozen node: the log says so, not "operation canceled".
        var lost = Assert.Single(proxy.Host.Store.Log.Query(text: "lost connection to backend node 1"));
        Assert.EndsWith("closed by the proxy: node 1 is detached", lost.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task BackendTerminatedByAnAdministrator_DoesNotDetachTheNode()
    {
        var database = await proxy.CreateDatabaseAsync("terminate");
        await using var connection = await proxy.OpenAsync(database);
        await using (var create = new NpgsqlCommand("CREATE TABLE t (id int)", connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        await proxy.Nodes[1].ExecuteAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'");
        await using var insert = new NpgsqlCommand("INSERT INTO t VALUES (1)", connection);
        await Assert.ThrowsAnyAsync<Exception>(() => insert.ExecuteNonQueryAsync());

        Assert.All(proxy.Host.Store.Current.Nodes, node => Assert.Equal(NodeStatus.Up, node.Status));
        await using var again = await proxy.OpenAsync(database);
        await using var retry = new NpgsqlCommand("INSERT INTO t VALUES (2)", again);
        Assert.Equal(1, await retry.ExecuteNonQueryAsync());
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, database, "t", "id");
    }

    [Fact]
    public async Task BackendTerminatedInATransaction_CommitFails_NothingCommits_AndTheNodeStaysAttached()
    {
        // Node 1 lost the transaction before the COMMIT reached any node: ending the session rolls
        // it back on node 0 too, and nothing tells the nodes apart.
        var database = await proxy.CreateDatabaseAsync("terminatecommit");
        await using var connection = await proxy.OpenAsync(database);
        await using (var create = new NpgsqlCommand("CREATE TABLE t (id int)", connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        await using var transaction = await connection.BeginTransactionAsync();
        await using (var insert = new NpgsqlCommand("INSERT INTO t VALUES (1)", connection, transaction))
        {
            await insert.ExecuteNonQueryAsync();
        }

        await NodeSql.TerminateBackendsAsync(proxy.Nodes[1], database);

        var error = await Assert.ThrowsAnyAsync<PostgresException>(() => transaction.CommitAsync());
        Assert.Equal("08006", error.SqlState);
        Assert.EndsWith("after FATAL: terminating connection due to administrator command", error.Detail, StringComparison.Ordinal); // the node's own reason
        Assert.All(proxy.Host.Store.Current.Nodes, node => Assert.Equal(NodeStatus.Up, node.Status));
        foreach (var node in proxy.Nodes)
        {
            Assert.Empty(await NodeSql.ReadColumnAsync(node, database, "SELECT id::text FROM t"));
        }
    }
}
