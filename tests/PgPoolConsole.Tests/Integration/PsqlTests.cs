using Npgsql;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

[Collection(ProxyCollection.Name)]
public sealed class PsqlTests(ProxyFixture proxy) : IAsyncLifetime
{
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("psql");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<ProcessResult> Run(params string[] sql) => proxy.PsqlAsync(_database, sql);

    [Fact]
    public async Task DdlAndDml_ThroughProxy_LeaveEveryNodeIdentical()
    {
        (await Run(
            "CREATE TABLE items (id int PRIMARY KEY, name text NOT NULL, qty int DEFAULT 0)",
            "INSERT INTO items VALUES (1, 'apple', 3), (2, 'pear', 5), (3, 'plum', 7)",
            "UPDATE items SET qty = qty * 10 WHERE id >= 2",
            "DELETE FROM items WHERE id = 1",
            "ALTER TABLE items ADD COLUMN note text",
            "UPDATE items SET note = 'n' || id")).EnsureSuccess();

        var rows = await NodeComparer.ReadTableAsync(proxy.Nodes[1], _database, "items", "id");
        Assert.Equal(["(2,pear,50,n2)", "(3,plum,70,n3)"], rows);
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "items", "id");
    }

    [Fact]
    public async Task MultiStatementQuery_RunsAsOneImplicitTransactionOnEveryNode()
    {
        (await Run("CREATE TABLE m (id int PRIMARY KEY)")).EnsureSuccess();

        var ok = await Run("INSERT INTO m VALUES (1); INSERT INTO m VALUES (2); SELECT count(*) FROM m");
        Assert.Equal(["INSERT 0 1", "INSERT 0 1", "2"], ok.EnsureSuccess().StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        // The second statement fails: the whole string rolls back, on every node.
        var failed = await Run("INSERT INTO m VALUES (3); INSERT INTO m VALUES (1)");
        Assert.False(failed.Succeeded);
        Assert.Contains("duplicate key value violates unique constraint", failed.StandardError);
        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(["(1)", "(2)"], await NodeComparer.ReadTableAsync(node, _database, "m", "id"));
        }
    }

    [Fact]
    public async Task ErrorInsideTransaction_AbortsItOnEveryNode_AndTheSessionGoesOn()
    {
        (await Run("CREATE TABLE e (id int PRIMARY KEY)")).EnsureSuccess();
        var script = """
            BEGIN;
            INSERT INTO e VALUES (1);
            SELECT 1/0;
            INSERT INTO e VALUES (2);
            COMMIT;
            INSERT INTO e VALUES (10);
            SELECT string_agg(id::text, ',' ORDER BY id) FROM e;
            """;
        var result = await Psql.RunAsync(proxy.PsqlOptions(_database) with { StandardInput = script }, ["--set=ON_ERROR_STOP=0", "-f", "-"]);

        Assert.Contains("division by zero", result.StandardError);
        Assert.Contains("current transaction is aborted", result.StandardError);
        Assert.Equal("10", result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1].Trim());
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "e", "id");
        Assert.Equal(["(10)"], await NodeComparer.ReadTableAsync(proxy.Nodes[0], _database, "e", "id"));
    }

    [Fact]
    public async Task ReadErrorInsideTransaction_OnTheLoadBalanceNode_AbortsTheTransactionEverywhere()
    {
        (await Run("CREATE TABLE r (id int)")).EnsureSuccess();
        // The failing SELECT goes to one node only; the others must not commit the INSERT either.
        var script = """
            BEGIN;
            SELECT * FROM does_not_exist;
            INSERT INTO r VALUES (1);
            COMMIT;
            """;
        var result = await Psql.RunAsync(proxy.PsqlOptions(_database) with { StandardInput = script }, ["--set=ON_ERROR_STOP=0", "-f", "-"]);

        Assert.Contains("does_not_exist", result.StandardError);
        foreach (var node in proxy.Nodes)
        {
            Assert.Empty(await NodeComparer.ReadTableAsync(node, _database, "r", "id"));
        }
    }

    [Fact]
    public async Task Savepoints_RollBackToSavepoint_KeepsTheRestOnEveryNode()
    {
        (await Run("CREATE TABLE s (id int PRIMARY KEY)")).EnsureSuccess();
        var script = """
            BEGIN;
            INSERT INTO s VALUES (1);
            SAVEPOINT a;
            INSERT INTO s VALUES (1);
            ROLLBACK TO SAVEPOINT a;
            INSERT INTO s VALUES (2);
            SAVEPOINT b;
            INSERT INTO s VALUES (3);
            RELEASE SAVEPOINT b;
            COMMIT;
            """;
        var result = await Psql.RunAsync(proxy.PsqlOptions(_database) with { StandardInput = script }, ["--set=ON_ERROR_STOP=0", "-f", "-"]);

        Assert.Contains("duplicate key", result.StandardError);
        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(["(1)", "(2)", "(3)"], await NodeComparer.ReadTableAsync(node, _database, "s", "id"));
        }
    }

    [Fact]
    public async Task CopyFromStdinAndToStdout_ThroughProxy()
    {
        (await Run("CREATE TABLE c (id int, name text)")).EnsureSuccess();
        var data = string.Concat(Enumerable.Range(1, 5000).Select(i => $"{i}\tname {i}\n"));
        var copyIn = await Psql.RunAsync(proxy.PsqlOptions(_database) with { StandardInput = data }, ["COPY c FROM STDIN"]);
        Assert.Equal("COPY 5000", copyIn.EnsureSuccess().StandardOutput.Trim());

        var copyOut = await Run("COPY (SELECT id, name FROM c WHERE id <= 3 ORDER BY id) TO STDOUT");
        Assert.Equal("1\tname 1\n2\tname 2\n3\tname 3\n", copyOut.EnsureSuccess().StandardOutput);
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "c", "id");
        Assert.Equal(5000, (await NodeComparer.ReadTableAsync(proxy.Nodes[1], _database, "c", "id")).Count);
    }

    [Fact]
    public async Task CopyWithBadData_FailsOnEveryNode_AndCopiesNothing()
    {
        (await Run("CREATE TABLE cb (id int)")).EnsureSuccess();
        var copyIn = await Psql.RunAsync(proxy.PsqlOptions(_database) with { StandardInput = "1\n2\nnot a number\n4\n" }, ["COPY cb FROM STDIN"]);

        Assert.False(copyIn.Succeeded);
        Assert.Contains("invalid input syntax for type integer", copyIn.StandardError);
        foreach (var node in proxy.Nodes)
        {
            Assert.Empty(await NodeComparer.ReadTableAsync(node, _database, "cb", "id"));
        }
    }

    [Fact]
    public async Task ShowPoolNodes_ListsEveryNodeWithPgpoolColumns()
    {
        var result = await Psql.RunAsync(proxy.PsqlOptions(_database), ["--pset=tuples_only=off", "--field-separator=|", "SHOW POOL_NODES"]);
        var lines = result.EnsureSuccess().StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);

        Assert.Equal("node_id|hostname|port|status|pg_status|lb_weight|role|pg_role|select_cnt|load_balance_node|replication_delay|replication_state|replication_sync_state|last_status_change", lines[0]);
        var node0 = lines[1].Split('|');
        Assert.Equal("0", node0[0]);
        Assert.Equal("127.0.0.1", node0[1]);
        Assert.Equal(proxy.Nodes[0].Port.ToString(System.Globalization.CultureInfo.InvariantCulture), node0[2]);
        Assert.Equal("up", node0[3]);
        Assert.Equal("0.500000", node0[5]);
        Assert.Equal("main", node0[6]);
        Assert.Equal("replica", lines[2].Split('|')[6]);
        Assert.Matches(@"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$", node0[13]);
    }

    [Fact]
    public async Task DropRenameAndCopyDatabase_CloseThePoolsIdleConnectionsToIt()
    {
        // dropdb right after using the database: its pooled backend connections must not block it.
        (await Run("CREATE TABLE t (id int)")).EnsureSuccess();
        await AssertPooled(_database);
        (await proxy.PsqlAsync("postgres", $"DROP DATABASE {_database}")).EnsureSuccess();

        // The same over the extended protocol (Npgsql), for a template, a rename and a drop.
        var template = await proxy.CreateDatabaseAsync("psql_template");
        (await proxy.PsqlAsync(template, "CREATE TABLE seeded (id int)", "INSERT INTO seeded VALUES (1)")).EnsureSuccess();
        await AssertPooled(template);
        await using (var connection = await proxy.OpenAsync("postgres"))
        {
            await using var copy = new NpgsqlCommand($"CREATE DATABASE {template}_copy TEMPLATE {template}", connection);
            await copy.ExecuteNonQueryAsync();
            (await proxy.PsqlAsync($"{template}_copy", "SELECT 1")).EnsureSuccess();
            await AssertPooled($"{template}_copy");
            await using var rename = new NpgsqlCommand($"ALTER DATABASE {template}_copy RENAME TO \"{template}_Renamed\"", connection);
            await rename.ExecuteNonQueryAsync();
            (await proxy.PsqlAsync($"{template}_Renamed", "SELECT 1")).EnsureSuccess();
            await AssertPooled($"{template}_Renamed");
            await using var drop = new NpgsqlCommand($"DROP DATABASE \"{template}_Renamed\"", connection);
            await drop.ExecuteNonQueryAsync();
        }

        foreach (var node in proxy.Nodes)
        {
            var databases = await NodeSql.ReadColumnAsync(node, "postgres", "SELECT datname FROM pg_database");
            Assert.DoesNotContain(_database, databases);
            Assert.DoesNotContain($"{template}_Renamed", databases);
            Assert.Contains(template, databases);
            Assert.Equal(["1"], await NodeSql.ReadColumnAsync(node, template, "SELECT id FROM seeded"));
        }
    }

    [Fact]
    public async Task SeedCommands_WithoutHost_ReachTheProxyThroughItsUnixSocket()
    {
        // The seed's "createdb -p 9999 bench_replication", "pgbench -i -p 9999 ..." and "psql -p 9999 ...":
        // without -h libpq connects to .s.PGSQL.<port> in its socket directory, here socket_dir (PGHOST).
        var database = $"unix_{_database}";
        var port = proxy.ProxyPort.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var environment = new Dictionary<string, string?> { ["PGHOST"] = proxy.Directory, ["PGUSER"] = "postgres" };
        (await ProcessRunner.RunAsync(PostgresBinaries.Get("createdb"), ["-p", port, database], environment)).EnsureSuccess();
        (await ProcessRunner.RunAsync(PostgresBinaries.Get("pgbench"), ["-i", "-p", port, database], environment, timeout: TimeSpan.FromMinutes(2))).EnsureSuccess();
        var pgbench = Pgbench.Parse(await ProcessRunner.RunAsync(PostgresBinaries.Get("pgbench"), ["-p", port, "-c", "4", "-t", "50", database], environment, timeout: TimeSpan.FromMinutes(2)));
        Assert.Equal(200, pgbench.TransactionsProcessed);

        // pgpool makes the socket 0777: another OS user (postgres; we run as root) gets in too.
        var count = await OsUser.RunAsPostgresAsync(PostgresBinaries.Get("psql"), ["-X", "-A", "-t", "-w", "-h", proxy.Directory, "-p", port, "-U", "postgres", "-d", database, "-c", "SELECT count(*) FROM pgbench_history"]);
        Assert.Equal("200\n", count.EnsureSuccess().StandardOutput);

        foreach (var (table, key) in new[] { ("pgbench_accounts", "aid"), ("pgbench_branches", "bid"), ("pgbench_tellers", "tid") })
        {
            await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, database, table, key);
        }

        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(["200"], await NodeSql.ReadColumnAsync(node, database, "SELECT count(*) FROM pgbench_history"));
        }
    }

    /// <summary>Waits for the exited client's backend connection to one node to reach the pool (the other may still be on its way).</summary>
    private Task AssertPooled(string database) =>
        Eventually.TrueAsync(
            () => proxy.Host.Proxy.Pool.Snapshot().Any(c => c.Key.Contains($"database={database}\0", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(10),
            $"connections to {database} are pooled");
}
