using Npgsql;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

/// <summary>pg_dump and pg_restore through the proxy, and answers larger than the proxy's capture buffer.</summary>
[Collection(ProxyCollection.Name)]
public sealed class DumpAndLargeResultTests(ProxyFixture proxy) : IAsyncLifetime
{
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("dump");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<ProcessResult> ClientAsync(string program, params string[] arguments) =>
        ProcessRunner.RunAsync(PostgresBinaries.Get(program), ["-h", "127.0.0.1", "-p", proxy.ProxyPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", "postgres", .. arguments],
            new Dictionary<string, string?> { ["PGPASSWORD"] = null, ["PGOPTIONS"] = null, ["PGSSLMODE"] = "disable" }, timeout: TimeSpan.FromMinutes(2));

    [Fact]
    public async Task LargeAnswersOfStatementsSentToEveryNode_ArriveWhole()
    {
        (await proxy.PsqlAsync(_database, "CREATE TABLE big (id int PRIMARY KEY, pad text)")).EnsureSuccess();

        // A write's answer: 20,000 rows of RETURNING, about 2.5 MB (the capture buffer holds 256 kB).
        var inserted = await proxy.PsqlAsync(_database, "INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g RETURNING id, pad");
        inserted.EnsureSuccess();
        Assert.Equal(20000, inserted.StandardOutput.Split('\n').Count(line => line.EndsWith("|" + new string('x', 100), StringComparison.Ordinal)));

        await using (var connection = await proxy.OpenAsync(_database))
        await using (var update = new NpgsqlCommand("UPDATE big SET pad = pad || 'y' RETURNING id, pad", connection))
        await using (var reader = await update.ExecuteReaderAsync())
        {
            var ids = new HashSet<int>();
            while (await reader.ReadAsync())
            {
                Assert.EndsWith("xy", reader.GetString(1), StringComparison.Ordinal);
                ids.Add(reader.GetInt32(0));
            }

            Assert.Equal(20000, ids.Count);
        }

        // Reads in a REPEATABLE READ transaction that may write go to every node (same snapshot on each).
        var read = await proxy.PsqlAsync(_database, "BEGIN ISOLATION LEVEL REPEATABLE READ", "SELECT id, pad FROM big", "COPY big TO STDOUT", "COMMIT");
        read.EnsureSuccess();
        Assert.Equal(40000, read.StandardOutput.Split('\n').Count(line => line.EndsWith('y')));
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "big", "id");
    }

    [Fact]
    public async Task ExtendedBatchOfLargeReturningWrites_EveryRowOfEveryStatementArrives()
    {
        (await proxy.PsqlAsync(_database, "CREATE TABLE wide (id int PRIMARY KEY, pad text)")).EnsureSuccess();
        await using var connection = await proxy.OpenAsync(_database);
        await using var batch = new NpgsqlBatch(connection)
        {
            BatchCommands =
            {
                new("INSERT INTO wide SELECT g, repeat('a', 120) FROM generate_series(1, 10000) g RETURNING id, pad"),
                new("INSERT INTO wide SELECT g, repeat('b', 120) FROM generate_series(10001, 20000) g RETURNING id, pad"),
                new("SELECT count(*) FROM wide"),
            },
        };

        await using var reader = await batch.ExecuteReaderAsync();
        foreach (var letter in new[] { 'a', 'b' })
        {
            var rows = 0;
            while (await reader.ReadAsync())
            {
                Assert.Equal(new string(letter, 120), reader.GetString(1));
                rows++;
            }

            Assert.Equal(10000, rows);
            Assert.True(await reader.NextResultAsync());
        }

        Assert.True(await reader.ReadAsync());
        Assert.Equal(20000L, reader.GetInt64(0));
        await reader.DisposeAsync();
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "wide", "id");
    }

    [Fact]
    public async Task PgDumpThroughTheProxy_RestoresThroughTheProxy_IntoIdenticalNodes()
    {
        (await proxy.PsqlAsync(_database,
            "CREATE TABLE item (id serial PRIMARY KEY, name text NOT NULL, made timestamptz DEFAULT now(), price numeric(10,2))",
            "CREATE TABLE line (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, item_id int REFERENCES item, qty int)",
            "INSERT INTO item (name, price) SELECT 'item ' || i, i * 1.5 FROM generate_series(1, 3000) i",
            "INSERT INTO line (item_id, qty) SELECT (i % 3000) + 1, i FROM generate_series(1, 9000) i",
            "CREATE VIEW totals AS SELECT item_id, sum(qty) FROM line GROUP BY 1",
            "COMMENT ON TABLE item IS 'things we sell'")).EnsureSuccess();
        var plain = await ClientAsync("pg_dump", "--no-owner", _database);
        Assert.True(plain.Succeeded, plain.Describe());
        var custom = Path.Combine(proxy.Directory, $"{_database}.dump");
        var archive = await ClientAsync("pg_dump", "-Fc", "-f", custom, _database);
        Assert.True(archive.Succeeded, archive.Describe());

        var fromPlain = await proxy.CreateDatabaseAsync("restoredplain");
        var restore = await Psql.RunAsync(proxy.PsqlOptions(fromPlain) with { StandardInput = plain.StandardOutput }, ["-f", "-"]);
        Assert.True(restore.Succeeded, restore.Describe());
        var fromCustom = await proxy.CreateDatabaseAsync("restoredcustom");
        var restored = await ClientAsync("pg_restore", "--no-owner", "-d", fromCustom, custom);
        Assert.True(restored.Succeeded, restored.Describe());

        // Parallel: the workers import the leader's snapshot, which exists on the node it read from.
        var directory = Path.Combine(proxy.Directory, $"{_database}.dir");
        var parallel = await ClientAsync("pg_dump", "-j", "2", "-Fd", "-f", directory, _database);
        Assert.True(parallel.Succeeded, parallel.Describe());
        var fromParallel = await proxy.CreateDatabaseAsync("restoredparallel");
        var parallelRestore = await ClientAsync("pg_restore", "--no-owner", "-j", "2", "-d", fromParallel, directory);
        Assert.True(parallelRestore.Succeeded, parallelRestore.Describe());

        foreach (var database in new[] { fromPlain, fromCustom, fromParallel })
        {
            await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, database, "item", "id");
            await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, database, "line", "id");
            Assert.Equal(await NodeComparer.ReadTableAsync(proxy.Nodes[0], _database, "item", "id"), await NodeComparer.ReadTableAsync(proxy.Nodes[1], database, "item", "id"));
            foreach (var node in proxy.Nodes)
            {
                // setval in the dump ran on every node: the next ids continue from the same place.
                Assert.Equal(["3000", "9000", "things we sell"], await NodeSql.ReadColumnAsync(node, database,
                    "SELECT last_value::text FROM item_id_seq UNION ALL SELECT last_value::text FROM line_id_seq UNION ALL SELECT obj_description('item'::regclass)"));
            }
        }
    }
}
