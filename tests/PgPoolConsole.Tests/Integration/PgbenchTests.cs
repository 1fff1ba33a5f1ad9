using System.Globalization;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

[Collection(ProxyCollection.Name)]
public sealed class PgbenchTests(ProxyFixture proxy) : IAsyncLifetime
{
    private static readonly string[] PgbenchTables = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"];
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("bench");
        var init = await Pgbench.RunAsync(["-h", "127.0.0.1", "-p", Port, "-U", "postgres", "-i", "-s", "1", _database], password: null, TimeSpan.FromMinutes(2));
        Assert.True(init.Process.Succeeded, init.Process.Describe());
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private string Port => proxy.ProxyPort.ToString(CultureInfo.InvariantCulture);

    [Theory]
    [InlineData("simple")]
    [InlineData("extended")]
    [InlineData("prepared")]
    public async Task TpcB_EightClients_NodesHoldIdenticalTables(string protocol)
    {
        var run = await Pgbench.RunAsync(["-h", "127.0.0.1", "-p", Port, "-U", "postgres", "-c", "8", "-j", "2", "-T", "30", "-M", protocol, _database], password: null, TimeSpan.FromMinutes(2));

        Assert.True(run.Process.Succeeded, run.Process.Describe());
        Assert.Equal(0, run.FailedTransactions);
        Assert.True(run.TransactionsProcessed > 100, $"only {run.TransactionsProcessed} transactions");
        foreach (var table in PgbenchTables)
        {
            await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, table, "1");
        }

        var history = await NodeComparer.ReadTableAsync(proxy.Nodes[1], _database, "pgbench_history", "1");
        Assert.Equal(run.TransactionsProcessed, (long)history.Count);
    }

    [Fact]
    public async Task InitializedTables_AreIdenticalOnEveryNode()
    {
        foreach (var table in PgbenchTables)
        {
            await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, table, "1");
        }

        Assert.Equal(100000, (await NodeComparer.ReadTableAsync(proxy.Nodes[1], _database, "pgbench_accounts", "aid")).Count);
    }

    [Fact]
    public async Task SelectOnly_SpreadsReadsOverBothNodes()
    {
        var before = proxy.Nodes.Select((_, i) => proxy.Host.Store.Statistics(i).SelectCount).ToArray();

        // -C: a new session per transaction, each picking its load-balance node by weight.
        var run = await Pgbench.RunAsync(["-h", "127.0.0.1", "-p", Port, "-U", "postgres", "-c", "4", "-T", "4", "-S", "-C", _database], password: null, TimeSpan.FromMinutes(1));

        Assert.True(run.Process.Succeeded, run.Process.Describe());
        var reads = proxy.Nodes.Select((_, i) => proxy.Host.Store.Statistics(i).SelectCount - before[i]).ToArray();
        Assert.All(reads, count => Assert.True(count > run.TransactionsProcessed / 5, $"reads per node: {string.Join(", ", reads)}"));
        Assert.True(reads.Sum() >= run.TransactionsProcessed);
    }
}
