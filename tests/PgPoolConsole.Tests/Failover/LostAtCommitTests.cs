using Npgsql;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Replication;

namespace PgPoolConsole.Tests.Failover;

/// <summary>
/// A node's backend of the session is terminated (pg_terminate_backend) while the session's
/// transaction is open, and the client then commits. The nodes that still hold the transaction
/// commit it; a node that lost it while another committed is detached, even though it answers.
/// </summary>
[Collection(ThreeNodeCollection.Name)]
public sealed class LostAtCommitTests(ThreeNodeProxyFixture proxy) : IAsyncLifetime
{
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("lostatcommit");
        (await proxy.PsqlAsync(_database, "CREATE TABLE t (id int PRIMARY KEY)")).EnsureSuccess();
    }

    public Task DisposeAsync() => proxy.HealAsync();

    [Theory]
    [InlineData(1)]
    [InlineData(0)]
    public async Task OneNodesBackendTerminatedInATransaction_CommitSucceedsOnTheOthers_AndThatNodeIsDetached(int terminated)
    {
        await using var connection = await proxy.OpenAsync(_database);
        await using var transaction = await InsertInATransactionAsync(connection);
        await NodeSql.TerminateBackendsAsync(proxy.Nodes[terminated], _database);

        await transaction.CommitAsync();

        Assert.Equal(NodeStatus.Down, proxy.Host.Store.Current.Find(terminated)!.Status);
        Assert.Contains(proxy.Host.Store.Log.Query(text: "while a commit was in progress"), e => e.Message.Contains($"node {terminated} may differ from the other nodes", StringComparison.Ordinal));
        var attached = proxy.Nodes.Where((_, id) => id != terminated).ToList();
        await NodeComparer.AssertTablesIdenticalAsync(attached, _database, "t", "id");
        Assert.Equal(["1"], await NodeSql.ReadColumnAsync(attached[0], _database, "SELECT id::text FROM t"));
    }

    [Fact]
    public async Task EveryNodesBackendTerminatedInATransaction_CommitFails_AndEveryNodeStaysAttached()
    {
        await using var connection = await proxy.OpenAsync(_database);
        await using var transaction = await InsertInATransactionAsync(connection);
        foreach (var node in proxy.Nodes)
        {
            await NodeSql.TerminateBackendsAsync(node, _database); // as idle_in_transaction_session_timeout would on every node
        }

        var error = await Assert.ThrowsAnyAsync<PostgresException>(() => transaction.CommitAsync());
        Assert.Equal("08006", error.SqlState);

        Assert.All(proxy.Host.Store.Current.Nodes, node => Assert.Equal(NodeStatus.Up, node.Status));
        foreach (var node in proxy.Nodes)
        {
            Assert.Empty(await NodeSql.ReadColumnAsync(node, _database, "SELECT id::text FROM t"));
        }
    }

    private static async Task<NpgsqlTransaction> InsertInATransactionAsync(NpgsqlConnection connection)
    {
        var transaction = await connection.BeginTransactionAsync();
        await using var insert = new NpgsqlCommand("INSERT INTO t VALUES (1)", connection, transaction);
        Assert.Equal(1, await insert.ExecuteNonQueryAsync());
        return transaction;
    }
}
