using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Health;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Pcp;

/// <summary>
/// The stock Debian pgpool-II 4.3.5 pcp_* tools against the product: what they print, field by
/// field, against the cluster state store, and pgpool's error texts. These tests only read state.
/// </summary>
[Collection(PcpCollection.Name)]
public sealed class PcpToolsTests(PcpFixture fixture) : IAsyncLifetime
{
    private ClusterStateStore Store => fixture.Host.Store;

    public Task InitializeAsync() => fixture.HealAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>"yyyy-MM-dd HH:mm:ss" in local time, as the tools print (strftime %F %T).</summary>
    private static string Local(DateTimeOffset? time) =>
        time is null ? "" : time.Value.ToLocalTime().ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string N(double value) => value.ToString(CultureInfo.InvariantCulture);

    /// <summary>The line pcp_node_info prints for a node, built from the store.</summary>
    private string ExpectedNodeLine(NodeState node)
    {
        var role = node.Id == Store.Current.MainNodeId ? "main" : "replica";
        var statusName = node.Status switch { NodeStatus.Waiting => "waiting", NodeStatus.Up => "up", NodeStatus.Down => "down", _ => "unused" };
        var weight = (1.0 / Store.Current.Nodes.Length).ToString("F6", CultureInfo.InvariantCulture);
        return $"{node.Host} {N(node.Port)} {N((int)node.Status)} {weight} {statusName} up {role} {role} 0 none none {Local(node.LastStatusChange)}";
    }

    private static void AssertNoError(ProcessResult result)
    {
        Assert.True(result.ExitCode == 0 && result.StandardError.Length == 0, result.Describe());
    }

    [Fact]
    public async Task NodeCount_PrintsTheNumberOfConfiguredBackends()
    {
        var result = await fixture.ToolAsync("pcp_node_count");

        AssertNoError(result);
        Assert.Equal($"{Store.Current.Nodes.Length}\n", result.StandardOutput);
        Assert.Equal("2\n", result.StandardOutput);
    }

    [Fact]
    public async Task NodeInfo_OneNode_PrintsEveryFieldAsTheStoreHasIt()
    {
        var result = await fixture.ToolAsync("pcp_node_info", "-n", "1");

        AssertNoError(result);
        var node = Store.Current.Find(1)!;
        Assert.Equal(fixture.Nodes[1].Port, node.Port);
        Assert.Equal(ExpectedNodeLine(node) + "\n", result.StandardOutput);
        Assert.Matches(@"^127\.0\.0\.1 \d+ [12] 0\.500000 (waiting|up) up replica replica 0 none none \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\n$", result.StandardOutput);
    }

    [Fact]
    public async Task NodeInfo_AllNodes_PrintsOneLineEachInNodeOrder()
    {
        var all = await fixture.ToolAsync("pcp_node_info", "-a");
        var noId = await fixture.ToolAsync("pcp_node_info");

        AssertNoError(all);
        Assert.Equal(Store.Current.Nodes.Select(ExpectedNodeLine), all.Lines());
        Assert.StartsWith("127.0.0.1 " + N(fixture.Nodes[0].Port) + " ", all.Lines()[0]);
        Assert.Contains(" main main ", all.Lines()[0]);
        Assert.Equal(all.StandardOutput, noId.StandardOutput);
    }

    [Fact]
    public async Task NodeInfo_Verbose_PrintsTitledFields()
    {
        var result = await fixture.ToolAsync("pcp_node_info", "-v", "-n", "0");

        AssertNoError(result);
        var node = Store.Current.Find(0)!;
        var expected = string.Join('\n',
            $"Hostname               : 127.0.0.1",
            $"Port                   : {N(node.Port)}",
            $"Status                 : {N((int)node.Status)}",
            $"Weight                 : 0.500000",
            $"Status Name            : {node.StatusName}",
            $"Backend Status Name    : up",
            $"Role                   : main",
            $"Backend Role           : main",
            $"Replication Delay      : 0",
            $"Replication State      : none",
            $"Replication Sync State : none",
            $"Last Status Change     : {Local(node.LastStatusChange)}") + "\n\n";
        Assert.Equal(expected, result.StandardOutput);
    }

