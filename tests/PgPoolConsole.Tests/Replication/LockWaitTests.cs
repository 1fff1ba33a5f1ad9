using System.Diagnostics;
using Npgsql;
using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Replication;

/// <summary>Reads go to node 1 only (weights 0 and 1); replica_statement_timeout is 2 s.</summary>
public sealed class ReplicaReadsFixture() : ProxyFixture(2)
{
    protected override string ExtraConfiguration => "backend_weight0 = 0\nbackend_weight1 = 1\nreplica_statement_timeout = 2000\n";
}

/// <summary>A write that waits on another node for a lock the main node did not make it wait for must not hang.</summary>
public sealed class LockWaitTests(ReplicaReadsFixture proxy) : IClassFixture<ReplicaReadsFixture>, IAsyncLifetime
{
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("locks");
        (await proxy.PsqlAsync(_database, "CREATE TABLE t (id int PRIMARY KEY, v int)", "INSERT INTO t SELECT g, g FROM generate_series(1, 10) g")).EnsureSuccess();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<NpgsqlConnection> OpenAsync() => proxy.OpenAsync(_database);

    [Fact]
    public async Task DeadlockAcrossNodes_IsBrokenWithADeadlockError_AndNodesStayIdentical()
    {
        await using var reader = await OpenAsync();
        await using var transaction = await reader.BeginTransactionAsync();
        await using (var read = new NpgsqlCommand("SELECT count(*) FROM t", reader, transaction))
        {
            Assert.Equal(10L, await read.ExecuteScalarAsync()); // runs on node 1: a lock on t there
        }

        // ALTER takes t exclusively on node 0 at once, then waits on node 1 behind the read.
        await using var altering = await OpenAsync();
        await using var alter = new NpgsqlCommand("ALTER TABLE t ADD COLUMN extra int", altering);
        var alterTask = alter.ExecuteNonQueryAsync();
        await Task.Delay(500);

        // The reader now writes: it waits on node 0 for the ALTER, which waits on node 1 for it.
        var watch = Stopwatch.StartNew();
        await using var update = new NpgsqlCommand("UPDATE t SET v = v + 100 WHERE id = 1", reader, transaction);
        var updateTask = update.ExecuteNonQueryAsync();

        var error = await Assert.ThrowsAsync<PostgresException>(() => alterTask.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.Equal("40P01", error.SqlState);
        Assert.Contains("deadlock across nodes", error.Detail);
        Assert.Equal(1, await updateTask.WaitAsync(TimeSpan.FromSeconds(20)));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"took {watch.Elapsed}");
        await transaction.CommitAsync();

        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "t", "id");
        foreach (var node in proxy.Nodes)
        {
            Assert.Empty(await NodeSql.ReadColumnAsync(node, _database, "SELECT attname::text FROM pg_attribute WHERE attrelid = 't'::regclass AND attname = 'extra'"));
            Assert.Equal(["101"], await NodeSql.ReadColumnAsync(node, _database, "SELECT v::text FROM t WHERE id = 1"));
        }
    }

    [Fact]
    public async Task LockHeldOnOneNodeOutsideTheProxy_FailsTheWriteAfterReplicaStatementTimeout()
    {
        await using var direct = new NpgsqlConnection(proxy.Nodes[1].ConnectionString(_database));
        await direct.OpenAsync();
        await using var holding = await direct.BeginTransactionAsync();
        await using (var lockRow = new NpgsqlCommand("SELECT * FROM t WHERE id = 2 FOR UPDATE", direct, holding))
        {
            await lockRow.ExecuteNonQueryAsync();
        }

        await using var connection = await OpenAsync();
        await using var update = new NpgsqlCommand("UPDATE t SET v = -2 WHERE id = 2", connection);
        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<PostgresException>(() => update.ExecuteNonQueryAsync().WaitAsync(TimeSpan.FromSeconds(30)));

        Assert.Contains("replica_statement_timeout", error.Detail);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(1.5), TimeSpan.FromSeconds(15));
        await holding.RollbackAsync();
        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(["2"], await NodeSql.ReadColumnAsync(node, _database, "SELECT v::text FROM t WHERE id = 2"));
        }

        await using var after = new NpgsqlCommand("UPDATE t SET v = -2 WHERE id = 2", connection);
        Assert.Equal(1, await after.ExecuteNonQueryAsync());
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "t", "id");
    }
}
