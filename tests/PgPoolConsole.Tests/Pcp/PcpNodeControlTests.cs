using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Health;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Pcp;

/// <summary>Nodes that tests detach, stop and recover: a product of their own, with the default recovery scripts and a recovery user.</summary>
public sealed class PcpControlFixture() : PcpFixture(2, archiving: true)
{
    protected override string ExtraConfiguration => base.ExtraConfiguration + "\n" + DefaultRecoverySettings;

    protected override Task PrepareNodesAsync() => InstallRecoveryScriptsAsync();
}

/// <summary>
/// pcp_detach_node, pcp_attach_node, pcp_recovery_node and pcp_reload_config with the stock
/// tools (and our positional form) on real nodes: the cluster state and the data follow.
/// </summary>
public sealed class PcpNodeControlTests(PcpControlFixture fixture) : IClassFixture<PcpControlFixture>, IAsyncLifetime
{
    private ClusterStateStore Store => fixture.Host.Store;

    private string Port => fixture.PcpPort.ToString(CultureInfo.InvariantCulture);

    /// <summary>Every node in service, and no database left by an earlier test (a node that missed its writes would not be attached).</summary>
    public async Task InitializeAsync()
    {
        await fixture.HealAsync();
        await fixture.DropDatabasesAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private static void AssertSucceeded(string tool, ProcessResult result)
    {
        Assert.True(result.StandardError.Length == 0, result.Describe());
        Assert.Equal($"{tool} -- Command Successful\n", result.StandardOutput);
        Assert.Equal(0, result.ExitCode);
    }

    private async Task<string> NodeInfoAsync(int nodeId)
    {
        var result = await fixture.ToolAsync("pcp_node_info", "-n", nodeId.ToString(CultureInfo.InvariantCulture));
        Assert.Equal("", result.StandardError);
        return result.StandardOutput;
    }

    private string NodePrefix(int nodeId) => $"127.0.0.1 {fixture.Nodes[nodeId].Port.ToString(CultureInfo.InvariantCulture)} ";

    private async Task AssertDetachedAsync(int nodeId)
    {
        Assert.Equal(NodeStatus.Down, Store.Current.Find(nodeId)!.Status);
        Assert.StartsWith(NodePrefix(nodeId) + "3 0.500000 down ", await NodeInfoAsync(nodeId));
    }

    private async Task AssertAttachedAsync(int nodeId)
    {
        Assert.True(Store.Current.Find(nodeId)!.IsUsable, $"node {nodeId} is attached");
        Assert.Matches($@"^{NodePrefix(nodeId).Replace(".", @"\.", StringComparison.Ordinal)}(1 \d\.\d{{6}} waiting|2 \d\.\d{{6}} up) up ", await NodeInfoAsync(nodeId));
    }

    /// <summary>Writes through the proxy and checks that both nodes got the rows.</summary>
    private async Task AssertBothNodesReplicateAsync(string prefix)
    {
        var database = await fixture.CreateDatabaseAsync(prefix);
        (await fixture.PsqlAsync(database, "CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100) g")).EnsureSuccess();
        await NodeComparer.AssertTablesIdenticalAsync(fixture.Nodes, database, "t", "id");
        Assert.Equal(100, await fixture.Nodes[1].QueryScalarAsync<long>("SELECT count(*) FROM t", database));
    }

    [Fact]
    public async Task DetachThenAttach_TheNodeLeavesAndRejoins()
    {
        var detach = await fixture.ToolAsync("pcp_detach_node", "-n", "1");

        AssertSucceeded("pcp_detach_node", detach);
        await AssertDetachedAsync(1);
        Assert.Equal("down", Store.Current.Find(1)!.StatusName);

        var attach = await fixture.ToolAsync("pcp_attach_node", "-n", "1");

        AssertSucceeded("pcp_attach_node", attach);
        await AssertAttachedAsync(1);
        await AssertBothNodesReplicateAsync("pcpattach");
    }

    [Fact]
    public async Task DetachGracefully_ThenAttach()
    {
        var detach = await fixture.ToolAsync("pcp_detach_node", "-g", "1");

        AssertSucceeded("pcp_detach_node", detach);
        await AssertDetachedAsync(1);

        AssertSucceeded("pcp_attach_node", await fixture.ToolAsync("pcp_attach_node", "1"));
        await AssertAttachedAsync(1);
    }

    [Fact]
    public async Task DetachingTheLastNode_IsRefused()
    {
        AssertSucceeded("pcp_detach_node", await fixture.ToolAsync("pcp_detach_node", "-n", "1"));

        var last = await fixture.ToolAsync("pcp_detach_node", "-n", "0");

        Assert.Equal("", last.StandardOutput);
        Assert.Equal("ERROR:  node 0 is the last attached node and cannot be detached\n\n", last.StandardError);
        await AssertAttachedAsync(0);
        AssertSucceeded("pcp_attach_node", await fixture.ToolAsync("pcp_attach_node", "-n", "1"));
    }

    [Fact]
    public async Task DetachingADetachedNode_PrintsPgpoolsError()
    {
        AssertSucceeded("pcp_detach_node", await fixture.ToolAsync("pcp_detach_node", "-n", "1"));

        var again = await fixture.ToolAsync("pcp_detach_node", "-n", "1");

        Assert.Equal("ERROR:  invalid degenerate backend request, node id : 1 status: [3] is not valid for failover\nDETAIL:  node 1 is already detached\n\n", again.StandardError);
    }

    [Fact]
    public async Task AttachingAnAttachedNode_PrintsPgpoolsError()
    {
        var status = (int)Store.Current.Find(0)!.Status;

        var result = await fixture.ToolAsync("pcp_attach_node", "-n", "0");

        Assert.Equal("", result.StandardOutput);
        Assert.StartsWith($"ERROR:  invalid failback request, node id : 0 status: [{status}] not valid for failback\nDETAIL:  node 0 is already attached", result.StandardError);
    }

    [Fact]
    public async Task AttachingAStoppedNode_IsRefused_UntilItRunsAgain()
    {
        await fixture.Nodes[1].StopAsync();
        AssertSucceeded("pcp_detach_node", await fixture.ToolAsync("pcp_detach_node", "-n", "1"));

        var refused = await fixture.ToolAsync("pcp_attach_node", "-n", "1");

        Assert.StartsWith("ERROR:  node 1 cannot be attached: it is not reachable\nDETAIL:  ", refused.StandardError);
        await AssertDetachedAsync(1);

        await fixture.Nodes[1].StartAsync();
        AssertSucceeded("pcp_attach_node", await fixture.ToolAsync("pcp_attach_node", "-n", "1"));
        await AssertAttachedAsync(1);
    }

    [Fact]
    public async Task AttachingANodeThatMissedWrites_IsRefused_NamingTheTable()
    {
        var database = await fixture.CreateDatabaseAsync("pcpstale");
        (await fixture.PsqlAsync(database, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")).EnsureSuccess();
        AssertSucceeded("pcp_detach_node", await fixture.ToolAsync("pcp_detach_node", "-n", "1"));
        (await fixture.PsqlAsync(database, "INSERT INTO t VALUES (2)")).EnsureSuccess(); // only node 0 has it

        var refused = await fixture.ToolAsync("pcp_attach_node", "-n", "1");

        Assert.Equal("", refused.StandardOutput);
        Assert.StartsWith("ERROR:  node 1 was not attached: its data differs from the main node; bring it back with online recovery\nDETAIL:  ", refused.StandardError);
        Assert.Contains($"{database}.public.t", refused.StandardError, StringComparison.Ordinal);
        await AssertDetachedAsync(1);
    }

    [Fact]
    public async Task ReloadConfig_ABackendAddedToPgpoolConf_AppearsDetached()
    {
        var newPort = LocalPorts.GetFreePort().ToString(CultureInfo.InvariantCulture);
        await File.AppendAllTextAsync(fixture.ConfigPath, $"\nbackend_hostname2 = '127.0.0.1'\nbackend_port2 = {newPort}\nbackend_weight2 = 1\nbackend_data_directory2 = '{Path.Combine(fixture.Directory, "node2-data")}'\n");

        var reload = await fixture.ToolAsync("pcp_reload_config");

        AssertSucceeded("pcp_reload_config", reload);
        Assert.Equal("3\n", (await fixture.ToolAsync("pcp_node_count")).StandardOutput);
        var info = await NodeInfoAsync(2);
        Assert.StartsWith($"127.0.0.1 {newPort} 3 0.333333 down ", info);
        Assert.Contains(" replica replica 0 none none ", info);
        Assert.Equal(NodeStatus.Down, Store.Current.Find(2)!.Status);
        await AssertAttachedAsync(0);
        // The next test's HealAsync restarts the product with the original pgpool.conf.
    }

    [Fact]
    public async Task ReloadConfig_ChangedNodeSettings_TakeEffect_ThoseNeedingARestartWait()
    {
        var original = await File.ReadAllTextAsync(fixture.ConfigPath);
        try
        {
            // A later line wins, as in pgpool-II.
            await File.AppendAllTextAsync(fixture.ConfigPath, "\nbackend_weight0 = 0\nbackend_flag0 = 'DISALLOW_TO_FAILOVER'\nbackend_data_directory1 = '/srv/moved'\nconnection_cache = off\n");

            AssertSucceeded("pcp_reload_config", await fixture.ToolAsync("pcp_reload_config"));

            Assert.Equal("0.000000", (await NodeInfoAsync(0)).Split(' ')[3]);
            Assert.Equal("1.000000", (await NodeInfoAsync(1)).Split(' ')[3]);
            Assert.False(Store.Current.Find(0)!.AllowToFailover);
            Assert.Equal("/srv/moved", Store.Current.Find(1)!.DataDirectory);
            // pgpool-II's connection_cache needs a restart: until then the running value stays, and shows.
            Assert.Equal("on", (await fixture.PsqlAsync("postgres", "PGPOOL SHOW connection_cache")).EnsureSuccess().StandardOutput.Trim());
            Assert.True(fixture.Host.Services.GetRequiredService<OptionsHolder>().Current.ConnectionCache);
            // New sessions choose their read node by the new weights: all of them node 1.
            for (var session = 0; session < 4; session++)
            {
                var port = await fixture.PsqlAsync("postgres", "SELECT inet_server_port()");
                Assert.Equal(fixture.Nodes[1].Port.ToString(CultureInfo.InvariantCulture), port.EnsureSuccess().StandardOutput.Trim());
            }
        }
        finally
        {
            await File.WriteAllTextAsync(fixture.ConfigPath, original);
            AssertSucceeded("pcp_reload_config", await fixture.ToolAsync("pcp_reload_config"));
        }

        Assert.Equal("0.500000", (await NodeInfoAsync(0)).Split(' ')[3]);
        Assert.True(Store.Current.Find(0)!.AllowToFailover);
    }

    [Fact]
    public async Task PositionalForm_DetachThenAttach()
    {
        string[] connection = ["20", "127.0.0.1", Port, "postgres", "postgres"];

        AssertSucceeded("pcp_detach_node", await PcpTools.RunOursAsync("detach-node", [.. connection, "1"], passFile: null));
        await AssertDetachedAsync(1);

        AssertSucceeded("pcp_attach_node", await PcpTools.RunOursAsync("attach-node", [.. connection, "1"], passFile: null));
        await AssertAttachedAsync(1);
    }

    [Fact]
    public async Task RecoveryNode_KilledNode_WaitsThenTheNodeIsUpAndInSync()
    {
        var database = await fixture.CreateDatabaseAsync("pcprecovery");
        (await fixture.PsqlAsync(database, "CREATE TABLE t (id serial PRIMARY KEY, v text); INSERT INTO t (v) SELECT 'before ' || g FROM generate_series(1, 1000) g")).EnsureSuccess();

        // First with the stock tool, then with the seed's positional form through our command line.
        foreach (var recover in new Func<Task<ProcessResult>>[]
                 {
                     () => fixture.ToolAsync("pcp_recovery_node", "-n", "1"),
                     () => PcpTools.RunOursAsync("recovery-node", ["20", "127.0.0.1", Port, "postgres", "postgres", "1"], passFile: null, timeout: TimeSpan.FromMinutes(5)),
                 })
        {
            await fixture.Nodes[1].KillAsync();
            Assert.False(await fixture.Host.Services.GetRequiredService<HealthChecker>().CheckAndActAsync(1, CancellationToken.None));
            await Eventually.TrueAsync(() => Store.Current.Find(1)!.Status == NodeStatus.Down, TimeSpan.FromSeconds(30), "the health check detaches the killed node");
            (await fixture.PsqlAsync(database, "INSERT INTO t (v) SELECT 'while down ' || g FROM generate_series(1, 500) g")).EnsureSuccess();

            var result = await recover();

            AssertSucceeded("pcp_recovery_node", result);
            await AssertAttachedAsync(1);
            (await fixture.PsqlAsync(database, "INSERT INTO t (v) SELECT 'after ' || g FROM generate_series(1, 100) g")).EnsureSuccess();
            await NodeComparer.AssertAllTablesIdenticalAsync(fixture.Nodes, database);
        }
    }
}
