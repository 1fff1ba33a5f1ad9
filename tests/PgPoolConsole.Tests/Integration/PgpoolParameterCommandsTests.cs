using Npgsql;

namespace PgPoolConsole.Tests.Integration;

/// <summary>PGPOOL SHOW, SET and RESET through the proxy, answered as pgpool-II 4.3 answers them.</summary>
[Collection(ProxyCollection.Name)]
public sealed class PgpoolParameterCommandsTests(ProxyFixture proxy)
{
    // psql, as pgpool-II's users run them: like pgpool-II, the proxy answers PGPOOL commands sent with
    // the simple query protocol; Npgsql's extended protocol would send them on to PostgreSQL.
    private async Task<string[]> RunAsync(params string[] commands) =>
        (await proxy.PsqlAsync("postgres", commands)).EnsureSuccess().StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public async Task Set_ChangesOnlyThisSession_ResetAndDefaultGoBackToPgpoolConf()
    {
        var session = await RunAsync(
            "PGPOOL SET client_idle_limit = 350",
            "PGPOOL SHOW client_idle_limit",
            "PGPOOL SET client_idle_limit TO '10min'",
            "PGPOOL SHOW client_idle_limit",
            "PGPOOL SET client_idle_limit TO DEFAULT",
            "PGPOOL SHOW client_idle_limit",
            "PGPOOL SET log_statement = on",
            "PGPOOL SET log_min_messages TO ERROR",
            "PGPOOL SHOW log_statement",
            "PGPOOL RESET log_statement",
            "PGPOOL SHOW log_statement",
            "PGPOOL SHOW log_min_messages",
            "PGPOOL RESET ALL",
            "PGPOOL SHOW log_min_messages");
        var other = (await RunAsync("PGPOOL SET client_idle_limit = 350", "\\c", "PGPOOL SHOW client_idle_limit"))
            .Where(line => !line.StartsWith("You are now connected", StringComparison.Ordinal));

        // pgpool-II's tags: RESET of one parameter answers SET, RESET ALL answers RESET.
        Assert.Equal(["SET", "350", "SET", "600", "SET", "0", "SET", "SET", "on", "SET", "off", "error", "RESET", "warning"], session);
        Assert.Equal(["SET", "0"], other);
    }

