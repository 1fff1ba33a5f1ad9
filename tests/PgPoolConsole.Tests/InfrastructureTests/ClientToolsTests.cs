using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.InfrastructureTests;

public sealed class ClientToolsTests(TwoNodeFixture fixture) : NodesTestBase<TwoNodeFixture>(fixture), IClassFixture<TwoNodeFixture>
{
    [Fact]
    public async Task Psql_RunsCommandsInOrder_AndStopsAtTheFirstError()
    {
        var node = Nodes[0];

        var ok = await Psql.RunAsync(node.Host, node.Port, "postgres", "postgres",
            "CREATE TEMP TABLE x (v text)", "INSERT INTO x VALUES ('ä'), ('b')", "SELECT string_agg(v, ',' ORDER BY v) FROM x");
        var failed = await Psql.RunAsync(node.Host, node.Port, "postgres", "postgres", "SELECT 1/0", "SELECT 'not reached'");

        Assert.Equal("INSERT 0 2\nb,ä", ok.EnsureSuccess().StandardOutput.Replace("CREATE TABLE\n", string.Empty, StringComparison.Ordinal).Trim());
        Assert.Equal(1, failed.ExitCode);
        Assert.Contains("division by zero", failed.StandardError, StringComparison.Ordinal);
        Assert.DoesNotContain("not reached", failed.StandardOutput, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Pgbench_InitAndRun_SummaryIsParsed()
    {
        var node = Nodes[1];
        await Fixture.CreateDatabaseOnAllAsync("bench");
        string[] connection = ["-h", node.Host, "-p", node.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", "postgres"];

        var init = await Pgbench.RunAsync([.. connection, "-i", "-s", "1", "-q", "bench"]);
        var run = await Pgbench.RunAsync([.. connection, "-c", "2", "-t", "50", "-n", "bench"]);

        Assert.True(init.Process.Succeeded, init.Process.Describe());
        Assert.Null(init.Tps);
        Assert.True(run.Process.Succeeded, run.Process.Describe());
        Assert.Equal(100, run.TransactionsProcessed);
        Assert.Equal(0, run.FailedTransactions);
        Assert.Equal(0, run.AbortedClients);
        Assert.False(run.RunAborted);
        Assert.True(run.Tps > 0);
        Assert.True(run.LatencyAverageMs > 0);
    }

    [Fact]
    public void Pgbench_Parse_CountsAbortedClients()
    {
        const string Stdout = """
            pgbench (15.18 (Debian 15.18-0+deb12u1))
            transaction type: <builtin: TPC-B (sort of)>
            number of clients: 2
            duration: 2 s
            number of transactions actually processed: 2746
            number of failed transactions: 0 (0.000%)
            latency average = 0.755 ms
            initial connection time = 28.637 ms
            tps = 2648.922296 (without initial connection time)
            """;
        const string Stderr = """
            pgbench: error: client 0 script 0 aborted in command 10 query 0: FATAL:  terminating connection due to administrator command
            pgbench: error: client 1 script 0 aborted in command 4 query 0: FATAL:  terminating connection due to administrator command
            pgbench: error: Run was aborted; the above results are incomplete.
            """;

        var result = Pgbench.Parse(new ProcessResult("pgbench", 2, Stdout, Stderr, TimeSpan.FromSeconds(2), TimedOut: false));

        Assert.Equal(2648.922296, result.Tps);
        Assert.Equal(2746, result.TransactionsProcessed);
        Assert.Equal(0, result.FailedTransactions);
        Assert.Equal(2, result.AbortedClients);
        Assert.Equal(0.755, result.LatencyAverageMs);
        Assert.True(result.RunAborted);
    }
}
