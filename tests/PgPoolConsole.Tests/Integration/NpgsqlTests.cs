using System.Diagnostics;
using Npgsql;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

[Collection(ProxyCollection.Name)]
public sealed class NpgsqlTests(ProxyFixture proxy) : IAsyncLifetime
{
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("npgsql");
        await using var connection = await OpenAsync();
        await using var create = new NpgsqlCommand("CREATE TABLE people (id int PRIMARY KEY, name text, born date, score numeric(6,2))", connection);
        await create.ExecuteNonQueryAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<NpgsqlConnection> OpenAsync() => proxy.OpenAsync(_database);

    [Fact]
    public async Task Parameters_InsertAndSelect_RoundTripTypedValues()
    {
        await using var connection = await OpenAsync();
        await using (var insert = new NpgsqlCommand("INSERT INTO people VALUES (@id, @name, @born, @score)", connection))
        {
            insert.Parameters.AddWithValue("id", 1);
            insert.Parameters.AddWithValue("name", "Ada 'the first' Lovelace");
            insert.Parameters.AddWithValue("born", new DateOnly(1815, 12, 10));
            insert.Parameters.AddWithValue("score", 99.5m);
            Assert.Equal(1, await insert.ExecuteNonQueryAsync());
        }

        await using var select = new NpgsqlCommand("SELECT name, born, score FROM people WHERE id = $1", connection);
        select.Parameters.Add(new NpgsqlParameter { Value = 1 });
        await using var reader = await select.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal("Ada 'the first' Lovelace", reader.GetString(0));
        Assert.Equal(new DateOnly(1815, 12, 10), reader.GetFieldValue<DateOnly>(1));
        Assert.Equal(99.5m, reader.GetDecimal(2));
        await reader.CloseAsync();
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "people", "id");
    }

    [Fact]
    public async Task PreparedCommand_ExecutedManyTimes_WritesEveryNode()
    {
        await using var connection = await OpenAsync();
        await using var insert = new NpgsqlCommand("INSERT INTO people (id, name) VALUES ($1, $2)", connection);
        insert.Parameters.Add(new NpgsqlParameter<int>());
        insert.Parameters.Add(new NpgsqlParameter<string>());
        await insert.PrepareAsync();
        for (var i = 100; i < 150; i++)
        {
            ((NpgsqlParameter<int>)insert.Parameters[0]).TypedValue = i;
            ((NpgsqlParameter<string>)insert.Parameters[1]).TypedValue = $"person {i}";
            await insert.ExecuteNonQueryAsync();
        }

        await using var count = new NpgsqlCommand("SELECT count(*) FROM people WHERE id >= $1", connection);
        count.Parameters.Add(new NpgsqlParameter<int> { TypedValue = 100 });
        await count.PrepareAsync();
        Assert.Equal(50L, await count.ExecuteScalarAsync());
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "people", "id");
        Assert.Equal(50, (await NodeComparer.ReadTableAsync(proxy.Nodes[1], _database, "people", "id")).Count);
    }

    [Fact]
    public async Task Transactions_CommitKeepsAndRollbackDiscards_OnEveryNode()
    {
        await using var connection = await OpenAsync();
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using var insert = new NpgsqlCommand("INSERT INTO people (id, name) VALUES (200, 'kept'), (201, 'kept')", connection, transaction);
            await insert.ExecuteNonQueryAsync();
            await using var read = new NpgsqlCommand("SELECT count(*) FROM people WHERE id >= 200", connection, transaction);
            Assert.Equal(2L, await read.ExecuteScalarAsync());
            await transaction.CommitAsync();
        }

        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await using var insert = new NpgsqlCommand("INSERT INTO people (id, name) VALUES (300, 'discarded')", connection, transaction);
            await insert.ExecuteNonQueryAsync();
            await transaction.RollbackAsync();
        }

        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(["(200,kept,,)", "(201,kept,,)"], await NodeComparer.ReadTableAsync(node, _database, "people", "id"));
        }
    }

    [Fact]
    public async Task LongQuery_Cancelled_StopsPromptly_AndTheConnectionStaysUsable()
    {
        await using var connection = await OpenAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await using var sleep = new NpgsqlCommand("SELECT pg_sleep(60)", connection);
        var watch = Stopwatch.StartNew();

        var error = await Assert.ThrowsAnyAsync<OperationCanceledException>(() => sleep.ExecuteScalarAsync(cancel.Token));

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"cancel took {watch.Elapsed}");
        Assert.Equal("57014", (error.InnerException as PostgresException)?.SqlState);
        await using var after = new NpgsqlCommand("SELECT 42", connection);
        Assert.Equal(42, await after.ExecuteScalarAsync());
    }

    [Fact]
    public async Task WriteCancelledOnMainNode_NeverReachesTheOtherNodes()
    {
        await using var connection = await OpenAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await using var slowInsert = new NpgsqlCommand("INSERT INTO people (id, name) SELECT 500, 'slow' FROM pg_sleep(30)", connection);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slowInsert.ExecuteNonQueryAsync(cancel.Token));

        foreach (var node in proxy.Nodes)
        {
            Assert.Empty(await NodeSql.ReadColumnAsync(node, _database, "SELECT id::text FROM people WHERE id = 500"));
        }

        await using var after = new NpgsqlCommand("INSERT INTO people (id, name) VALUES (501, 'after')", connection);
        Assert.Equal(1, await after.ExecuteNonQueryAsync());
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "people", "id");
    }
}
