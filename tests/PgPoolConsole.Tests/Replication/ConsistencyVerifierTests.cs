using Microsoft.Extensions.DependencyInjection;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Replication;

[Collection(ProxyCollection.Name)]
public sealed class ConsistencyVerifierTests(ProxyFixture proxy) : IAsyncLifetime
{
    private string _database = "";

    private ConsistencyVerifier Verifier => proxy.Host.Services.GetRequiredService<ConsistencyVerifier>();

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("verify");
        (await proxy.PsqlAsync(_database,
            "CREATE TABLE big (id int PRIMARY KEY, v text)",
            "INSERT INTO big SELECT g, md5(g::text) FROM generate_series(1, 5000) g",
            "CREATE TABLE pair (a int, b text, n int, PRIMARY KEY (a, b))",
            "INSERT INTO pair SELECT g % 7, 'k' || g, g FROM generate_series(1, 700) g",
            "CREATE TABLE nokey (v text)",
            "INSERT INTO nokey SELECT 'x' || g FROM generate_series(1, 50) g",
            "CREATE SEQUENCE counter",
            "SELECT nextval('counter') FROM generate_series(1, 40)")).EnsureSuccess();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<ConsistencyCheck> CheckAsync(int chunkRows = 400) =>
        Verifier.RunAsync(Guid.NewGuid().ToString("N"), new ConsistencyRequest([_database], [], chunkRows), CancellationToken.None);

    [Fact]
    public async Task IdenticalNodes_AreReportedIdentical_TableByTable()
    {
        var check = await CheckAsync();

        Assert.Equal(ConsistencyCheckState.Completed, check.State);
        Assert.True(check.AllIdentical);
        Assert.Equal(["public.big", "public.counter", "public.nokey", "public.pair"], check.Tables.Select(t => t.Table));
        var big = check.Tables.Single(t => t.Table == "public.big");
        Assert.All(big.Nodes, n => Assert.Equal(5000, n.Rows));
        Assert.Single(big.Nodes.Select(n => n.Checksum).Distinct());
    }

    [Fact]
    public async Task LargeObjects_AreCompared_WhenTheDatabaseHasAny()
    {
        var oid = (await proxy.PsqlAsync(_database, "SELECT lo_from_bytea(0, 'the same on every node')")).EnsureSuccess().StandardOutput.Trim();

        var check = await CheckAsync();
        Assert.True(check.AllIdentical);
        Assert.Contains("pg_catalog.pg_largeobject", check.Tables.Select(t => t.Table));

        await proxy.Nodes[1].ExecuteAsync($"SELECT lo_put({oid}, 0, 'THE')", _database);
        check = await CheckAsync();
        Assert.Equal("pg_catalog.pg_largeobject", Assert.Single(check.Tables, t => !t.Identical).Table);
    }

    [Theory]
    [InlineData("DROP TABLE nokey", "public.nokey", "missing on node 1")]
    [InlineData("CREATE TABLE stray (v int); INSERT INTO stray VALUES (1)", "public.stray", "missing on node 0")]
    public async Task TableOnOneNodeOnly_IsReportedMissingOnTheOther(string change, string table, string difference)
    {
        await proxy.Nodes[1].ExecuteAsync(change, _database);

        var check = await CheckAsync();

        Assert.Equal(ConsistencyCheckState.Completed, check.State);
        var differing = Assert.Single(check.Tables, t => !t.Identical);
        Assert.Equal(table, differing.Table);
        Assert.Equal(difference, differing.Difference);
    }

    [Theory]
    [InlineData("UPDATE big SET v = 'changed' WHERE id = 2500", "public.big")]
    [InlineData("DELETE FROM pair WHERE a = 3 AND b = 'k10'", "public.pair")]
    [InlineData("INSERT INTO nokey VALUES ('extra')", "public.nokey")]
    [InlineData("SELECT nextval('counter')", "public.counter")]
    public async Task ChangeOnOneNode_IsFound_InTheRightTable(string change, string table)
    {
        await proxy.Nodes[1].ExecuteAsync(change, _database);

        var check = await CheckAsync();

        Assert.Equal(ConsistencyCheckState.Completed, check.State);
        var differing = Assert.Single(check.Tables, t => !t.Identical);
        Assert.Equal(table, differing.Table);
        Assert.Contains("node 1", differing.Difference);
        Assert.Contains(proxy.Host.Store.Log.Query(text: "nodes differ in"), e => e.Message.Contains(table, StringComparison.Ordinal));
    }

    [Fact]
    public async Task CommandLine_ExitsZeroWhenIdentical_AndOneWhenNot()
    {
        var executable = Path.Combine(AppContext.BaseDirectory, "pgpoolconsole.dll");
        var identical = await ProcessRunner.RunAsync("dotnet", [executable, "-f", proxy.ConfigPath, "verify", "--database", _database], timeout: TimeSpan.FromMinutes(2));
        Assert.Equal(0, identical.ExitCode);
        Assert.Contains("all 4 table(s) identical", identical.StandardOutput);

        await proxy.Nodes[0].ExecuteAsync("DELETE FROM big WHERE id = 1", _database);
        var different = await ProcessRunner.RunAsync("dotnet", [executable, "-f", proxy.ConfigPath, "verify", $"--database={_database}", "--chunk-rows", "700", "public.big"], timeout: TimeSpan.FromMinutes(2));
        Assert.Equal(1, different.ExitCode);
        Assert.Contains("DIFFERENT", different.StandardOutput);
        Assert.Contains("node 0: 4999 rows", different.StandardOutput);
    }

    [Theory]
    [InlineData("--help", 0, "Usage: pgpoolconsole [ -f CONFIG_FILE ] verify [ -d DATABASE ]...")]
    [InlineData("--bogus", 2, "verify: unknown option \"--bogus\"")]
    [InlineData("--chunk-rows=0", 2, "verify: --chunk-rows needs a positive number of rows")]
    [InlineData("-d", 2, "verify: -d needs a database name")]
    public async Task CommandLine_Help_AndBadOptions_AreAnswered(string option, int exitCode, string text)
    {
        var executable = Path.Combine(AppContext.BaseDirectory, "pgpoolconsole.dll");

        var result = await ProcessRunner.RunAsync("dotnet", [executable, "-f", proxy.ConfigPath, "verify", option], timeout: TimeSpan.FromMinutes(1));

        Assert.Equal(exitCode, result.ExitCode);
        Assert.Contains(text, result.StandardOutput + result.StandardError, StringComparison.Ordinal);
    }
}