    [Fact]
    public async Task HealthCheckStats_PrintsTheNodesCountersAndTimes()
    {
        var checker = fixture.Host.Services.GetRequiredService<HealthChecker>();
        for (var i = 0; i < 3; i++)
        {
            Assert.True(await checker.CheckAndActAsync(0, CancellationToken.None), "node 0 is healthy");
        }

        var result = await fixture.ToolAsync("pcp_health_check_stats", "-n", "0");
        var verbose = await fixture.ToolAsync("pcp_health_check_stats", "-v", "0");

        AssertNoError(result);
        var node = Store.Current.Find(0)!;
        var h = Store.Statistics(0).Health;
        Assert.True(h.TotalCount >= 3 && h.SuccessCount >= 3 && h.FailCount == 0, $"{h}");
        string[] values =
        [
            "0", "127.0.0.1", N(node.Port), node.StatusName, "main", Local(node.LastStatusChange),
            N(h.TotalCount), N(h.SuccessCount), "0", N(h.SkipCount), N(h.RetryCount), h.AverageRetryCount.ToString("F6", CultureInfo.InvariantCulture),
            N(h.MaxRetryCount), N((long)h.MaxDurationMs), N((long)h.MinDurationMs), h.AverageDurationMs.ToString("F6", CultureInfo.InvariantCulture),
            Local(h.LastHealthCheck), Local(h.LastSuccessfulHealthCheck), "", "",
        ];
        Assert.Equal(string.Join(' ', values) + "\n", result.StandardOutput);
        Assert.Equal(Local(h.LastHealthCheck), Local(h.LastSuccessfulHealthCheck));
        Assert.NotEqual("", values[16]);

        AssertNoError(verbose);
        Assert.Contains("Node Id                       : 0\n", verbose.StandardOutput);
        Assert.Contains($"Total Count                   : {N(h.TotalCount)}\n", verbose.StandardOutput);
        Assert.Contains($"Success Count                 : {N(h.SuccessCount)}\n", verbose.StandardOutput);
        Assert.Contains($"Minimum Health Check Duration : {N((long)h.MinDurationMs)}\n", verbose.StandardOutput);
        Assert.EndsWith("Last Failed Health Check      : \n\n", verbose.StandardOutput);
    }

    [Fact]
    public async Task ProcCount_ListsTheSessionIds()
    {
        await using var first = await BusySession.StartAsync(fixture, "pcpcount", TimeSpan.FromSeconds(60));
        await using var second = await BusySession.StartAsync(fixture, "pcpcount", TimeSpan.FromSeconds(60));
        await BusySession.WaitUntilOnlyAsync(fixture, first, second);

        var result = await fixture.ToolAsync("pcp_proc_count");
        var verbose = await fixture.ToolAsync("pcp_proc_count", "-v");

        AssertNoError(result);
        var ids = new[] { first.Session.Id, second.Session.Id }.Order().ToArray();
        Assert.Equal($"{N(ids[0])} {N(ids[1])} \n", result.StandardOutput);
        Assert.Equal($"No \t | \t PID\n_____________________\n0 \t | \t {N(ids[0])}\n1 \t | \t {N(ids[1])}\n\nTotal Processes:2\n", verbose.StandardOutput);
    }

    [Fact]
    public async Task ProcInfo_OneSession_PrintsARowPerBackendConnection()
    {
        await using var busy = await BusySession.StartAsync(fixture, "pcpinfo", TimeSpan.FromSeconds(60));
        var session = busy.Session;
        var backendPids = await Task.WhenAll(fixture.Nodes.Select(async node =>
            (await NodeSql.ReadColumnAsync(node, "postgres", $"SELECT pid FROM pg_stat_activity WHERE datname = '{busy.Database}'")).Single()));
        var minor = (await NodeSql.ReadColumnAsync(fixture.Nodes[0], "postgres", "SELECT current_setting('server_version_num')")).Single()[^2..].TrimStart('0');

        var result = await fixture.ToolAsync("pcp_proc_info", "-P", N(session.Id));

        AssertNoError(result);
        var lines = result.Lines();
        Assert.Equal(2, lines.Length);
        for (var nodeId = 0; nodeId < 2; nodeId++)
        {
            var backend = session.Backends.Single(b => b.NodeId == nodeId);
            Assert.Equal(backendPids[nodeId], N(backend.BackendProcessId));
            Assert.Equal(
                $"{busy.Database} postgres {Local(session.StartedAt)} 1 15 {(minor.Length == 0 ? "0" : minor)} {Local(backend.ConnectedAt)} {Local(session.StartedAt)} 0  " +
                $"{N(backend.ReuseCount)} {backendPids[nodeId]} 1 {N(session.Id)} {N(nodeId)} Execute command",
                lines[nodeId]);
        }
    }

    [Fact]
    public async Task ProcInfo_AllAndVerbose_ShowEverySessionWithTitles()
    {
        await using var busy = await BusySession.StartAsync(fixture, "pcpinfo", TimeSpan.FromSeconds(60));
        await BusySession.WaitUntilOnlyAsync(fixture, busy);

        var all = await fixture.ToolAsync("pcp_proc_info", "-a");
        var verbose = await fixture.ToolAsync("pcp_proc_info", "-v");

        AssertNoError(all);
        Assert.Equal(2, all.Lines().Length);
        Assert.All(all.Lines(), line => Assert.StartsWith($"{busy.Database} postgres ", line));
        AssertNoError(verbose);
        var blocks = verbose.StandardOutput.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(2, blocks.Length);
        Assert.All(blocks, block =>
        {
            Assert.StartsWith($"Database                  : {busy.Database}\nUsername                  : postgres\n", block);
            Assert.Contains($"\nPID                       : {N(busy.Session.Id)}\n", block);
            Assert.EndsWith("\nStatus                    : Execute command", block);
        });
        Assert.Contains("\nBackend ID                : 0\n", blocks[0]);
        Assert.Contains("\nBackend ID                : 1\n", blocks[1]);
    }

