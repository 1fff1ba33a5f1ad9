using System.Globalization;
using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Tests.Pcp;

/// <summary>
/// <c>pgpoolconsole pcp TOOL</c> against the product: the same stdout, stderr and exit code as the
/// stock tool run with the same arguments, and pgpool-II 2.x's positional form of the seed
/// tutorial (<c>pcp_recovery_node 20 node1 9898 postgres postgres 1</c>).
/// </summary>
[Collection(PcpCollection.Name)]
public sealed class PcpCommandTests(PcpFixture fixture) : IAsyncLifetime
{
    private string Port => fixture.PcpPort.ToString(CultureInfo.InvariantCulture);

    public Task InitializeAsync() => fixture.HealAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private static void AssertSameAs(ProcessResult stock, ProcessResult ours)
    {
        Assert.False(stock.TimedOut, stock.Describe());
        Assert.Equal(stock.StandardOutput, ours.StandardOutput);
        Assert.Equal(stock.StandardError, ours.StandardError);
        Assert.Equal(stock.ExitCode, ours.ExitCode);
    }

    private async Task<(ProcessResult Stock, ProcessResult Ours)> RunBothAsync(string tool, params string[] args)
    {
        var stock = await fixture.ToolAsync(tool, args);
        var ours = await fixture.OurToolAsync(tool, args);
        return (stock, ours);
    }

    public static TheoryData<string, string[]> Requests() => new()
    {
        { "pcp_node_count", [] },
        { "pcp_node_count", ["-v"] },
        { "pcp_node_info", [] },
        { "pcp_node_info", ["-n", "1"] },
        { "pcp_node_info", ["-a", "-v"] },
        { "pcp_node_info", ["--node-id=0", "--verbose"] },
        { "pcp_node_info", ["-n", "5"] },
        { "pcp_node_info", ["-d", "-n", "0"] },
        { "pcp_health_check_stats", ["-n", "0"] },
        { "pcp_health_check_stats", ["-v", "1"] },
        { "pcp_health_check_stats", ["-n", "9"] },
        { "pcp_proc_count", [] },
        { "pcp_proc_count", ["-v"] },
        { "pcp_proc_info", [] },
        { "pcp_proc_info", ["-a", "-v"] },
        { "pcp_proc_info", ["-P", "1"] },
        { "pcp_pool_status", [] },
        { "pcp_pool_status", ["-v"] },
        { "pcp_watchdog_info", [] },
        { "pcp_watchdog_info", ["-v", "-n", "0"] },
        { "pcp_promote_node", ["-n", "1"] },
        { "pcp_recovery_node", ["-n", "1"] },
        { "pcp_recovery_node", ["7"] },
        { "pcp_attach_node", ["-n", "0"] },
        { "pcp_detach_node", ["-n", "9"] },
        { "pcp_stop_pgpool", ["-m", "bogus"] },
        { "pcp_detach_node", [] },
        { "pcp_node_info", ["-n", "300"] },
        { "pcp_node_info", ["-n", "1", "2"] },
        { "pcp_reload_config", ["-s", "nowhere"] },
    };

    [Theory]
    [MemberData(nameof(Requests))]
    public async Task Tool_PrintsWhatTheStockToolPrints(string tool, string[] args)
    {
        // A busy session keeps the process rows still between the two runs (idle durations tick).
        await using var busy = tool.StartsWith("pcp_proc", StringComparison.Ordinal) ? await BusySession.StartAsync(fixture, "pcpcli", TimeSpan.FromSeconds(120)) : null;
        if (busy is not null)
        {
            await BusySession.WaitUntilOnlyAsync(fixture, busy);
        }

        var (stock, ours) = await RunBothAsync(tool, args);

        AssertSameAs(stock, ours);
    }

    [Theory]
    [InlineData("-z")]
    [InlineData("--frobnicate")]
    [InlineData("-n")]
    public async Task BadOption_PrintsWhatTheStockToolPrintsWhenRunFromThePath(string option)
    {
        var (stock, ours) = await RunBothAsync("pcp_node_info", option);

        // getopt names the program by argv[0]: the full path here, the bare name from a shell's PATH.
        Assert.StartsWith("/usr/sbin/pcp_node_info: ", stock.StandardError);
        Assert.Equal(stock.StandardError.Replace("/usr/sbin/", "", StringComparison.Ordinal), ours.StandardError);
        Assert.Equal(1, ours.ExitCode);
        Assert.Equal(stock.ExitCode, ours.ExitCode);
    }

    [Fact]
    public async Task ReloadConfig_PrintsCommandSuccessfulLikeTheStockTool()
    {
        var (stock, ours) = await RunBothAsync("pcp_reload_config");

        Assert.Equal("pcp_reload_config -- Command Successful\n", stock.StandardOutput);
        AssertSameAs(stock, ours);
    }

    [Fact]
    public async Task OurToolNames_AreTheStockToolsToo()
    {
        var stock = await fixture.ToolAsync("pcp_node_info", "-n", "0");
        var ours = await fixture.OurToolAsync("node-info", "-n", "0");

        AssertSameAs(stock, ours);
        Assert.StartsWith("127.0.0.1 ", ours.StandardOutput);
    }

