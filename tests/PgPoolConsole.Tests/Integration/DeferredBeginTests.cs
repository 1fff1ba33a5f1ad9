using Microsoft.Extensions.DependencyInjection;
using PgPoolConsole.Proxy.Sessions;
using PgPoolConsole.Proxy.Sql;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

/// <summary>
/// A plain BEGIN is answered by the proxy and reaches each node with that node's first statement
/// of the transaction: whatever the client sends next, every node ends up in the same state.
/// </summary>
[Collection(ProxyCollection.Name)]
public sealed class DeferredBeginTests(ProxyFixture proxy) : IAsyncLifetime
{
    private string _database = "";

    private ProxyServer Server => proxy.Host.Services.GetRequiredService<ProxyServer>();

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("deferred_begin");
        (await proxy.PsqlAsync(_database, "CREATE TABLE t (id int PRIMARY KEY, at timestamptz)", "CREATE TABLE unkeyed (x float8)")).EnsureSuccess();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Theory]
    [InlineData("BEGIN", "BEGIN")]
    [InlineData("begin;", "BEGIN")]
    [InlineData("  BEGIN WORK ;; ", "BEGIN")]
    [InlineData("BEGIN TRANSACTION", "BEGIN")]
    [InlineData("/* app */ start transaction;", "START TRANSACTION")]
    [InlineData("BEGIN ISOLATION LEVEL SERIALIZABLE", null)]
    [InlineData("BEGIN READ ONLY", null)]
    [InlineData("START TRANSACTION DEFERRABLE", null)]
    [InlineData("BEGIN; SELECT 1", null)]
    [InlineData("BEGINx", null)]
    [InlineData("\"begin\"", null)]
    public void PlainBegin_IsOnlyTheStatementWithoutTransactionModes(string sql, string? tag) =>
        Assert.Equal(tag, PlainBegin.CommandTag(sql));

    [Fact]
    public async Task Begin_IsAnsweredAtOnce_AndEachNodeGetsItWithItsFirstStatement()
    {
        await using var client = new RawClient(Server);
        await client.ConnectAsync(_database);

        await client.SendAsync(RawClient.Query("BEGIN"));
        Assert.Equal([('C', "BEGIN"), ('Z', "T")], await client.ReadUntilReadyAsync());
        await AssertOpenTransactionsAsync(0);

        await client.SendAsync(RawClient.Query("INSERT INTO t VALUES (1, now())"));
        Assert.Equal([('C', "INSERT 0 1"), ('Z', "T")], await client.ReadUntilReadyAsync());
        await AssertOpenTransactionsAsync(1);

        await client.SendAsync(RawClient.Query("SELECT at = now() FROM t WHERE id = 1"));
        Assert.Contains(('D', "\0\u0001\0\0\0\u0001t"), await client.ReadUntilReadyAsync()); // the node's own transaction clock
        await client.SendAsync(RawClient.Query("COMMIT"));
        Assert.Equal([('C', "COMMIT"), ('Z', "I")], await client.ReadUntilReadyAsync());

        await AssertOpenTransactionsAsync(0);
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "t", "id");
    }

    [Fact]
    public async Task EmptyTransactions_AndAClientLeavingAfterBegin_LeaveNoNodeInATransaction()
    {
        await using (var client = new RawClient(Server))
        {
            await client.ConnectAsync(_database);
            await client.SendAsync([.. RawClient.Query("BEGIN"), .. RawClient.Query("COMMIT"), .. RawClient.Query("START TRANSACTION"), .. RawClient.Query("ROLLBACK"), .. RawClient.Query("BEGIN")]);
            Assert.Equal([('C', "BEGIN"), ('Z', "T")], await client.ReadUntilReadyAsync());
            Assert.Equal([('C', "COMMIT"), ('Z', "I")], await client.ReadUntilReadyAsync());
            Assert.Equal([('C', "START TRANSACTION"), ('Z', "T")], await client.ReadUntilReadyAsync());
            Assert.Equal([('C', "ROLLBACK"), ('Z', "I")], await client.ReadUntilReadyAsync());
            Assert.Equal([('C', "BEGIN"), ('Z', "T")], await client.ReadUntilReadyAsync());
        }

        // The pooled connections go to the next client without the BEGIN the last one never used.
        for (var i = 0; i < 3; i++)
        {
            await using var next = new RawClient(Server);
            await next.ConnectAsync(_database);
            await next.SendAsync(RawClient.Query($"INSERT INTO t VALUES ({10 + i}, NULL)"));
            Assert.Equal([('C', "INSERT 0 1"), ('Z', "I")], await next.ReadUntilReadyAsync());
        }

        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(["10", "11", "12"], await NodeSql.ReadColumnAsync(node, _database, "SELECT id FROM t ORDER BY id"));
        }

        await AssertOpenTransactionsAsync(0);
    }

    [Fact]
    public async Task ReadFirst_ThenWrite_ThenRollback_LeavesEveryNodeUnchanged()
    {
        await using var client = new RawClient(Server);
        await client.ConnectAsync(_database);

        await client.SendAsync([.. RawClient.Query("BEGIN"), .. RawClient.Query("SELECT count(*) FROM t"), .. RawClient.Query("INSERT INTO t VALUES (2, NULL)")]);
        Assert.Equal([('C', "BEGIN"), ('Z', "T")], await client.ReadUntilReadyAsync());
        Assert.Equal('T', (await client.ReadUntilReadyAsync())[^1].Text[0]);
        Assert.Equal([('C', "INSERT 0 1"), ('Z', "T")], await client.ReadUntilReadyAsync());
        await AssertOpenTransactionsAsync(1);

        await client.SendAsync(RawClient.Query("ROLLBACK"));
        Assert.Equal([('C', "ROLLBACK"), ('Z', "I")], await client.ReadUntilReadyAsync());
        foreach (var node in proxy.Nodes)
        {
            Assert.Empty(await NodeSql.ReadColumnAsync(node, _database, "SELECT id FROM t"));
        }
    }

    [Fact]
    public async Task RefusedFirstStatement_AbortsTheTransactionOnEveryNode()
    {
        await using var client = new RawClient(Server);
        await client.ConnectAsync(_database);

        await client.SendAsync([.. RawClient.Query("BEGIN"), .. RawClient.Query("UPDATE unkeyed SET x = random()")]);
        Assert.Equal([('C', "BEGIN"), ('Z', "T")], await client.ReadUntilReadyAsync());
        var refused = await client.ReadUntilReadyAsync();
        Assert.Equal('E', refused[0].Type);
        Assert.Contains("0A000", refused[0].Text);
        Assert.Equal(('Z', "E"), refused[^1]);

        // Each node was told BEGIN and made to fail: the next statement fails wherever it runs.
        await client.SendAsync(RawClient.Query("INSERT INTO t VALUES (3, NULL)"));
        var aborted = await client.ReadUntilReadyAsync();
        Assert.Contains("25P02", aborted[0].Text);
        await client.SendAsync(RawClient.Query("ROLLBACK"));
        Assert.Equal([('C', "ROLLBACK"), ('Z', "I")], await client.ReadUntilReadyAsync());
        await AssertOpenTransactionsAsync(0);
    }

    [Fact]
    public async Task ExtendedQueriesAfterASimpleBegin_RunInsideTheTransactionOnEveryNode()
    {
        await using var client = new RawClient(Server);
        await client.ConnectAsync(_database);

        await client.SendAsync(RawClient.Query("BEGIN"));
        Assert.Equal([('C', "BEGIN"), ('Z', "T")], await client.ReadUntilReadyAsync());
        await client.SendAsync([.. RawClient.Execute("INSERT INTO t VALUES (4, now())"), .. RawClient.Message('S')]);
        Assert.Equal([('1', ""), ('2', ""), ('C', "INSERT 0 1"), ('Z', "T")], await client.ReadUntilReadyAsync());
        await AssertOpenTransactionsAsync(1);

        await client.SendAsync(RawClient.Query("COMMIT"));
        Assert.Equal([('C', "COMMIT"), ('Z', "I")], await client.ReadUntilReadyAsync());
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "t", "id");
        Assert.Equal(["4"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT id FROM t"));
    }

    [Fact]
    public async Task ListeningSession_SendsBeginToTheNodesAtOnce()
    {
        await using var client = new RawClient(Server);
        await client.ConnectAsync(_database);
        await client.SendAsync(RawClient.Query("LISTEN deferred_begin_channel"));
        await client.ReadUntilReadyAsync();

        await client.SendAsync(RawClient.Query("BEGIN"));
        Assert.Equal([('C', "BEGIN"), ('Z', "T")], await client.ReadUntilReadyAsync());
        await AssertOpenTransactionsAsync(1);
        await client.SendAsync(RawClient.Query("COMMIT"));
        await client.ReadUntilReadyAsync();
    }

    [Fact]
    public async Task PsqlScript_WithTimeFunctions_StoresTheSameValuesOnEveryNode()
    {
        var script = string.Concat(Enumerable.Range(0, 20).Select(i => $"BEGIN;\nINSERT INTO t VALUES ({100 + i}, now());\nUPDATE t SET at = at + interval '1 second' WHERE id = {100 + i};\nCOMMIT;\n"));
        var result = await ProxyFixtureExtensions.ScriptAsync(proxy, _database, script);

        Assert.True(result.Succeeded, result.StandardError);
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "t", "id");
        Assert.Equal(["20"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(*) FROM t"));
    }

    /// <summary>Backends of this test's database in a transaction, on each node.</summary>
    private async Task AssertOpenTransactionsAsync(int expected)
    {
        foreach (var node in proxy.Nodes)
        {
            var open = await NodeSql.ReadColumnAsync(node, _database, $"SELECT count(*) FROM pg_stat_activity WHERE datname = '{_database}' AND state LIKE 'idle in transaction%'");
            Assert.Equal([expected.ToString(System.Globalization.CultureInfo.InvariantCulture)], open);
        }
    }
}
