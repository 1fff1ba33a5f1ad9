using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Failover;

/// <summary>Failback, refused actions, persistent node status and pgpool's SHOW commands, on real nodes.</summary>
[Collection(FailoverCollection.Name)]
public sealed class OperationsTests(FailoverFixture proxy) : IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        await proxy.DropDatabasesAsync();
        File.Delete(proxy.FailbackLog);
    }

    public Task DisposeAsync() => proxy.HealAsync();

    private IClusterAdministration Administration => proxy.Host.Services.GetRequiredService<IClusterAdministration>();

    private NodeStatus StatusOf(int nodeId) => proxy.Host.Store.Current.Find(nodeId)!.Status;

    [Fact]
    public async Task Attach_NodeThatMissedNoWrites_IsAttached_AndFailbackCommandRunsWithPlaceholders()
    {
        var database = await proxy.CreateDatabaseAsync("failback");
        (await proxy.PsqlAsync(database, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1), (2)")).EnsureSuccess();
        Assert.True((await Administration.DetachAsync(1, graceful: false, default)).Succeeded);
        (await proxy.PsqlAsync(database, "SELECT count(*) FROM t")).EnsureSuccess(); // reads do not make it stale

        var result = await Administration.AttachAsync(1, default);

        Assert.True(result.Succeeded, result.Message + " " + result.Detail);
        Assert.Equal("its data matches the main node's", result.Detail);
        Assert.True(proxy.Host.Store.Current.Find(1)!.IsUsable, "node 1 is attached (waiting or up)");
        var node0 = proxy.Nodes[0];
        var node1 = proxy.Nodes[1];
        Assert.Equal($"d=1 h=127.0.0.1 p={node1.Port} D={node1.DataDirectory} m=0 H=127.0.0.1 M=0", (await File.ReadAllTextAsync(proxy.FailbackLog)).Trim());
        Assert.Contains(proxy.Host.Store.Log.Query(), e => e.Message == $"failback done. reconnect host 127.0.0.1({node1.Port})");

        (await proxy.PsqlAsync(database, "INSERT INTO t VALUES (3)")).EnsureSuccess();
        await NodeComparer.AssertTablesIdenticalAsync([node0, node1], database, "t", "id");
    }

    [Fact]
    public async Task Attach_StaleNode_IsRefused_NamingTheTableThatDiffers()
    {
        var database = await proxy.CreateDatabaseAsync("stale");
        (await proxy.PsqlAsync(database, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")).EnsureSuccess();
        Assert.True((await Administration.DetachAsync(1, graceful: false, default)).Succeeded);
        (await proxy.PsqlAsync(database, "INSERT INTO t VALUES (2)")).EnsureSuccess(); // only node 0 has it

        var result = await Administration.AttachAsync(1, default);

        Assert.Equal(AdminError.InvalidState, result.Error);
        Assert.Contains("differs from the main node", result.Message, StringComparison.Ordinal);
        Assert.Contains($"{database}.public.t", result.Detail, StringComparison.Ordinal);
        Assert.Equal(NodeStatus.Down, StatusOf(1));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Attach_WhenTheComparisonCannotFinish_IsRefusedOnlyIfWritesWentThroughSinceTheDetach(bool writeWhileDetached)
    {
        var database = await proxy.CreateDatabaseAsync("unproven");
        (await proxy.PsqlAsync(database, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")).EnsureSuccess();
        Assert.True((await Administration.DetachAsync(1, graceful: false, default)).Succeeded);
        if (writeWhileDetached)
        {
            (await proxy.PsqlAsync(database, "INSERT INTO t VALUES (2)")).EnsureSuccess(); // only node 0 has it
        }

        var administration = (ClusterAdministrationService)Administration;
        administration.SyncCheckBudget = TimeSpan.FromMilliseconds(1); // as with a database too large to compare in time
        AdminResult result;
        try
        {
            result = await administration.AttachAsync(1, default);
        }
        finally
        {
            administration.SyncCheckBudget = TimeSpan.FromSeconds(10);
        }

        if (writeWhileDetached)
        {
            Assert.Equal(AdminError.InvalidState, result.Error);
            Assert.Matches(@"^node 1 was not attached: \d+ write\(s\) went through the proxy since it was detached, and it could not be proved to have them \(the comparison did not finish within 0 s\); bring it back with online recovery$", result.Message);
            Assert.Equal(NodeStatus.Down, StatusOf(1));
        }
        else
        {
            Assert.True(result.Succeeded, result.Message);
            Assert.StartsWith("WARNING: node 1 could not be proved to be in sync with the main node", result.Detail, StringComparison.Ordinal);
            await NodeComparer.AssertTablesIdenticalAsync([proxy.Nodes[0], proxy.Nodes[1]], database, "t", "id");
        }
    }

    [Fact]
    public async Task Attach_UnreachableNode_IsRefused_AndStaysDown()
    {
        Assert.True((await Administration.DetachAsync(1, graceful: false, default)).Succeeded);
        await proxy.Nodes[1].StopAsync();

        var result = await Administration.AttachAsync(1, default);

        Assert.Equal(AdminError.Unreachable, result.Error);
        Assert.Contains("not reachable", result.Message, StringComparison.Ordinal);
        Assert.Equal(NodeStatus.Down, StatusOf(1));
    }

    [Fact]
    public async Task BadRequests_AreRefusedWithClearErrors()
    {
        var attachUp = await Administration.AttachAsync(0, default);
        Assert.Equal(AdminError.InvalidState, attachUp.Error);
        Assert.Matches(@"^node 0 is already attached \(status (up|waiting)\)$", attachUp.Message);

        Assert.Equal("node id 7 is not configured", (await Administration.AttachAsync(7, default)).Message);
        Assert.Equal(AdminError.UnknownNode, (await Administration.DetachAsync(-1, graceful: false, default)).Error);

        Assert.True((await Administration.DetachAsync(1, graceful: false, default)).Succeeded);
        var detachAgain = await Administration.DetachAsync(1, graceful: false, default);
        Assert.Equal("node 1 is already detached", detachAgain.Message);
        var detachLast = await Administration.DetachAsync(0, graceful: true, default);
        Assert.Equal(AdminError.LastNode, detachLast.Error);
        Assert.Equal("node 0 is the last attached node and cannot be detached", detachLast.Message);
        Assert.NotEqual(NodeStatus.Down, StatusOf(0));
    }

    [Fact]
    public async Task Restart_KeepsADetachedNodeDown_LikePgpoolStatus()
    {
        Assert.True((await Administration.DetachAsync(1, graceful: false, default)).Succeeded);

        await proxy.RestartWithSameSettingsAsync(discardStatus: false);

        Assert.Equal(NodeStatus.Down, StatusOf(1));
        Assert.Equal(0, proxy.Host.Store.Current.MainNodeId);
        var nodes = await proxy.PsqlAsync("postgres", "--field-separator=|", "SHOW POOL_NODES");
        var rows = nodes.EnsureSuccess().StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("down", rows[1].Split('|')[3]);
        Assert.Matches("^(up|waiting)$", rows[0].Split('|')[3]);

        await proxy.RestartWithSameSettingsAsync(discardStatus: true); // -D: status file discarded
        Assert.NotEqual(NodeStatus.Down, StatusOf(1));

        // ... also for the tools that read it (pgpoolconsole verify) and the next restart.
        var statusFile = Path.Combine(proxy.Directory, "pgpool_status");
        Assert.False(File.Exists(statusFile) && File.ReadAllText(statusFile).Contains("down", StringComparison.Ordinal), "pgpool_status still says a node is down");
    }

    [Theory]
    [InlineData("SHOW POOL_PROCESSES", "pool_pid|start_time|client_connection_count|database|username|backend_connection_time|pool_counter|status")]
    [InlineData("SHOW POOL_POOLS", "pool_pid|start_time|client_connection_count|pool_id|backend_id|database|username|backend_connection_time|client_connection_time|client_disconnection_time|client_idle_duration|majorversion|minorversion|pool_counter|pool_backendpid|pool_connected|status")]
    [InlineData("SHOW POOL_VERSION", "pool_version")]
    [InlineData("SHOW POOL_HEALTH_CHECK_STATS", "node_id|hostname|port|status|role|last_status_change|total_count|success_count|fail_count|skip_count|retry_count|average_retry_count|max_retry_count|max_duration|min_duration|average_duration|last_health_check|last_successful_health_check|last_skip_health_check|last_failed_health_check")]
    [InlineData("SHOW POOL_BACKEND_STATS", "node_id|hostname|port|status|role|select_cnt|insert_cnt|update_cnt|delete_cnt|ddl_cnt|other_cnt|panic_cnt|fatal_cnt|error_cnt")]
    public async Task ShowCommands_HavePgpoolsColumns(string command, string header)
    {
        var result = await Psql.RunAsync(proxy.PsqlOptions("postgres"), ["--pset=tuples_only=off", "--pset=footer=off", "--field-separator=|", command]);
        var lines = result.EnsureSuccess().StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal(header, lines[0]);
        Assert.True(lines.Length >= 2, "at least one row");
        Assert.All(lines.Skip(1), line => Assert.Equal(header.Split('|').Length, line.Split('|').Length));
    }

    [Fact]
    public async Task ShowPoolBackendStats_CountsStatementsPerNode()
    {
        var database = await proxy.CreateDatabaseAsync("stats");
        (await proxy.PsqlAsync(database, "CREATE TABLE t (id int)", "INSERT INTO t VALUES (1)", "UPDATE t SET id = 2", "DELETE FROM t")).EnsureSuccess();
        var result = await Psql.RunAsync(proxy.PsqlOptions(database), ["--field-separator=|", "SHOW POOL_BACKEND_STATS"]);
        var rows = result.EnsureSuccess().StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('|')).ToList();

        Assert.Equal(2, rows.Count);
        foreach (var row in rows)
        {
            Assert.Equal(proxy.Nodes[int.Parse(row[0], CultureInfo.InvariantCulture)].Port.ToString(CultureInfo.InvariantCulture), row[2]);
            Assert.True(long.Parse(row[6], CultureInfo.InvariantCulture) >= 1, "insert_cnt");
            Assert.True(long.Parse(row[7], CultureInfo.InvariantCulture) >= 1, "update_cnt");
            Assert.True(long.Parse(row[8], CultureInfo.InvariantCulture) >= 1, "delete_cnt");
            Assert.True(long.Parse(row[9], CultureInfo.InvariantCulture) >= 1, "ddl_cnt");
        }
    }

    [Fact]
    public async Task StopSmart_WaitsForConnectedClients_ThenStops()
    {
        var connection = await proxy.OpenAsync("postgres");
        var stopping = Administration.StopAsync(ShutdownMode.Smart, default);
        Assert.True((await stopping).Succeeded);
        var stopped = proxy.Host.App.WaitForShutdownAsync();

        await Task.Delay(TimeSpan.FromSeconds(1.5));
        Assert.False(stopped.IsCompleted, "smart shutdown waits while a client is connected");
        await using (var query = new Npgsql.NpgsqlCommand("SELECT 1", connection))
        {
            Assert.Equal(1, await query.ExecuteScalarAsync());
        }

        await connection.DisposeAsync();
        await stopped.WaitAsync(TimeSpan.FromSeconds(20));
        await proxy.Host.DisposeAsync();
        await proxy.StartProductAsync(proxy.ExtraConfigurationText);
    }

    [Fact]
    public async Task Reload_AddsABackendDetached_WhichAttachesOnceProvenInSync()
    {
        await using var directory = await TestDirectory.CreateAsync();
        await using var newNode = await PgPoolConsole.Api.Local.PostgresInstance.CreateAsync(new PgPoolConsole.Api.Local.PostgresInstanceOptions
        {
            BaseDirectory = directory.Path,
            Name = "node2",
            FastUnsafe = true,
        });
        try
        {
            await File.AppendAllTextAsync(proxy.ConfigPath, $"backend_hostname2 = '127.0.0.1'\nbackend_port2 = {newNode.Port}\nbackend_weight2 = 1\n");

            var reload = await Administration.ReloadAsync(default);

            Assert.True(reload.Succeeded, reload.Detail);
            var added = proxy.Host.Store.Current.Find(2);
            Assert.NotNull(added);
            Assert.Equal(NodeStatus.Down, added.Status);
            Assert.Equal(newNode.Port, added.Port);

            var attach = await Administration.AttachAsync(2, default);
            Assert.True(attach.Succeeded, attach.Message + " " + attach.Detail);
            var database = await proxy.CreateDatabaseAsync("reloaded");
            (await proxy.PsqlAsync(database, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")).EnsureSuccess();
            await NodeComparer.AssertTablesIdenticalAsync([proxy.Nodes[0], proxy.Nodes[1], newNode], database, "t", "id");
        }
        finally
        {
            await proxy.RestartWithSameSettingsAsync(discardStatus: true); // back to the fixture's two nodes
        }
    }
}
