using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.InfrastructureTests;

public sealed class DemoClusterTests
{
    [Fact]
    public async Task FirstRunCreates_LaterRunReuses_AndADetachedNodeStaysStopped()
    {
        await using var directory = await TestDirectory.CreateAsync();
        var options = new DemoClusterOptions
        {
            Folder = directory.Combine("demo"),
            NodePorts = [LocalPorts.GetFreePort(), LocalPorts.GetFreePort()],
            ProxyPort = LocalPorts.GetFreePort(),
            PcpPort = LocalPorts.GetFreePort(),
            DashboardPort = LocalPorts.GetFreePort(),
        };
        DemoCluster? second = null;
        var first = await DemoCluster.StartAsync(options);
        try
        {
            Assert.True(first.Created);
            Assert.All(first.Nodes, node => Assert.True(node.IsRunning));
            Assert.Equal(options.NodePorts, first.Nodes.Select(n => n.Port));
            Assert.Equal("off", await first.Nodes[1].QueryScalarAsync<string>("SHOW archive_mode"));
            Assert.False(Directory.Exists(Path.Combine(first.Folder, "archive")));
            Assert.Equal("on", await first.Nodes[0].QueryScalarAsync<string>("SHOW fsync"));

            var conf = await File.ReadAllTextAsync(first.PgpoolConfPath);
            Assert.Contains("backend_clustering_mode = 'native_replication'", conf, StringComparison.Ordinal);
            Assert.Contains($"port = {options.ProxyPort}", conf, StringComparison.Ordinal);
            Assert.Contains($"pcp_port = {options.PcpPort}", conf, StringComparison.Ordinal);
            Assert.Contains($"backend_port1 = {options.NodePorts[1]}", conf, StringComparison.Ordinal);
            Assert.Contains($"backend_data_directory0 = '{first.Nodes[0].DataDirectory}'", conf, StringComparison.Ordinal);
            Assert.Contains($"pid_file_name = '{first.Folder}/pgpool.pid'", conf, StringComparison.Ordinal);
            Assert.Equal("postgres:e8a48653851e28c69d0506508fb27fc5", File.ReadAllLines(first.PcpConfPath).Single(l => !l.StartsWith('#')));
            Assert.Contains($"psql -h 127.0.0.1 -p {options.ProxyPort} -U postgres postgres", first.ConnectionHelp, StringComparison.Ordinal);
            Assert.Contains($"http://127.0.0.1:{options.DashboardPort}", first.ConnectionHelp, StringComparison.Ordinal);
            Assert.Contains($"pcp_node_info -h 127.0.0.1 -p {options.PcpPort} -U postgres -a", first.ConnectionHelp, StringComparison.Ordinal);

            // The failover command works when a shell runs it with the placeholders filled in.
            var failover = ConfValue(conf, "failover_command")
                .Replace("%d", "1", StringComparison.Ordinal).Replace("%h", "127.0.0.1", StringComparison.Ordinal)
                .Replace("%p", options.NodePorts[1].ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("%m", "0", StringComparison.Ordinal).Replace("%M", "0", StringComparison.Ordinal);
            (await ProcessRunner.RunAsync("/bin/sh", ["-c", failover])).EnsureSuccess();
            Assert.EndsWith($" 1 127.0.0.1 {options.NodePorts[1]} 0 0", File.ReadAllText(first.FailoverLogPath).TrimEnd(), StringComparison.Ordinal);

            await first.Nodes[0].ExecuteAsync("CREATE TABLE kept (id int); INSERT INTO kept VALUES (1)");
            await first.StopNodesAsync();
            Assert.All(first.Nodes, node => Assert.False(node.IsRunning));
            await File.WriteAllTextAsync(first.StatusFilePath, "up\ndown\n");
            await File.AppendAllTextAsync(first.PgpoolConfPath, "# edited by the user\n");

            second = await DemoCluster.StartAsync(options);

            Assert.False(second.Created);
            Assert.True(second.Nodes[0].IsRunning);
            Assert.False(second.Nodes[1].IsRunning);
            Assert.Equal([1], second.DetachedNodeIds);
            Assert.Contains("detached", second.ConnectionHelp, StringComparison.Ordinal);
            Assert.Equal(1L, await second.Nodes[0].QueryScalarAsync<long>("SELECT count(*) FROM kept"));
            Assert.EndsWith("# edited by the user\n", await File.ReadAllTextAsync(second.PgpoolConfPath), StringComparison.Ordinal);
        }
        finally
        {
            await (second ?? first).DeleteAsync();
        }

        Assert.False(Directory.Exists(options.Folder));
        Assert.All(first.Nodes, node => Assert.False(Directory.Exists(node.SocketDirectory)));
    }

    [Fact]
    public async Task AFolderMadeWithThreeNodes_IsReusedWithAllThree_WithoutGivingTheCountAgain()
    {
        await using var directory = await TestDirectory.CreateAsync();
        var created = new DemoClusterOptions
        {
            Folder = directory.Combine("demo"),
            NodePorts = [LocalPorts.GetFreePort(), LocalPorts.GetFreePort(), LocalPorts.GetFreePort()],
            ProxyPort = LocalPorts.GetFreePort(),
            PcpPort = LocalPorts.GetFreePort(),
            DashboardPort = LocalPorts.GetFreePort(),
        };
        var first = await DemoCluster.StartAsync(created);
        DemoCluster? second = null;
        try
        {
            await first.StopNodesAsync();

            second = await DemoCluster.StartAsync(new DemoClusterOptions { Folder = created.Folder }); // what `demo FOLDER` passes: the default two ports

            Assert.Equal(created.NodePorts, second.Nodes.Select(n => n.Port));
            Assert.All(second.Nodes, node => Assert.True(node.IsRunning));
            await second.StopNodesAsync();
            Assert.All(second.Nodes, node => Assert.False(node.IsRunning));
        }
        finally
        {
            await (second ?? first).DeleteAsync();
        }
    }

    [Fact]
    public async Task AFolderWithQuotes_IsRefused()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => DemoCluster.StartAsync(new DemoClusterOptions { Folder = "/tmp/it's" }));
    }

    private static string ConfValue(string conf, string name)
    {
        var line = conf.Split('\n').Single(l => l.StartsWith(name + " = '", StringComparison.Ordinal));
        return line[(name.Length + 4)..line.LastIndexOf('\'')];
    }
}