    [Fact]
    public async Task PoolStatus_PrintsEveryEffectiveSetting()
    {
        var result = await fixture.ToolAsync("pcp_pool_status");

        AssertNoError(result);
        var settings = fixture.Host.Services.GetRequiredService<OptionsHolder>().Current.Effective;
        var blocks = result.StandardOutput.Split("\n\n", StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(settings.Count, blocks.Length);
        for (var i = 0; i < settings.Count; i++)
        {
            var s = settings[i];
            Assert.Equal($"name : {s.Name}\nvalue: {Clip(s.Value, 511)}\ndesc : {Clip(s.Description, 79)}", blocks[i]);
        }

        Assert.Contains($"name : port\nvalue: {N(fixture.ProxyPort)}\n", result.StandardOutput);
        Assert.Contains($"name : pcp_port\nvalue: {N(fixture.PcpPort)}\n", result.StandardOutput);
        Assert.Contains($"name : backend_port1\nvalue: {N(fixture.Nodes[1].Port)}\n", result.StandardOutput);
        Assert.Contains("name : health_check_password\nvalue: *****\n", result.StandardOutput);
        Assert.DoesNotContain(Integration.ProxyFixture.Password, result.StandardOutput, StringComparison.Ordinal);

        static string Clip(string value, int max) => value.Length <= max ? value : value[..max];
    }

    [Fact]
    public async Task PoolStatus_Verbose_NumbersTheRows()
    {
        var result = await fixture.ToolAsync("pcp_pool_status", "-v");

        AssertNoError(result);
        var first = fixture.Host.Services.GetRequiredService<OptionsHolder>().Current.Effective[0];
        Assert.StartsWith($"Name [  0]:\t{first.Name}\nValue:      \t{first.Value}\nDescription:\t{first.Description[..Math.Min(79, first.Description.Length)]}\n\nName [  1]:\t", result.StandardOutput);
    }

    [Theory]
    [InlineData("-n", "1")]
    [InlineData("-g", "-n", "1")]
    [InlineData("-s", "-n", "0")]
    public async Task PromoteNode_IsNotSupportedInReplicationMode(params string[] args)
    {
        var result = await fixture.ToolAsync("pcp_promote_node", args);

        Assert.Equal("", result.StandardOutput);
        Assert.StartsWith("ERROR:  invalid pgpool mode for process promote node request\nDETAIL:  promote is not supported in replication mode", result.StandardError);
        Assert.All(Store.Current.Nodes, node => Assert.True(node.IsUsable));
    }

    [Theory]
    [InlineData("pcp_node_info", "-n 5", "ERROR:  informing node info failed\nDETAIL:  invalid node ID : 5\n\n")]
    [InlineData("pcp_health_check_stats", "-n 9", "ERROR:  informing health check stats info failed\nDETAIL:  invalid node ID 9\n\n")]
    [InlineData("pcp_proc_info", "-P 1", "ERROR:  informing process info failed\nDETAIL:  invalid process ID : 1\n\n")]
    [InlineData("pcp_watchdog_info", "", "ERROR:  PCP: informing watchdog info failed\nDETAIL:  watchdog is not enabled\n\n")]
    [InlineData("pcp_recovery_node", "-n 7", "ERROR:  process recovery request failed\nDETAIL:  node id 7 is not valid\n\n")]
    [InlineData("pcp_recovery_node", "1", "ERROR:  node recovery failed, node id: 1 is alive\n\n")]
    [InlineData("pcp_detach_node", "-n 5", "ERROR:  invalid degenerate backend request, node id : 5 status: [0] is not valid for failover\nDETAIL:  node id 5 is not configured\n\n")]
    [InlineData("pcp_attach_node", "-n 5", "ERROR:  invalid failback request, node id : 5 status: [0] not valid for failback\nDETAIL:  node id 5 is not configured\n\n")]
    public async Task Refused_PrintsPgpoolsErrorText(string tool, string args, string expected)
    {
        var result = await fixture.ToolAsync(tool, args.Split(' ', StringSplitOptions.RemoveEmptyEntries));

        Assert.Equal(0, result.ExitCode); // the tools exit 0 when the server reports an error
        Assert.Equal("", result.StandardOutput);
        Assert.Equal(expected, result.StandardError);
        Assert.All(Store.Current.Nodes, node => Assert.True(node.IsUsable));
    }
}
