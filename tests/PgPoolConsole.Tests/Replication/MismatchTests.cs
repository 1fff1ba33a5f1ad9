using Npgsql;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Replication;

/// <summary>With pgpool's defaults a disagreement rolls the statement back on every node; nobody is detached, the session lives.</summary>
[Collection(ProxyCollection.Name)]
public sealed class MismatchRollbackTests(ProxyFixture proxy) : IAsyncLifetime
{
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("mismatch");
        (await proxy.PsqlAsync(_database, "CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 5) g")).EnsureSuccess();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task DifferentRowCounts_RollBackEverywhere_AndTheSessionGoesOn()
    {
        await proxy.Nodes[1].ExecuteAsync("DELETE FROM t WHERE id = 3", _database); // node 1 diverges behind the proxy's back
        await using var connection = await proxy.OpenAsync(_database);

        await using var update = new NpgsqlCommand("UPDATE t SET v = 'changed' WHERE id >= 3", connection);
        var error = await Assert.ThrowsAsync<PostgresException>(() => update.ExecuteNonQueryAsync());

        Assert.Equal("55000", error.SqlState);
        Assert.Contains("different numbers of affected rows", error.MessageText);
        Assert.Contains("0[UPDATE 3]", error.Detail);
        Assert.Contains("1[UPDATE 2]", error.Detail);
        Assert.Empty(await NodeSql.ReadColumnAsync(proxy.Nodes[0], _database, "SELECT id::text FROM t WHERE v = 'changed'"));
        Assert.Empty(await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT id::text FROM t WHERE v = 'changed'"));
        Assert.All(proxy.Host.Store.Current.Nodes, n => Assert.True(n.IsUsable));

        await using var next = new NpgsqlCommand("UPDATE t SET v = 'ok' WHERE id = 1", connection);
        Assert.Equal(1, await next.ExecuteNonQueryAsync());
        Assert.Contains(proxy.Host.Store.Log.Query(text: "backend nodes disagree"), e => e.Message.Contains("UPDATE t SET v = 'changed'", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SucceedsOnMainButFailsElsewhere_RollsBackEverywhere()
    {
        await proxy.Nodes[1].ExecuteAsync("ALTER TABLE t ADD CONSTRAINT short_v CHECK (length(v) < 5)", _database);
        await using var connection = await proxy.OpenAsync(_database);

        await using var insert = new NpgsqlCommand("INSERT INTO t VALUES (10, 'too long')", connection);
        var error = await Assert.ThrowsAsync<PostgresException>(() => insert.ExecuteNonQueryAsync());

        Assert.Contains("different results", error.MessageText);
        foreach (var node in proxy.Nodes)
        {
            Assert.Empty(await NodeSql.ReadColumnAsync(node, _database, "SELECT id::text FROM t WHERE id = 10"));
        }
    }
}

/// <summary>replication_stop_on_mismatch and failover_if_affected_tuples_mismatch on: the minority is detached.</summary>
public sealed class DetachOnMismatchFixture() : ProxyFixture(2)
{
    protected override string ExtraConfiguration => "replication_stop_on_mismatch = on\nfailover_if_affected_tuples_mismatch = on\n";
}

public sealed class MismatchDetachTests(DetachOnMismatchFixture proxy) : IClassFixture<DetachOnMismatchFixture>, IAsyncLifetime
{
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("detach");
        (await proxy.PsqlAsync(_database, "CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 5) g")).EnsureSuccess();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task DifferentRowCounts_OnTwoNodes_DetachTheReplica_MainWinsTheTie()
    {
        await proxy.Nodes[1].ExecuteAsync("DELETE FROM t WHERE id = 3", _database);
        await using var connection = await proxy.OpenAsync(_database);

        await using var update = new NpgsqlCommand("UPDATE t SET v = 'changed' WHERE id >= 3", connection);
        Assert.Equal(3, await update.ExecuteNonQueryAsync());

        var node1 = proxy.Host.Store.Current.Find(1)!;
        Assert.Equal(NodeStatus.Down, node1.Status);
        Assert.Contains("differs from the majority", node1.DownReason);
        Assert.Equal(["3", "4", "5"], await NodeSql.ReadColumnAsync(proxy.Nodes[0], _database, "SELECT id::text FROM t WHERE v = 'changed' ORDER BY id"));

        await using var next = new NpgsqlCommand("SELECT count(*) FROM t", connection);
        Assert.Equal(5L, await next.ExecuteScalarAsync());
    }
}

/// <summary>Three nodes, with a disagreeing node detached (failover_if_affected_tuples_mismatch).</summary>
public sealed class ThreeNodeProxyFixture() : ProxyFixture(3)
{
    protected override string ExtraConfiguration => "failover_if_affected_tuples_mismatch = on\n";
}

[CollectionDefinition(Name)]
public sealed class ThreeNodeCollection : ICollectionFixture<ThreeNodeProxyFixture>
{
    public const string Name = "proxy on three nodes";
}

/// <summary>A disagreeing main node is outvoted.</summary>
[Collection(ThreeNodeCollection.Name)]
public sealed class MajorityTests(ThreeNodeProxyFixture proxy) : IAsyncLifetime
{
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("majority");
        (await proxy.PsqlAsync(_database, "CREATE TABLE t (id int PRIMARY KEY, v text)", "INSERT INTO t SELECT g, 'v' || g FROM generate_series(1, 5) g")).EnsureSuccess();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task MainNodeOutvoted_IsDetached_AndTheClientGetsTheMajoritysAnswer()
    {
        await proxy.Nodes[0].ExecuteAsync("DELETE FROM t WHERE id = 4", _database);
        await using var connection = await proxy.OpenAsync(_database);

        await using var update = new NpgsqlCommand("UPDATE t SET v = 'x' WHERE id >= 4", connection);
        Assert.Equal(2, await update.ExecuteNonQueryAsync());

        var snapshot = proxy.Host.Store.Current;
        Assert.Equal(NodeStatus.Down, snapshot.Find(0)!.Status);
        Assert.Equal(1, snapshot.MainNodeId);
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes.Skip(1), _database, "t", "id");

        await using var insert = new NpgsqlCommand("INSERT INTO t VALUES (6, 'after')", connection);
        Assert.Equal(1, await insert.ExecuteNonQueryAsync());
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes.Skip(1), _database, "t", "id");
        Assert.Empty(await NodeSql.ReadColumnAsync(proxy.Nodes[0], _database, "SELECT id::text FROM t WHERE id = 6"));
    }
}
