using Npgsql;
using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Replication;

/// <summary>
/// REPEATABLE READ and SERIALIZABLE transactions: each node takes the snapshot at the same
/// statement; READ ONLY ones read from one node.
/// </summary>
[Collection(ProxyCollection.Name)]
public sealed class IsolationTests(ProxyFixture proxy) : IAsyncLifetime
{
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("isolation");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task CatalogReadsThatDifferPerNode_InARepeatableReadTransaction_AreNotAMismatch()
    {
        // Catalogs and statistics views are not the same on every node; only a write's row counts must agree.
        await proxy.Nodes[1].ExecuteAsync("CREATE TABLE only_on_node1 (id int)", _database);

        var read = await proxy.PsqlAsync(_database, "BEGIN ISOLATION LEVEL REPEATABLE READ",
            "SELECT count(*) FROM pg_class WHERE relname = 'only_on_node1'", "SELECT relname FROM pg_class WHERE relname = 'only_on_node1'", "COMMIT");

        read.EnsureSuccess();
        Assert.Equal("0", read.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).First(line => line.All(char.IsDigit))); // the main node's answer
    }

    [Fact]
    public async Task ReadOnlyRepeatableReadTransaction_ReadsFromOneNodeOnly()
    {
        var before = proxy.Host.Store.Current.Nodes.Sum(n => proxy.Host.Store.Statistics(n.Id).SelectCount);

        var read = await proxy.PsqlAsync(_database, "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
            "SELECT inet_server_port()", "SELECT inet_server_port()", "SELECT inet_server_port()", "COMMIT");

        read.EnsureSuccess();
        var ports = read.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(line => line.All(char.IsDigit)).ToList();
        Assert.Equal(3, ports.Count);
        Assert.Single(ports.Distinct());
        Assert.Equal(before + 3, proxy.Host.Store.Current.Nodes.Sum(n => proxy.Host.Store.Statistics(n.Id).SelectCount));
    }

    [Theory]
    [InlineData("startup options")]
    [InlineData("SET default_transaction_isolation")]
    [InlineData("SET SESSION CHARACTERISTICS")]
    [InlineData("ALTER ROLE ... IN DATABASE ... SET")]
    public async Task SessionDefaultRepeatableRead_ReadsBeforeAWrite_TakeTheSameSnapshotOnEveryNode(string how)
    {
        (await proxy.PsqlAsync(_database, "CREATE TABLE t (id int)", "CREATE TABLE seen (n bigint)", "INSERT INTO t VALUES (1)")).EnsureSuccess();
        var builder = new NpgsqlConnectionStringBuilder(proxy.ConnectionString(_database));
        if (how.StartsWith("ALTER ROLE", StringComparison.Ordinal))
        {
            // Applies to backend connections made from now on: a new role's (none pooled yet).
            var role = $"rr_{_database}";
            (await proxy.PsqlAsync(_database,
                $"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD 'rr'",
                $"ALTER ROLE {role} IN DATABASE {_database} SET default_transaction_isolation = 'repeatable read'")).EnsureSuccess();
            builder.Username = role;
            builder.Password = "rr";
        }

        if (how == "startup options")
        {
            builder.Options = "-c default_transaction_isolation=repeatable\\ read";
        }

        await using var reader = new NpgsqlConnection(builder.ConnectionString);
        await reader.OpenAsync();
        await using var other = await proxy.OpenAsync(_database);
        if (how.StartsWith("SET", StringComparison.Ordinal))
        {
            await using var set = new NpgsqlCommand(how == "SET SESSION CHARACTERISTICS"
                ? "SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL REPEATABLE READ"
                : "SET default_transaction_isolation = 'repeatable read'", reader);
            await set.ExecuteNonQueryAsync();
        }

        // BEGIN names no level: the session's default makes it REPEATABLE READ on every node.
        await using (var begin = new NpgsqlCommand("BEGIN", reader))
        {
            await begin.ExecuteNonQueryAsync();
        }

        await using (var level = new NpgsqlCommand("SELECT current_setting('transaction_isolation'), count(*) FROM t", reader))
        await using (var row = await level.ExecuteReaderAsync())
        {
            Assert.True(await row.ReadAsync());
            Assert.Equal("repeatable read", row.GetString(0));
            Assert.Equal(1, row.GetInt64(1));
        }

        await using (var concurrent = new NpgsqlCommand("INSERT INTO t VALUES (2)", other))
        {
            await concurrent.ExecuteNonQueryAsync(); // committed after the snapshot
        }

        await using (var write = new NpgsqlCommand("INSERT INTO seen SELECT count(*) FROM t", reader))
        {
            await write.ExecuteNonQueryAsync();
        }

        await using (var commit = new NpgsqlCommand("COMMIT", reader))
        {
            await commit.ExecuteNonQueryAsync();
        }

        // Each node counted in the snapshot of the first read, not of the write.
        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(["1"], await NodeSql.ReadColumnAsync(node, _database, "SELECT n::text FROM seen"));
        }
    }
}