    [Fact]
    public async Task ClientIdleLimit_SetByOneSession_EndsOnlyThatSession()
    {
        await using var bystander = await proxy.OpenAsync("postgres");

        var limited = await proxy.PsqlAsync("postgres", "PGPOOL SET client_idle_limit = 1", "\\! sleep 2.5", "SELECT 1");

        Assert.NotEqual(0, limited.ExitCode);
        Assert.Contains("client_idle_limit (1 s)", limited.StandardError, StringComparison.Ordinal);
        await using var command = new NpgsqlCommand("SELECT 2", bystander);
        Assert.Equal(2, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task ClientMinMessagesLog_SendsTheSessionsStatementLinesToItsClient_AsPgpoolDoes()
    {
        var database = await proxy.CreateDatabaseAsync("lines");
        (await proxy.PsqlAsync(database, "CREATE TABLE t (id int)")).EnsureSuccess();

        var result = await proxy.PsqlAsync(
            database,
            "PGPOOL SET client_min_messages = log",
            "PGPOOL SET log_per_node_statement = on",
            "INSERT INTO t VALUES (7)",
            "PGPOOL SET log_statement TO on",
            "SELECT 42");
        var quiet = await proxy.PsqlAsync(database, "SET client_min_messages = log", "INSERT INTO t VALUES (8)");

        var lines = result.EnsureSuccess().StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        for (var node = 0; node < proxy.Nodes.Count; node++)
        {
            Assert.Contains(lines, l => l.StartsWith($"LOG:  DB node id: {node} backend pid: ", StringComparison.Ordinal) && l.EndsWith(" statement: INSERT INTO t VALUES (7)", StringComparison.Ordinal));
        }

        Assert.Contains("LOG:  statement: SELECT 42", lines);
        Assert.DoesNotContain("LOG:  statement: INSERT INTO t VALUES (7)", lines); // log_statement was still off
        Assert.DoesNotContain("LOG:", quiet.EnsureSuccess().StandardError, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("PGPOOL SET nonexistent = 1", "42704", "unrecognized configuration parameter \"nonexistent\"")]
    [InlineData("PGPOOL RESET nonexistent", "42704", "unrecognized configuration parameter \"nonexistent\"")]
    [InlineData("PGPOOL SHOW nonexistent", "42704", "config variable \"nonexistent\" not found")]
    [InlineData("PGPOOL SHOW backend_weight9", "42704", "config variable \"backend_weight9\" not found")]
    [InlineData("PGPOOL SET load_balance_mode = off", "55P02", "parameter \"load_balance_mode\" cannot be changed for a session; change it in pgpool.conf and restart")]
    [InlineData("PGPOOL SET backend_weight0 = 3", "55P02", "parameter \"backend_weight0\" cannot be changed for a session; change it in pgpool.conf and reload")]
    [InlineData("PGPOOL SET client_idle_limit = 'abc'", "22023", "invalid value for parameter \"client_idle_limit\": \"abc\"")]
    [InlineData("PGPOOL SET client_idle_limit = -1", "22023", "invalid value for parameter \"client_idle_limit\": \"-1\"")]
    [InlineData("PGPOOL SET log_statement = maybe", "22023", "invalid value for parameter \"log_statement\": \"maybe\"")]
    [InlineData("PGPOOL SET allow_sql_comments = on", "0A000", "parameter \"allow_sql_comments\" has no effect in pgpoolconsole")]
    [InlineData("PGPOOL SET client_idle_limit", "42601", "expected PGPOOL SET name { TO | = } { value | 'value' | DEFAULT }")]
    [InlineData("PGPOOL SET client_idle_limit = 1 2", "42601", "expected PGPOOL SET name")]
    [InlineData("PGPOOL SHOW", "42601", "expected PGPOOL SHOW { name | ALL }")]
    [InlineData("PGPOOL RESET", "42601", "expected PGPOOL RESET { name | ALL }")]
    public async Task BadCommands_AreRefusedNamingTheProblem_AndTheSessionGoesOn(string sql, string sqlState, string message)
    {
        var result = await proxy.PsqlAsync("postgres", "--set=ON_ERROR_STOP=0", "--set=VERBOSITY=verbose", sql, "PGPOOL SHOW client_idle_limit");

        var error = result.StandardError.Split('\n').Single(l => l.StartsWith("ERROR:", StringComparison.Ordinal));
        Assert.StartsWith($"ERROR:  {sqlState}: ", error, StringComparison.Ordinal);
        Assert.Contains(message, error, StringComparison.Ordinal);
        Assert.Equal("0", result.StandardOutput.Trim());
    }

    [Fact]
    public async Task Show_PerNodeParametersAndGroups_ListItemValueAndDescription_LikePgpool()
    {
        var nodes = proxy.Nodes.Count;

        var weights = await ShowRowsAsync("PGPOOL SHOW backend_weight");
        var period = await ShowRowsAsync("PGPOOL SHOW health_check_period");
        var backend = await ShowRowsAsync("PGPOOL SHOW backend");
        var healthCheck = await ShowRowsAsync("PGPOOL SHOW health_check");
        var all = await ShowRowsAsync("PGPOOL SHOW ALL");

        Assert.Equal(Enumerable.Range(0, nodes).Select(n => $"backend_weight{n}"), weights.Select(r => r[0]));
        Assert.Equal(["health_check_period", .. Enumerable.Range(0, nodes).Select(n => $"health_check_period{n}")], period.Select(r => r[0]));
        Assert.Equal($"{proxy.Nodes[1].Port}", backend.Single(r => r[0] == "backend_port1")[1]);
        Assert.Equal(6 * nodes, backend.Count);
        Assert.Equal(7 * (nodes + 1), healthCheck.Count);
        Assert.All(all, row => Assert.Equal(3, row.Length));
        Assert.Contains(all, r => r[0] == "client_idle_limit" && r[1] == "0");
        Assert.Equal($"{proxy.Nodes[0].Port}", (await proxy.PsqlAsync("postgres", "PGPOOL SHOW backend_port0")).EnsureSuccess().StandardOutput.Trim());
    }

    private async Task<List<string[]>> ShowRowsAsync(string sql)
    {
        var result = await proxy.PsqlAsync("postgres", "--field-separator=|", sql);
        return [.. result.EnsureSuccess().StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('|'))];
    }

    [Fact]
    public async Task ShowCommands_OverTheExtendedProtocol_AnswerWithTheirRows()
    {
        await using var connection = await proxy.OpenAsync("postgres");

        var nodes = await ReadAsync(connection, "SHOW pool_nodes");
        var weights = await ReadAsync(connection, "PGPOOL SHOW backend_weight");
        var limit = await ReadAsync(connection, "PGPOOL SHOW client_idle_limit");
        var backend = await ReadAsync(connection, "PGPOOL SHOW backend");

        Assert.Equal(["node_id", "hostname", "port", "status", "pg_status", "lb_weight", "role", "pg_role", "select_cnt", "load_balance_node", "replication_delay", "replication_state", "replication_sync_state", "last_status_change"], nodes.Columns);
        Assert.Equal(Enumerable.Range(0, proxy.Nodes.Count).Select(n => proxy.Nodes[n].Port.ToString(System.Globalization.CultureInfo.InvariantCulture)), nodes.Rows.Select(r => r[2]));
        Assert.Equal(["item", "value", "description"], weights.Columns);
        Assert.Equal(["backend_weight0", "backend_weight1"], weights.Rows.Select(r => r[0]));
        Assert.Equal([["0"]], limit.Rows);
        Assert.Contains(backend.Rows, r => r[0] == "backend_application_name0" && r[2] == "application_name of the node's WAL receiver (streaming replication status only)");
    }

    [Theory]
    [InlineData("PGPOOL SET client_idle_limit = 5", false, "0A000", "PGPOOL SET and PGPOOL RESET need the simple query protocol")]
    [InlineData("PGPOOL SHOW nonexistent", false, "42704", "config variable \"nonexistent\" not found")]
    [InlineData("SHOW pool_cache", false, "0A000", "SHOW POOL_CACHE: the query cache is not part of pgpoolconsole")]
    [InlineData("SHOW pool_nodes", true, "0A000", "pgpool's SHOW commands cannot be prepared as a named statement")]
    public async Task PoolCommands_OverTheExtendedProtocol_ThatCannotRunThere_AreRefusedByName(string sql, bool prepare, string sqlState, string message)
    {
        await using var connection = await proxy.OpenAsync("postgres");
        await using var command = new NpgsqlCommand(sql, connection);

        var error = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            if (prepare)
            {
                await command.PrepareAsync();
            }

            await command.ExecuteNonQueryAsync();
        });

        Assert.Equal(sqlState, error.SqlState);
        Assert.StartsWith(message, error.MessageText, StringComparison.Ordinal);
        await using var next = new NpgsqlCommand("SELECT 1", connection);
        Assert.Equal(1, await next.ExecuteScalarAsync());
    }

    private static async Task<(List<string> Columns, List<string?[]> Rows)> ReadAsync(NpgsqlConnection connection, string sql)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var columns = Enumerable.Range(0, reader.FieldCount).Select(reader.GetName).ToList();
        var rows = new List<string?[]>();
        while (await reader.ReadAsync())
        {
            rows.Add([.. Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? null : reader.GetString(i))]);
        }

        return (columns, rows);
    }
}
