using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PgPoolConsole.Proxy.Sessions;
using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Replication;

/// <summary>
/// DDL and then writes in one extended-query batch or one transaction: the writes' column
/// defaults are looked up once the DDL has run, by the session that ran it, without ending the
/// batch early; the batch stays all-or-nothing as in PostgreSQL.
/// </summary>
[Collection(ProxyCollection.Name)]
public sealed class DdlThenWriteTests(ProxyFixture proxy) : IAsyncLifetime
{
    private const string Columns = "(id int PRIMARY KEY, at timestamptz DEFAULT now(), token uuid DEFAULT gen_random_uuid())";
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("ddlwrite");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private ProxyServer Server => proxy.Host.Services.GetRequiredService<ProxyServer>();

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync();
    }

    private Task AssertIdenticalAsync(string table) => NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, table, "1");

    private async Task<IReadOnlyList<string>> TableOnEveryNodeAsync(string table)
    {
        var found = new List<string>();
        foreach (var node in proxy.Nodes)
        {
            found.AddRange(await NodeSql.ReadColumnAsync(node, _database, $"SELECT coalesce(to_regclass('{table}')::text, 'none')"));
        }

        return found;
    }

    [Fact]
    public async Task OneNpgsqlCommandCreatingAndFillingATable_StoresTheSameDefaultsEverywhere()
    {
        await using var connection = await proxy.OpenAsync(_database);
        await ExecuteAsync(connection, $"CREATE TABLE b1 {Columns}; INSERT INTO b1 (id) VALUES (1), (2), (3)");

        await AssertIdenticalAsync("b1");
        Assert.Equal(["3"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(DISTINCT token)::text FROM b1"));

        // The batch committed as a whole, and the session is outside a transaction again.
        await ExecuteAsync(connection, "INSERT INTO b1 (id) VALUES (4)");
        Assert.Equal(4, (await NodeComparer.ReadTableAsync(proxy.Nodes[0], _database, "b1", "1")).Count);
        await AssertIdenticalAsync("b1");
    }

    [Fact]
    public async Task OneNpgsqlCommandWithItsOwnTransaction_StoresTheSameDefaultsEverywhere()
    {
        await using var connection = await proxy.OpenAsync(_database);
        await ExecuteAsync(connection, $"BEGIN; CREATE TABLE bt {Columns}; INSERT INTO bt (id) VALUES (1), (2); COMMIT");

        await AssertIdenticalAsync("bt");
        Assert.Equal(2, (await NodeComparer.ReadTableAsync(proxy.Nodes[1], _database, "bt", "1")).Count);
    }

    [Fact]
    public async Task AFailingWriteAfterTheDdl_RollsBackTheWholeBatchEverywhere()
    {
        await using var connection = await proxy.OpenAsync(_database);
        var error = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, $"CREATE TABLE b2 {Columns}; INSERT INTO b2 (id) VALUES (1), (1)"));

        Assert.Equal("23505", error.SqlState);
        Assert.Equal(["none", "none"], await TableOnEveryNodeAsync("b2"));
        await ExecuteAsync(connection, $"CREATE TABLE b2 {Columns}; INSERT INTO b2 (id) VALUES (1)");
        await AssertIdenticalAsync("b2");
    }

    [Fact]
    public async Task AFailingDdl_SkipsTheWriteAndKeepsTheSessionUsable()
    {
        await using var connection = await proxy.OpenAsync(_database);
        await ExecuteAsync(connection, $"CREATE TABLE b3 {Columns}; INSERT INTO b3 (id) VALUES (1)");

        var error = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, $"CREATE TABLE b3 {Columns}; INSERT INTO b3 (id) VALUES (2)"));

        Assert.Equal("42P07", error.SqlState);
        await ExecuteAsync(connection, "INSERT INTO b3 (id) VALUES (3)");
        await AssertIdenticalAsync("b3");
        Assert.Equal(2, (await NodeComparer.ReadTableAsync(proxy.Nodes[1], _database, "b3", "1")).Count);
    }

    [Fact]
    public async Task DefaultsChangedInsideATransaction_AreUsedByItsLaterWrites()
    {
        await using var connection = await proxy.OpenAsync(_database);
        await ExecuteAsync(connection, "CREATE TABLE b4 (id int PRIMARY KEY, at timestamptz)");
        await ExecuteAsync(connection, "INSERT INTO b4 (id) VALUES (1)");

        await using (var transaction = await connection.BeginTransactionAsync())
        {
            await ExecuteAsync(connection, "ALTER TABLE b4 ALTER COLUMN at SET DEFAULT now(); INSERT INTO b4 (id) VALUES (2)");
            await ExecuteAsync(connection, "INSERT INTO b4 (id) VALUES (3)");
            await ExecuteAsync(connection, "UPDATE b4 SET at = DEFAULT WHERE id = 1");
            await transaction.CommitAsync();
        }

        await AssertIdenticalAsync("b4");
        Assert.Equal(["0"], await NodeSql.ReadColumnAsync(proxy.Nodes[0], _database, "SELECT count(*)::text FROM b4 WHERE at IS NULL"));
    }

    /// <summary>
    /// Another session looked the table up while the ALTER was not committed (and saw the old
    /// defaults): once the ALTER commits, that is forgotten, and its next write uses the new default.
    /// </summary>
    [Fact]
    public async Task DefaultsSeenBeforeAnotherSessionCommittedItsDdl_AreNotUsedAfterwards()
    {
        await using var altering = await proxy.OpenAsync(_database);
        await using var writing = await proxy.OpenAsync(_database);
        await ExecuteAsync(altering, "CREATE TABLE b5 (id int PRIMARY KEY, at timestamptz)");

        await using (var transaction = await altering.BeginTransactionAsync())
        {
            await ExecuteAsync(altering, "ALTER TABLE b5 ALTER COLUMN at SET DEFAULT now()");
            await ExecuteAsync(writing, "SET lock_timeout = '200ms'");
            var blocked = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(writing, "INSERT INTO b5 (id) VALUES (1)"));
            Assert.Equal("55P03", blocked.SqlState);
            await transaction.CommitAsync();
        }

        await ExecuteAsync(writing, "INSERT INTO b5 (id) VALUES (2)");

        await AssertIdenticalAsync("b5");
        Assert.Equal(["2"], await NodeSql.ReadColumnAsync(proxy.Nodes[0], _database, "SELECT string_agg(id::text, ',') FROM b5 WHERE at IS NOT NULL"));
    }

    /// <summary>
    /// A client that sends Flush between DDL and a write (as JDBC-style drivers may): the lookup
    /// for the write runs inside the batch, so nothing is committed on any node before Sync.
    /// </summary>
    [Fact]
    public async Task ALookupBetweenFlushedParts_DoesNotCommitTheBatchEarly()
    {
        await using var client = new RawClient(Server);
        Assert.Equal('Z', (await client.ConnectAsync(_database))[^1].Type);

        await client.SendAsync([.. ExecuteMessages("CREATE TABLE f6 (id int, at timestamptz DEFAULT now())"), .. RawClient.Message('H')]);
        Assert.Equal("CREATE TABLE", (await client.ReadUntilAsync('C'))[^1].Text);
        await client.SendAsync([.. ExecuteMessages("INSERT INTO f6 (id) VALUES (1)"), .. RawClient.Message('H')]);
        Assert.Equal("INSERT 0 1", (await client.ReadUntilAsync('C'))[^1].Text);

        Assert.Equal(["none", "none"], await TableOnEveryNodeAsync("f6"));
        await client.SendAsync(RawClient.Message('S'));
        Assert.Equal([('Z', "I")], await client.ReadUntilReadyAsync());
        await AssertIdenticalAsync("f6");
        Assert.Single(await NodeComparer.ReadTableAsync(proxy.Nodes[1], _database, "f6", "1"));
    }

    /// <summary>After an error in a flushed part, PostgreSQL skips everything up to Sync: so does the proxy, on every node.</summary>
    [Fact]
    public async Task AfterAnErrorInAFlushedPart_TheRestOfTheBatchIsSkippedEverywhere()
    {
        (await proxy.PsqlAsync(_database, "CREATE TABLE f7 (id int); CREATE TABLE f7b (id int, at timestamptz DEFAULT now())")).EnsureSuccess();
        await using var client = new RawClient(Server);
        await client.ConnectAsync(_database);

        await client.SendAsync([.. ExecuteMessages("INSERT INTO f7 VALUES (1)"), .. RawClient.Message('H')]);
        Assert.Equal("INSERT 0 1", (await client.ReadUntilAsync('C'))[^1].Text);
        await client.SendAsync([.. ExecuteMessages("SELECT 1/0"), .. RawClient.Message('H')]);
        Assert.StartsWith("ERROR 22012", (await client.ReadUntilAsync('E'))[^1].Text);
        await client.SendAsync([.. ExecuteMessages("INSERT INTO f7b (id) VALUES (2)"), .. RawClient.Message('S')]);

        Assert.Equal([('Z', "I")], await client.ReadUntilReadyAsync());
        foreach (var node in proxy.Nodes)
        {
            Assert.Empty(await NodeComparer.ReadTableAsync(node, _database, "f7", "1"));
            Assert.Empty(await NodeComparer.ReadTableAsync(node, _database, "f7b", "1"));
        }

        await client.SendAsync(RawClient.Query("INSERT INTO f7b (id) VALUES (3)"));
        Assert.Contains(('C', "INSERT 0 1"), await client.ReadUntilReadyAsync());
        await AssertIdenticalAsync("f7b");
    }

    /// <summary>A Parse the proxy refuses after a flushed part: the client hears it once, and the batch's earlier part is rolled back everywhere.</summary>
    [Fact]
    public async Task ARefusalAfterAFlushedPart_IsReportedOnceAndTheBatchKeepsNothing()
    {
        (await proxy.PsqlAsync(_database, "CREATE TABLE f8 (id int, x float8)")).EnsureSuccess();
        await using var client = new RawClient(Server);
        await client.ConnectAsync(_database);

        await client.SendAsync([.. ExecuteMessages("INSERT INTO f8 VALUES (1, 0)"), .. RawClient.Message('H')]);
        Assert.Equal("INSERT 0 1", (await client.ReadUntilAsync('C'))[^1].Text);
        await client.SendAsync([.. ExecuteMessages("UPDATE f8 SET x = random()"), .. RawClient.Message('H')]);
        Assert.Contains("refused", (await client.ReadUntilAsync('E'))[^1].Text);
        await client.SendAsync(RawClient.Message('S'));

        Assert.Equal([('Z', "I")], await client.ReadUntilReadyAsync());
        await client.SendAsync(RawClient.Query("INSERT INTO f8 VALUES (2, 0)"));
        Assert.Contains(('C', "INSERT 0 1"), await client.ReadUntilReadyAsync());
        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(["(2,0)"], await NodeComparer.ReadTableAsync(node, _database, "f8", "1"));
        }
    }

    /// <summary>
    /// ADD COLUMN ... DEFAULT now() fills the existing rows with each node's own transaction start:
    /// the rows get the main node's value, and the column keeps DEFAULT now() for later inserts.
    /// </summary>
    [Theory]
    [InlineData("simple")]
    [InlineData("extended")]
    public async Task AddColumnWithAClockDefault_FillsExistingRowsWithOneValueAndKeepsTheDefault(string protocol)
    {
        var table = $"ac_{protocol}";
        (await proxy.PsqlAsync(_database, $"CREATE TABLE {table} (id int PRIMARY KEY); INSERT INTO {table} SELECT generate_series(1, 50)")).EnsureSuccess();
        var alter = $"ALTER TABLE {table} ADD COLUMN at timestamptz NOT NULL DEFAULT now(), ADD COLUMN day date DEFAULT CURRENT_DATE, " +
            "ADD COLUMN note text DEFAULT 'x', ALTER COLUMN id SET DEFAULT 0";
        if (protocol == "simple")
        {
            (await proxy.PsqlAsync(_database, alter)).EnsureSuccess();
        }
        else
        {
            await using var connection = await proxy.OpenAsync(_database);
            await ExecuteAsync(connection, alter);
        }

        (await proxy.PsqlAsync(_database, $"INSERT INTO {table} (id) VALUES (51)")).EnsureSuccess();

        await AssertIdenticalAsync(table);
        foreach (var node in proxy.Nodes)
        {
            var defaults = await NodeSql.ReadColumnAsync(node, _database,
                $"SELECT a.attname || '=' || pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum WHERE d.adrelid = '{table}'::regclass ORDER BY 1");
            Assert.Equal(["at=now()", "day=CURRENT_DATE", "id=0", "note='x'::text"], defaults);
        }

        Assert.Equal(["2"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, $"SELECT count(DISTINCT at)::text FROM {table}"));
    }

    [Fact]
    public async Task ColumnTypeChangeUsingTheClock_ConvertsEveryRowToOneValue()
    {
        (await proxy.PsqlAsync(_database, "CREATE TABLE tu (id int, stamp text); INSERT INTO tu SELECT generate_series(1, 20), 'old'")).EnsureSuccess();

        (await proxy.PsqlAsync(_database, "ALTER TABLE tu ALTER COLUMN stamp TYPE timestamptz USING clock_timestamp()")).EnsureSuccess();

        await AssertIdenticalAsync("tu");
    }

    [Fact]
    public async Task CreateTableAsWithTheClock_StoresTheSameRowsEverywhere_AndViewsKeepTheirQuery()
    {
        (await proxy.PsqlAsync(_database, "CREATE TABLE src (id int); INSERT INTO src SELECT generate_series(1, 20)")).EnsureSuccess();
        await using var connection = await proxy.OpenAsync(_database);

        await ExecuteAsync(connection, "CREATE TABLE snap AS SELECT id, now() AS taken, statement_timestamp() AS at FROM src");
        await ExecuteAsync(connection, "CREATE VIEW live AS SELECT id, now() AS seen FROM src");

        await AssertIdenticalAsync("snap");
        foreach (var node in proxy.Nodes)
        {
            Assert.Contains("now()", (await NodeSql.ReadColumnAsync(node, _database, "SELECT pg_get_viewdef('live')"))[0]);
        }
    }

    [Theory]
    [InlineData("ALTER TABLE rr ADD COLUMN token uuid DEFAULT gen_random_uuid()", "gen_random_uuid()")]
    [InlineData("CREATE TABLE rr2 AS SELECT id, random() AS r FROM rr", "random()")]
    public async Task PerRowRandomValuesInDdl_AreRefusedWithAClearError(string sql, string named)
    {
        (await proxy.PsqlAsync(_database, "CREATE TABLE IF NOT EXISTS rr (id int); INSERT INTO rr SELECT generate_series(1, 5)")).EnsureSuccess();

        var result = await proxy.PsqlAsync(_database, sql);

        Assert.False(result.Succeeded);
        Assert.Contains("pgpoolconsole refused the statement", result.StandardError);
        Assert.Contains(named, result.StandardError);
        Assert.Equal(["none", "none"], await TableOnEveryNodeAsync("rr2"));
        await NodeComparer.AssertAllTablesIdenticalAsync(proxy.Nodes, _database);
    }

    /// <summary>Parse, Bind and Execute of an unnamed statement and portal.</summary>
    private static byte[] ExecuteMessages(string sql) =>
    [
        .. RawClient.Message('P', RawClient.CString(""), RawClient.CString(sql), RawClient.Int16(0)),
        .. RawClient.Message('B', RawClient.CString(""), RawClient.CString(""), RawClient.Int16(0), RawClient.Int16(0), RawClient.Int16(0)),
        .. RawClient.Message('E', RawClient.CString(""), RawClient.Int32(0)),
    ];
}