    [Fact]
    public async Task WrongPassword_PrintsWhatTheStockToolPrints()
    {
        string[] args = ["-h", "127.0.0.1", "-p", Port, "-U", "postgres"];
        var stock = await PcpTools.RunStockAsync("pcp_node_count", args, null, "wrong\n");
        var ours = await PcpTools.RunOursAsync("node-count", args, null, "wrong\n");

        Assert.Equal(1, stock.ExitCode);
        AssertSameAs(stock, ours);
    }

    [Fact]
    public async Task PasswordFromPcpPassOverTheUnixSocket_PrintsWhatTheStockToolPrints()
    {
        var passFile = Path.Combine(fixture.Directory, "pcppass-socket");
        PcpTools.WritePassFile(passFile, $"{fixture.SocketDirectory}:{Port}:postgres:postgres\n");
        string[] args = ["-h", fixture.SocketDirectory, "-p", Port, "-U", "postgres", "-w", "-n", "1"];

        var stock = await PcpTools.RunStockAsync("pcp_node_info", args, passFile);
        var ours = await PcpTools.RunOursAsync("node-info", args, passFile);

        Assert.StartsWith("127.0.0.1 ", stock.StandardOutput);
        AssertSameAs(stock, ours);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("")]
    public async Task NothingListening_PrintsTheStockConnectionError(string host)
    {
        var closed = LocalPorts.GetFreePort().ToString(CultureInfo.InvariantCulture);
        string[] args = host.Length > 0 ? ["-h", host, "-p", closed, "-w"] : ["-p", closed, "-w"];

        var stock = await PcpTools.RunStockAsync("pcp_node_count", args, fixture.PassFile);
        var ours = await PcpTools.RunOursAsync("node-count", args, fixture.PassFile);

        Assert.Equal(1, stock.ExitCode);
        Assert.StartsWith("ERROR: connection to ", stock.StandardError);
        AssertSameAs(stock, ours);
    }

    [Fact]
    public async Task PositionalForm_NodeCount()
    {
        var result = await PcpTools.RunOursAsync("node-count", ["20", "127.0.0.1", Port, "postgres", "postgres"], passFile: null);

        Assert.Equal("", result.StandardError);
        Assert.Equal("2\n", result.StandardOutput);
        Assert.Equal(0, result.ExitCode);
    }

    [Fact]
    public async Task PositionalForm_NodeInfo_PrintsWhatTheFlagFormPrints()
    {
        var positional = await PcpTools.RunOursAsync("node-info", ["20", "127.0.0.1", Port, "postgres", "postgres", "1"], passFile: null);
        var stock = await fixture.ToolAsync("pcp_node_info", "-n", "1");

        AssertSameAs(stock, positional);
        Assert.Contains(" replica replica ", positional.StandardOutput);
    }

    [Fact]
    public async Task PositionalForm_OfTheSeed_RecoveryOfAnAttachedNode_PrintsPgpoolsError()
    {
        // The seed's `pcp_recovery_node 20 node1 9898 postgres postgres 1`, with our host and port.
        var result = await PcpTools.RunOursAsync("recovery-node", ["20", "127.0.0.1", Port, "postgres", "postgres", "1"], passFile: null);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("", result.StandardOutput);
        Assert.Equal("ERROR:  node recovery failed, node id: 1 is alive\n\n", result.StandardError);
    }

    [Fact]
    public async Task PositionalForm_WrongPassword_IsRefused()
    {
        var result = await PcpTools.RunOursAsync("pcp_node_count", ["20", "127.0.0.1", Port, "postgres", "wrong"], passFile: null);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("FATAL:  authentication failed for user \"postgres\"\nDETAIL:  username and/or password does not match\n\n", result.StandardError);
    }

    [Fact]
    public async Task PositionalForm_ProcCountAndPoolStatus()
    {
        await using var busy = await BusySession.StartAsync(fixture, "pcppos", TimeSpan.FromSeconds(60));
        await BusySession.WaitUntilOnlyAsync(fixture, busy);

        var count = await PcpTools.RunOursAsync("proc-count", ["20", "127.0.0.1", Port, "postgres", "postgres"], passFile: null);
        var status = await PcpTools.RunOursAsync("pool-status", ["20", "127.0.0.1", Port, "postgres", "postgres"], passFile: null);

        Assert.Equal($"{busy.Session.Id.ToString(CultureInfo.InvariantCulture)} \n", count.StandardOutput);
        Assert.Contains($"name : pcp_port\nvalue: {Port}\n", status.StandardOutput);
    }

    [Fact]
    public async Task UnknownTool_ListsTheTools()
    {
        var result = await PcpTools.RunOursAsync("frobnicate-node", [], passFile: null);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("unknown tool \"frobnicate-node\"", result.StandardError);
        Assert.Contains("recovery-node", result.StandardError);
        Assert.Contains("TIMEOUT HOST PORT USER PASSWORD", result.StandardError);
    }
}
