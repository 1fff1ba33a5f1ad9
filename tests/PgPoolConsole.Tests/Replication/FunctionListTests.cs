using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Replication;

/// <summary>
/// pgpool-II's write_function_list / read_only_function_list (and their 3.x names) and
/// replicate_select decide which SELECTs go to every node.
/// </summary>
[Collection(ProxyCollection.Name)]
public sealed class FunctionListTests(ProxyFixture proxy) : IAsyncLifetime
{
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("functionlist");
        (await proxy.PsqlAsync(_database,
            "CREATE TABLE calls (at int)",
            "CREATE SEQUENCE ids",
            "CREATE FUNCTION get_answer() RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN 42; END $$", // volatile by default, only reads
            "CREATE FUNCTION bump() RETURNS int LANGUAGE plpgsql AS $$ BEGIN INSERT INTO calls VALUES (1); RETURN 1; END $$")).EnsureSuccess();
    }

    public Task DisposeAsync() => proxy.RestartWithSameSettingsAsync(discardStatus: true);

    /// <summary>How many nodes answered <paramref name="sql"/> (from the per-node SELECT counters).</summary>
    private async Task<long> NodesThatRanAsync(params string[] sql)
    {
        var before = proxy.Host.Store.Current.Nodes.Sum(n => proxy.Host.Store.Statistics(n.Id).SelectCount);
        (await proxy.PsqlAsync(_database, sql)).EnsureSuccess();
        return proxy.Host.Store.Current.Nodes.Sum(n => proxy.Host.Store.Statistics(n.Id).SelectCount) - before;
    }

    [Fact]
    public async Task ByDefault_AVolatileFunctionGoesToEveryNode()
    {
        Assert.Equal(2, await NodesThatRanAsync("SELECT get_answer()"));
        Assert.Equal(2, await NodesThatRanAsync("SELECT bump()"));
        Assert.Equal(1, await NodesThatRanAsync("SELECT abs(-1)"));
    }

    [Theory]
    [InlineData("read_only_function_list = 'get_.*'")]
    [InlineData("white_function_list = 'get_answer'")]
    public async Task ReadOnlyFunctionList_LoadBalancesTheFunctionsItNames_AndOnlyThose(string setting)
    {
        await proxy.RestartProductAsync(proxy.ExtraConfigurationText + setting + "\n");

        Assert.Equal(1, await NodesThatRanAsync("SELECT get_answer()"));
        Assert.Equal(2, await NodesThatRanAsync("SELECT bump()"));
        Assert.Equal(2, await NodesThatRanAsync("SELECT nextval('ids')")); // built-in writers stay writes
        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(["1"], await NodeSql.ReadColumnAsync(node, _database, "SELECT count(*)::text FROM calls"));
        }
    }

    [Theory]
    [InlineData("write_function_list = 'pg_stat_reset'")]
    [InlineData("black_function_list = 'nextval,setval,pg_stat_.*'")]
    public async Task WriteFunctionList_SendsTheFunctionsItNamesToEveryNode_AndVolatileOnesStillGo(string setting)
    {
        await proxy.RestartProductAsync(proxy.ExtraConfigurationText + setting + "\n");

        Assert.Equal(2, await NodesThatRanAsync("SELECT pg_stat_reset()")); // a built-in we would otherwise load balance
        Assert.Equal(2, await NodesThatRanAsync("SELECT get_answer()"));
        Assert.Equal(1, await NodesThatRanAsync("SELECT abs(-1)"));
    }

    [Fact]
    public async Task ReplicateSelect_SendsAReadAfterAWriteInATransactionToEveryNode()
    {
        Assert.Equal(1, await NodesThatRanAsync("BEGIN", "INSERT INTO calls VALUES (2)", "SELECT count(*) FROM calls", "COMMIT"));

        await proxy.RestartProductAsync(proxy.ExtraConfigurationText + "replicate_select = on\n");

        Assert.Equal(2, await NodesThatRanAsync("BEGIN", "INSERT INTO calls VALUES (3)", "SELECT count(*) FROM calls", "COMMIT"));
        Assert.Equal(1, await NodesThatRanAsync("SELECT count(*) FROM calls")); // load balanced outside a transaction
    }
}
