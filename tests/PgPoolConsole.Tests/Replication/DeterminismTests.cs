using Npgsql;
using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Replication;

/// <summary>Writes whose values a node would compute on its own (clocks, sequences, random) store the same data everywhere.</summary>
[Collection(ProxyCollection.Name)]
public sealed class DeterminismTests(ProxyFixture proxy) : IAsyncLifetime
{
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("determinism");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<NpgsqlConnection> OpenAsync() => proxy.OpenAsync(_database);

    private async Task ExecuteAsync(NpgsqlConnection connection, string sql, bool prepare = false)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        if (prepare)
        {
            await command.PrepareAsync();
        }

        await command.ExecuteNonQueryAsync();
    }

    private async Task ExecuteEachAsync(NpgsqlConnection connection, bool prepare, params string[] statements)
    {
        foreach (var sql in statements)
        {
            await ExecuteAsync(connection, sql, prepare);
        }
    }

    private async Task SetUpAsync(string ddl)
    {
        await using var connection = await OpenAsync();
        await ExecuteAsync(connection, ddl);
    }

    private Task AssertIdenticalAsync(string table) => NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, table, "1");

    private const string EveryTimeFunction =
        "now(), CURRENT_TIMESTAMP, CURRENT_TIMESTAMP(2), CURRENT_DATE, CURRENT_TIME, CURRENT_TIME(1), LOCALTIME, LOCALTIME(3), " +
        "LOCALTIMESTAMP, LOCALTIMESTAMP(0), transaction_timestamp(), statement_timestamp(), clock_timestamp(), 'now'::timestamptz, pg_catalog.now()";

    private const string TimeTable =
        "CREATE TABLE times (label text, a timestamptz, b timestamptz, c timestamptz, d date, e timetz, f timetz, g time, h time, " +
        "i timestamp, j timestamp, k timestamptz, l timestamptz, m timestamptz, n timestamptz, o timestamptz)";

    [Theory]
    [InlineData("simple")]
    [InlineData("extended")]
    [InlineData("prepared")]
    public async Task EveryTimeFunction_StoresTheSameValueOnEveryNode(string protocol)
    {
        await SetUpAsync(TimeTable);
        await using var connection = await OpenAsync();
        for (var i = 0; i < 5; i++)
        {
            var sql = $"INSERT INTO times VALUES ('{protocol}', {EveryTimeFunction})";
            if (protocol == "simple")
            {
                (await proxy.PsqlAsync(_database, sql)).EnsureSuccess();
            }
            else
            {
                await ExecuteAsync(connection, sql, prepare: protocol == "prepared");
            }

            await Task.Delay(10);
        }

        await AssertIdenticalAsync("times");
        var distinct = await NodeSql.ReadColumnAsync(proxy.Nodes[0], _database, "SELECT count(DISTINCT a)::text FROM times");
        Assert.Equal("5", distinct.Single()); // every execution got a fresh time
    }

    [Fact]
    public async Task NowInsideATransaction_IsTheTransactionsStartOnEveryNodeAndForEveryStatement()
    {
        await SetUpAsync("CREATE TABLE tx (n int, at timestamptz)");
        await using var connection = await OpenAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        await using (var first = new NpgsqlCommand("INSERT INTO tx VALUES (1, now())", connection, transaction))
        {
            await first.ExecuteNonQueryAsync();
        }

        await Task.Delay(50);
        await using (var second = new NpgsqlCommand("INSERT INTO tx VALUES (2, CURRENT_TIMESTAMP)", connection, transaction))
        {
            await second.ExecuteNonQueryAsync();
        }

        await using var read = new NpgsqlCommand("SELECT now() = (SELECT at FROM tx WHERE n = 1)", connection, transaction);
        Assert.Equal(true, await read.ExecuteScalarAsync());
        await transaction.CommitAsync();

        await AssertIdenticalAsync("tx");
        Assert.Equal(["1"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(DISTINCT at)::text FROM tx"));
    }

    /// <summary>
    /// A session whose transactions use the clock has it read together with BEGIN from its second
    /// transaction on (psql: each statement its own simple Query); one transaction without it in
    /// between makes the next read it on its own again. Every transaction stores its own start.
    /// </summary>
    [Fact]
    public async Task ConsecutiveTransactionsOfASession_EachStoreTheirOwnStart_SimpleProtocol()
    {
        await SetUpAsync("CREATE TABLE tc (n int, at timestamptz)");
        var statements = new List<string>();
        for (var n = 1; n <= 5; n++)
        {
            statements.AddRange(["BEGIN", "SELECT pg_sleep(0.02)", $"INSERT INTO tc VALUES ({n}, CURRENT_TIMESTAMP)", $"SELECT (SELECT at FROM tc WHERE n = {n}) = now()", "COMMIT"]);
            if (n == 3)
            {
                statements.AddRange(["BEGIN", "SELECT 1", "COMMIT"]);
            }
        }

        var result = await proxy.PsqlAsync(_database, [.. statements]);

        Assert.True(result.ExitCode == 0, result.Describe());
        var checks = result.StandardOutput.Split('\n').Where(line => line is "t" or "f").ToList();
        Assert.Equal(Enumerable.Repeat("t", 5), checks);
        await AssertIdenticalAsync("tc");
        Assert.Equal(["5"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(DISTINCT at)::text FROM tc"));
    }

    /// <summary>The same through Npgsql, which sends BEGIN in one extended-protocol batch with the first statement.</summary>
    [Fact]
    public async Task ConsecutiveTransactionsOfASession_EachStoreTheirOwnStart_ExtendedProtocol()
    {
        await SetUpAsync("CREATE TABLE te (n int, at timestamptz)");
        await using var connection = await OpenAsync();
        for (var n = 1; n <= 5; n++)
        {
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var sleep = new NpgsqlCommand("SELECT pg_sleep(0.02)", connection, transaction))
            {
                await sleep.ExecuteNonQueryAsync();
            }

            await using (var insert = new NpgsqlCommand($"INSERT INTO te VALUES ({n}, CURRENT_TIMESTAMP)", connection, transaction))
            {
                await insert.ExecuteNonQueryAsync();
            }

            await using (var check = new NpgsqlCommand($"SELECT (SELECT at FROM te WHERE n = {n}) = now()", connection, transaction))
            {
                Assert.Equal(true, await check.ExecuteScalarAsync());
            }

            await transaction.CommitAsync();
        }

        await AssertIdenticalAsync("te");
        Assert.Equal(["5"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(DISTINCT at)::text FROM te"));
    }

    /// <summary>
    /// One simple-protocol string that creates a table and fills it: the INSERT's defaults can
    /// only be looked up once the table exists, so the string runs statement by statement.
    /// </summary>
    [Fact]
    public async Task DdlThenInsertInOneQueryString_StoresTheSameDefaultsEverywhere()
    {
        var result = await proxy.PsqlAsync(_database,
            "CREATE TABLE dd (id int PRIMARY KEY, at timestamptz DEFAULT now(), token uuid DEFAULT gen_random_uuid()); INSERT INTO dd (id) VALUES (1), (2), (3)");

        Assert.True(result.ExitCode == 0, result.Describe());
        Assert.EndsWith("INSERT 0 3", result.StandardOutput.Trim());
        await AssertIdenticalAsync("dd");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task TimeAndRandomDefaults_AreGivenExplicitValues(bool prepared)
    {
        await SetUpAsync("CREATE TABLE d (id int, created timestamptz DEFAULT now(), day date DEFAULT current_date, token uuid DEFAULT gen_random_uuid(), note text DEFAULT 'x')");
        await using var connection = await OpenAsync();
        await ExecuteEachAsync(connection, prepared,
            "INSERT INTO d (id) VALUES (1), (2)",
            "INSERT INTO d VALUES (3)",
            "INSERT INTO d DEFAULT VALUES",
            "INSERT INTO d (id, created, day, token) VALUES (4, DEFAULT, DEFAULT, DEFAULT)",
            "UPDATE d SET created = DEFAULT WHERE id = 1");

        await AssertIdenticalAsync("d");
        Assert.Equal(["5"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(DISTINCT token)::text FROM d"));
    }

    /// <summary>
    /// A default that computes with the clock or a random value (an expiry a day ahead, a UTC
    /// timestamp, a short random code) stores what PostgreSQL itself would have stored, the same
    /// on every node. Before, the proxy put the bare clock or random value in its place: the day
    /// was lost, the local time stood for UTC, an int default failed to cast.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task DefaultExpressionsAroundClockAndRandom_KeepTheirMeaning(bool prepared)
    {
        await SetUpAsync("""
            CREATE TABLE ex (id int,
                expires timestamptz DEFAULT now() + interval '1 day',
                due date DEFAULT CURRENT_DATE + 7,
                year int DEFAULT extract(year FROM now()),
                utc timestamp DEFAULT (now() AT TIME ZONE 'utc'),
                code text DEFAULT substr(md5(random()::text), 1, 8),
                label text DEFAULT 'u-' || gen_random_uuid())
            """);
        await using var connection = await OpenAsync();
        await ExecuteAsync(connection, "SET TimeZone = 'America/New_York'");
        await ExecuteEachAsync(connection, prepared,
            "INSERT INTO ex (id) VALUES (1), (2)",
            "INSERT INTO ex VALUES (3)",
            "INSERT INTO ex DEFAULT VALUES",
            "INSERT INTO ex (id, expires, due, year, utc, code, label) VALUES (4, DEFAULT, DEFAULT, DEFAULT, DEFAULT, DEFAULT, DEFAULT)",
            "UPDATE ex SET expires = DEFAULT, utc = DEFAULT WHERE id = 1",
            "INSERT INTO ex (id, code, label) SELECT 5, 'c', 'l'");

        await AssertIdenticalAsync("ex");
        var wrong = await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, """
            SELECT count(*) FILTER (WHERE NOT (
                       expires BETWEEN now() + interval '1 day' - interval '5 minutes' AND now() + interval '1 day'
                       AND due = (now() AT TIME ZONE 'America/New_York')::date + 7
                       AND year = extract(year FROM now() AT TIME ZONE 'America/New_York')
                       AND utc BETWEEN (now() AT TIME ZONE 'utc') - interval '5 minutes' AND (now() AT TIME ZONE 'utc')
                       AND (code ~ '^[0-9a-f]{8}$' OR id = 5)
                       AND (label ~ '^u-[0-9a-f-]{36}$' OR id = 5)))::text || ' of ' || count(*) || ', codes ' || count(DISTINCT code)
            FROM ex
            """);
        Assert.Equal(["0 of 6, codes 6"], wrong);
    }

    /// <summary>
    /// INSERT ... SELECT * (and TABLE, and a query in parentheses) into a table with a clock
    /// default: when the source table tells how many columns the query fills, the default gets the
    /// main node's time; when nothing tells, the statement is refused. Before, SELECT * was always
    /// refused, and TABLE s or (SELECT * FROM s) left the default to each node.
    /// </summary>
    [Fact]
    public async Task InsertSelectStarOrTable_FillsTheClockDefaultItLeavesOut()
    {
        await SetUpAsync("""
            CREATE TABLE ev (id int, created timestamptz DEFAULT now());
            CREATE TABLE ids (id int);
            CREATE TABLE archive (id int, created timestamptz DEFAULT now(), archived timestamptz DEFAULT clock_timestamp());
            INSERT INTO ev (id) VALUES (1), (2);
            INSERT INTO ids VALUES (3);
            """);
        await using var connection = await OpenAsync();
        await ExecuteEachAsync(connection, false,
            "INSERT INTO archive SELECT * FROM ev",
            "INSERT INTO archive TABLE ids",
            "INSERT INTO archive (SELECT * FROM ids)",
            "INSERT INTO archive SELECT i.* FROM ids AS i WHERE id = 3 RETURNING id",
            "INSERT INTO archive (id) TABLE ids");
        var unknownWidth = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, "INSERT INTO archive SELECT * FROM ids, ev"));

        Assert.Equal("0A000", unknownWidth.SqlState);
        await AssertIdenticalAsync("archive");
        Assert.Equal(["6 rows, 0 without archived, 0 without created"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database,
            "SELECT count(*) || ' rows, ' || count(*) FILTER (WHERE archived IS NULL) || ' without archived, ' || count(*) FILTER (WHERE created IS NULL) || ' without created' FROM archive"));
    }

    /// <summary>
    /// MERGE that inserts rows (PostgreSQL 15): a clock default the INSERT action leaves out or
    /// sets to DEFAULT gets the main node's time, with or without a column list or as DEFAULT
    /// VALUES; a random default is refused. Before, every node computed them itself: different
    /// timestamps and, for a uuid key, different keys.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task MergeInsertingRows_GetsTheMainNodesTimeForClockDefaults_AndRefusesRandomOnes(bool prepared)
    {
        await SetUpAsync("""
            CREATE TABLE mt (id int, n int, created timestamptz DEFAULT now(), due date DEFAULT CURRENT_DATE + 1);
            CREATE TABLE ms (id int, n int);
            INSERT INTO ms VALUES (1, 10), (2, 20), (3, 30), (4, 40);
            CREATE TABLE mr (id int, token uuid DEFAULT gen_random_uuid());
            """);
        await using var connection = await OpenAsync();
        await ExecuteEachAsync(connection, prepared,
            "MERGE INTO mt USING ms ON mt.id = ms.id "
            + "WHEN NOT MATCHED AND ms.id = 1 THEN INSERT (id, n) VALUES (ms.id, ms.n) "
            + "WHEN NOT MATCHED AND ms.id = 2 THEN INSERT VALUES (ms.id, ms.n) "
            + "WHEN NOT MATCHED AND ms.id = 3 THEN INSERT (id, n, created, due) VALUES (ms.id, ms.n, DEFAULT, DEFAULT) "
            + "WHEN NOT MATCHED THEN INSERT DEFAULT VALUES",
            "MERGE INTO mt USING ms ON mt.id = ms.id WHEN MATCHED AND ms.id = 1 THEN UPDATE SET n = 11, created = DEFAULT");
        var random = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, "MERGE INTO mr USING ms ON mr.id = ms.id WHEN NOT MATCHED THEN INSERT (id) VALUES (ms.id)", prepared));

        Assert.Equal("0A000", random.SqlState);
        Assert.Contains("token", random.MessageText);
        await AssertIdenticalAsync("mt");
        Assert.Equal(["4 rows, 0 without created, 0 with another due"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database,
            "SELECT count(*) || ' rows, ' || count(*) FILTER (WHERE created IS NULL) || ' without created, ' || count(*) FILTER (WHERE due IS DISTINCT FROM CURRENT_DATE + 1) || ' with another due' FROM mt"));
    }

    /// <summary>
    /// An INSERT inside WITH (WITH ins AS (INSERT ... RETURNING id) SELECT ...) fills the clock
    /// defaults it leaves out like any INSERT, in the main statement's INSERT too. Before, each node
    /// computed them itself.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task InsertInsideWith_GetsTheMainNodesTimeForClockDefaults(bool prepared)
    {
        await SetUpAsync("CREATE TABLE w (id serial, v text, created timestamptz DEFAULT now()); CREATE TABLE wlog (wid int, at timestamptz DEFAULT clock_timestamp())");
        await using var connection = await OpenAsync();
        await ExecuteEachAsync(connection, prepared,
            "WITH ins AS (INSERT INTO w (v) VALUES ('a'), ('b') RETURNING id) SELECT count(*) FROM ins",
            "WITH ins AS MATERIALIZED (INSERT INTO w (v) SELECT 'c' RETURNING id) INSERT INTO wlog (wid) SELECT id FROM ins");

        await AssertIdenticalAsync("w");
        await AssertIdenticalAsync("wlog");
        Assert.Equal(["3 rows, 1 in the log"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database,
            "SELECT count(*) || ' rows, ' || (SELECT count(at) FROM wlog) || ' in the log' FROM w WHERE created IS NOT NULL"));
    }

    /// <summary>
    /// A random default from an extension installed in a schema off the search_path (Supabase's
    /// extensions.uuid_generate_v4()): pg_get_expr qualifies the call, and it is still given one
    /// generated value per row for every node; so is the call written in a VALUES list.
    /// </summary>
    [Fact]
    public async Task RandomDefaultFromAnExtensionInItsOwnSchema_IsTheSameEverywhere()
    {
        await SetUpAsync("""
            CREATE SCHEMA extensions;
            CREATE EXTENSION "uuid-ossp" SCHEMA extensions;
            CREATE TABLE ux (id int, token uuid DEFAULT extensions.uuid_generate_v4());
            """);
        (await proxy.PsqlAsync(_database, "INSERT INTO ux (id) VALUES (1), (2)")).EnsureSuccess();
        (await proxy.PsqlAsync(_database, "INSERT INTO ux VALUES (3, extensions.uuid_generate_v4())")).EnsureSuccess();

        await AssertIdenticalAsync("ux");
        Assert.Equal(["3"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(DISTINCT token)::text FROM ux"));
    }

    /// <summary>
    /// The clock value joins the query's own SELECT list, so untyped literals and NULLs still take
    /// the target columns' types as PostgreSQL gives them (in a wrapping subquery they would be text).
    /// </summary>
    [Fact]
    public async Task InsertSelectOfUntypedLiterals_LeavingAClockDefaultOut_KeepsTheirTypes()
    {
        await SetUpAsync("""
            CREATE TYPE mood AS ENUM ('ok', 'sad');
            CREATE TABLE typed (id int, u uuid, doc jsonb, m mood, created timestamptz DEFAULT now())
            """);
        (await proxy.PsqlAsync(
            _database,
            "INSERT INTO typed (id, u, doc, m) SELECT g, NULL, '{\"a\": 1}', 'ok' FROM generate_series(1, 3) g",
            "WITH s AS (SELECT 4 AS id) INSERT INTO typed (id, u, doc, m) SELECT id, 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', '[]', 'sad' FROM s ORDER BY 1 RETURNING id",
            "INSERT INTO typed (id, m) SELECT 5, 'ok'::mood UNION ALL SELECT 6, 'sad'")).EnsureSuccess();

        await AssertIdenticalAsync("typed");
        Assert.Equal(
            ["6|2|1"],
            await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(*) || '|' || count(DISTINCT m) || '|' || count(DISTINCT created) FILTER (WHERE id <= 3) FROM typed"));
    }

    [Fact]
    public async Task TimeDefault_InInsertSelectWithColumnList_IsTheSameEverywhere()
    {
        await SetUpAsync("CREATE TABLE s (id int, created timestamptz DEFAULT clock_timestamp())");
        (await proxy.PsqlAsync(_database, "INSERT INTO s (id) SELECT g FROM generate_series(1, 1000) g")).EnsureSuccess();

        await AssertIdenticalAsync("s");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task RandomAndUuidInValues_AreEvaluatedOnceForEveryNode(bool prepared)
    {
        await SetUpAsync("CREATE TABLE r (x float8, u uuid)");
        await using var connection = await OpenAsync();
        for (var i = 0; i < 3; i++)
        {
            await ExecuteAsync(connection, "INSERT INTO r VALUES (random(), gen_random_uuid()), (random(), gen_random_uuid())", prepared);
        }

        await AssertIdenticalAsync("r");
        Assert.Equal(["6"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(DISTINCT u)::text FROM r"));
    }

    /// <summary>
    /// pgcrypto's random values: a token default (encode(gen_random_bytes(n), 'hex')), a salt
    /// default, and crypt(password, gen_salt(type)) in VALUES get one proxy-generated value for
    /// every node; the salts are ones crypt() accepts.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task PgcryptoRandomBytesAndSalts_AreGeneratedOnceForEveryNode(bool prepared)
    {
        await SetUpAsync("""
            CREATE EXTENSION IF NOT EXISTS pgcrypto;
            CREATE TABLE accounts (name text, password text, token text DEFAULT encode(gen_random_bytes(16), 'hex'),
                salt text DEFAULT gen_salt('bf', 8), raw bytea DEFAULT gen_random_bytes(4))
            """);
        await using var connection = await OpenAsync();
        await ExecuteEachAsync(
            connection,
            prepared,
            "INSERT INTO accounts (name, password) VALUES ('bf', crypt('secret', gen_salt('bf'))), ('md5', crypt('secret', gen_salt('MD5')))",
            "INSERT INTO accounts (name, password) VALUES ('des', crypt('secret', gen_salt('des'))), ('xdes', crypt('secret', public.gen_salt('xdes'::text, 1001)))",
            "INSERT INTO accounts (name, password, raw) VALUES ('bytes', NULL, gen_random_bytes(32))");

        await AssertIdenticalAsync("accounts");
        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(
                ["bf|true|$2a$06$", "bytes||", "des|true|", "md5|true|$1$", "xdes|true|_"],
                await NodeSql.ReadColumnAsync(node, _database, "SELECT name || '|' || coalesce((password = crypt('secret', password))::text, '') || '|' || coalesce(substring(password from '^(\\$[0-9a-z]+\\$(?:[0-9]+\\$)?|_)'), '') FROM accounts ORDER BY name"));
        }

        Assert.Equal(
            ["4|4|4|4"],
            await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(DISTINCT token) || '|' || count(DISTINCT salt) || '|' || count(DISTINCT raw) || '|' || count(*) FILTER (WHERE salt LIKE '$2a$08$%' AND length(salt) = 29 AND length(raw) = 4) FROM accounts WHERE name <> 'bytes'"));
    }

    /// <summary>
    /// The backfill of a new column, UPDATE t SET token = gen_random_uuid(): each row's value is
    /// derived from the proxy's seed and the row's primary key, so it is the same on every node
    /// whatever order each node visits the rows in, and differs from row to row.
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task UpdateSettingRandomValuesPerRow_IsKeyedByThePrimaryKey(bool prepared)
    {
        await SetUpAsync("""
            CREATE TABLE backfill (a int, b text, u uuid, r float8, PRIMARY KEY (a, b));
            INSERT INTO backfill (a, b) SELECT g, 'k' || g FROM generate_series(1, 2000) g;
            """);
        // Node 1 alone rewrites some rows, so its rows lie in another physical order than node 0's.
        await proxy.Nodes[1].ExecuteAsync("UPDATE backfill SET b = b WHERE a % 3 = 0", _database);
        await using var connection = await OpenAsync();
        await ExecuteEachAsync(
            connection,
            prepared,
            "UPDATE backfill SET u = gen_random_uuid(), r = random()",
            "UPDATE public.backfill x SET u = gen_random_uuid() WHERE x.a <= 100",
            "UPDATE ONLY backfill AS y SET r = random() * 1000 WHERE y.b LIKE 'k1%'");

        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "backfill", "a");
        Assert.Equal(
            ["2000|2000|2000|true"],
            await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database,
                "SELECT count(DISTINCT u) || '|' || count(*) FILTER (WHERE u::text ~ '^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab]') || '|' || count(DISTINCT r) || '|' || (min(r) >= 0 AND max(r) <= 1000) FROM backfill"));
    }

    [Theory]
    [InlineData("UPDATE r SET x = random()", "random()")]
    [InlineData("UPDATE r SET u = gen_random_uuid() WHERE x = 1", "gen_random_uuid()")]
    [InlineData("UPDATE keyed SET u = (SELECT gen_random_uuid())", "gen_random_uuid()")]
    [InlineData("UPDATE keyed SET x = 1 WHERE random() < 0.5", "random()")]
    [InlineData("INSERT INTO r (x, s) SELECT 1, gen_salt('bf') FROM generate_series(1, 3)", "gen_salt()")]
    [InlineData("INSERT INTO r (x, s) VALUES (1, gen_salt('bf', 3))", "gen_salt()")]
    [InlineData("INSERT INTO r (x, s) VALUES (1, encode(gen_random_bytes(length('abc')), 'hex'))", "gen_random_bytes()")]
    [InlineData("UPDATE r SET s = encode(gen_random_bytes(16), 'hex')", "gen_random_bytes()")]
    [InlineData("INSERT INTO r SELECT random(), NULL FROM generate_series(1, 3)", "random()")]
    [InlineData("INSERT INTO r VALUES (pg_backend_pid(), NULL)", "pg_backend_pid()")]
    // Values that name the node itself, its files or its WAL (found storing each node's own value).
    [InlineData("INSERT INTO r (s) VALUES (current_setting('port'))", "current_setting('port')")]
    [InlineData("INSERT INTO r (s) SELECT pg_catalog.current_setting('Data_Directory', true)", "current_setting('Data_Directory')")]
    [InlineData("INSERT INTO r (s) VALUES (pg_postmaster_start_time()::text)", "pg_postmaster_start_time()")]
    [InlineData("INSERT INTO r (s) VALUES (pg_current_wal_lsn()::text)", "pg_current_wal_lsn()")]
    [InlineData("INSERT INTO r (x) VALUES (pg_database_size(current_database()))", "pg_database_size()")]
    [InlineData("INSERT INTO r (s) SELECT pg_read_file('postmaster.opts')", "pg_read_file()")]
    [InlineData("UPDATE r SET x = pg_stat_get_numscans('r'::regclass)", "pg_stat_get_numscans()")]
    [InlineData("INSERT INTO u2 (name) SELECT 'n' || g FROM generate_series(1, 3) g", "token")]
    [InlineData("DELETE FROM r a USING r b WHERE a.ctid < b.ctid AND a.x = b.x", "ctid")]
    public async Task PerRowRandomValues_AreRefusedWithAClearError(string sql, string named)
    {
        await SetUpAsync("CREATE EXTENSION IF NOT EXISTS pgcrypto; CREATE TABLE r (x float8, u uuid, s text); CREATE TABLE u2 (name text, token uuid DEFAULT gen_random_uuid()); CREATE TABLE keyed (id int PRIMARY KEY, x float8, u uuid)");
        var result = await proxy.PsqlAsync(_database, sql);

        Assert.False(result.Succeeded);
        Assert.Contains("pgpoolconsole refused the statement", result.StandardError);
        Assert.Contains(named, result.StandardError);
        await AssertIdenticalAsync("r");
        await AssertIdenticalAsync("u2");
    }

    /// <summary>
    /// A column default that gives each node its own value (an audit table's txid_current() or
    /// pg_backend_pid()): every way a row can take it is refused; a row that supplies the value
    /// is stored as it is.
    /// </summary>
    [Theory]
    [InlineData("INSERT INTO audit (id) VALUES (1)", "txid_current()")]
    [InlineData("INSERT INTO audit (id, xid) VALUES (1, 7)", "pg_backend_pid()")]
    [InlineData("INSERT INTO audit VALUES (1, 7, DEFAULT)", "pg_backend_pid()")]
    [InlineData("INSERT INTO audit DEFAULT VALUES", "txid_current()")]
    [InlineData("INSERT INTO audit (id) SELECT g FROM generate_series(1, 3) g", "txid_current()")]
    [InlineData("INSERT INTO audit SELECT 1, 2", "pg_backend_pid()")]
    [InlineData("UPDATE audit SET pid = DEFAULT", "pg_backend_pid()")]
    [InlineData("INSERT INTO audit (id, xid, pid) VALUES (1, 2, 3) ON CONFLICT (id) DO UPDATE SET xid = DEFAULT", "txid_current()")]
    [InlineData("MERGE INTO audit a USING (VALUES (9)) v (id) ON a.id = v.id WHEN NOT MATCHED THEN INSERT (id, xid) VALUES (v.id, 1)", "pg_backend_pid()")]
    [InlineData("COPY audit (id, xid) FROM STDIN;\n5\t6\n\\.", "pg_backend_pid()")]
    public async Task NodeSpecificColumnDefaults_AreRefusedWhereverARowWouldTakeThem(string sql, string named)
    {
        await SetUpAsync("CREATE TABLE audit (id int PRIMARY KEY, xid bigint DEFAULT txid_current(), pid int DEFAULT pg_backend_pid(), at timestamptz DEFAULT now()); INSERT INTO audit VALUES (100, 1, 1)");
        var result = await Integration.ProxyFixtureExtensions.ScriptAsync(proxy, _database, sql + "\n");

        Assert.Contains("pgpoolconsole refused the statement", result.StandardError);
        Assert.Contains($"would take its default, {named}, which gives each node its own value", result.StandardError);
        await AssertIdenticalAsync("audit");

        (await proxy.PsqlAsync(_database, "INSERT INTO audit (id, xid, pid) VALUES (1, 2, 3) ON CONFLICT (id) DO UPDATE SET at = DEFAULT")).EnsureSuccess();
        await AssertIdenticalAsync("audit");
        Assert.Equal(["1|2|3", "100|1|1"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT concat_ws('|', id, xid, pid) FROM audit ORDER BY id"));
    }

    [Fact]
    public async Task CurrentSettingOfASessionSetting_IsTheSameOnEveryNode_AndAllowed()
    {
        await SetUpAsync("CREATE TABLE r (x float8, s text)");
        var script = "SET app.tenant = 'acme';\nINSERT INTO r (s) VALUES (current_setting('app.tenant')), (current_setting('TimeZone'));\n";
        var result = await Integration.ProxyFixtureExtensions.ScriptAsync(proxy, _database, script);

        Assert.DoesNotContain("ERROR", result.StandardError, StringComparison.Ordinal);
        await AssertIdenticalAsync("r");
        Assert.Contains("acme", await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT s FROM r"));
    }

    [Fact]
    public async Task RefusalInsideATransaction_AbortsItOnEveryNode()
    {
        await SetUpAsync("CREATE TABLE r (x float8)");
        var script = "BEGIN;\nINSERT INTO r VALUES (1);\nUPDATE r SET x = random();\nCOMMIT;\n";
        var result = await Integration.ProxyFixtureExtensions.ScriptAsync(proxy, _database, script);

        Assert.Contains("refused", result.StandardError);
        foreach (var node in proxy.Nodes)
        {
            Assert.Empty(await NodeComparer.ReadTableAsync(node, _database, "r", "1"));
        }
    }

    [Theory]
    [InlineData("serial")]
    [InlineData("int GENERATED ALWAYS AS IDENTITY")]
    public async Task ConcurrentInsertsIntoASequenceColumn_GetTheSameIdsOnEveryNode(string idType)
    {
        await SetUpAsync($"CREATE TABLE q (id {idType} PRIMARY KEY, who text)");
        var clients = Enumerable.Range(0, 8).Select(async client =>
        {
            await using var connection = await OpenAsync();
            await using var insert = new NpgsqlCommand("INSERT INTO q (who) VALUES ($1)", connection);
            insert.Parameters.Add(new NpgsqlParameter<string>());
            for (var i = 0; i < 100; i++)
            {
                ((NpgsqlParameter<string>)insert.Parameters[0]).TypedValue = $"client {client} row {i}";
                await insert.ExecuteNonQueryAsync();
            }
        });
        await Task.WhenAll(clients);

        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "q", "id");
        Assert.Equal(800, (await NodeComparer.ReadTableAsync(proxy.Nodes[1], _database, "q", "id")).Count);
    }

    /// <summary>
    /// INSERT ... SELECT without a column list runs when the proxy can tell which columns the
    /// query fills (its SELECT list, or * over one table): a time default it leaves out gets the
    /// main node's time. A * over a join hides the width: refused.
    /// </summary>
    [Theory]
    [InlineData("INSERT INTO dst SELECT id, n, at FROM src", true)]
    [InlineData("INSERT INTO dst SELECT DISTINCT ON (id) id, n * 2, at FROM src ORDER BY id", true)]
    [InlineData("WITH moved AS (DELETE FROM src RETURNING *) INSERT INTO dst SELECT id + 10, n, at FROM moved", true)]
    [InlineData("INSERT INTO dst WITH s AS (SELECT * FROM src) SELECT s.id, s.n, s.at FROM s", true)]
    [InlineData("INSERT INTO dst SELECT id, n FROM src", true)]
    [InlineData("INSERT INTO dst SELECT * FROM src", true)]
    [InlineData("INSERT INTO dst SELECT src.* FROM src", true)]
    [InlineData("INSERT INTO dst SELECT * FROM src JOIN src AS s2 USING (id)", false)]
    public async Task InsertSelectWithoutAColumnList_RunsWhenItsSelectListFillsTheTimeDefault(string sql, bool runs)
    {
        await SetUpAsync("CREATE TABLE src (id int, n int, at timestamptz); INSERT INTO src VALUES (1, 1, '2020-01-01'), (2, 2, '2020-01-02'); " +
            "CREATE TABLE dst (id int, n int, at timestamptz DEFAULT now())");

        var result = await proxy.PsqlAsync(_database, sql);

        Assert.True(runs == result.Succeeded, result.Describe());
        if (!runs)
        {
            Assert.Contains("pgpoolconsole refused the statement", result.StandardError);
        }

        await AssertIdenticalAsync("dst");
        await AssertIdenticalAsync("src");
    }

    [Fact]
    public async Task ConcurrentCopiesIntoASequenceColumn_GetTheSameIdsOnEveryNode()
    {
        await SetUpAsync("CREATE TABLE cq (id serial PRIMARY KEY, who text)");
        var clients = Enumerable.Range(0, 4).Select(async client =>
        {
            await using var connection = await OpenAsync();
            for (var copy = 0; copy < 3; copy++)
            {
                await using var writer = await connection.BeginTextImportAsync("COPY cq (who) FROM STDIN");
                for (var i = 0; i < 2000; i++)
                {
                    await writer.WriteLineAsync($"client {client} copy {copy} row {i}");
                }
            }
        });
        await Task.WhenAll(clients);

        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "cq", "id");
        Assert.Equal(24000, (await NodeComparer.ReadTableAsync(proxy.Nodes[1], _database, "cq", "id")).Count);
    }

    /// <summary>
    /// COPY FROM STDIN that leaves clock defaults out (the everyday \copy of a CSV into a table with
    /// created_at DEFAULT now()): the proxy appends the main node's values to every row, in text
    /// and CSV, however the rows are quoted, escaped or ended; inside a transaction the value is
    /// the transaction's now(), as for its INSERTs.
    /// </summary>
    [Fact]
    public async Task CopyLeavingClockDefaultsOut_StoresTheMainNodesValuesInEveryRow()
    {
        await SetUpAsync("CREATE TABLE cd (id int, note text, created timestamptz DEFAULT now(), expires date DEFAULT CURRENT_DATE + 30)");
        var script = Path.Combine(Path.GetTempPath(), $"pgpc-copy-{Guid.NewGuid():N}.sql");
        await File.WriteAllTextAsync(script, """
            SET TimeZone = 'Asia/Kolkata';
            \copy cd (id, note) from stdin
            1	plain
            2	tab\there
            3	back\\slash
            \.
            COPY cd (id, note) FROM STDIN WITH (FORMAT csv, HEADER true);
            id,note
            4,"multi
            line"
            5,"quote "" and , comma"
            \.
            BEGIN;
            COPY cd (id, note) FROM STDIN (FORMAT csv, DELIMITER ';', QUOTE '''', ESCAPE '\');
            6;'it\'s'
            \.
            INSERT INTO cd (id, note) VALUES (7, 'insert');
            COMMIT;

            """);
        try
        {
            (await proxy.PsqlAsync(_database, "--file=" + script)).EnsureSuccess();
        }
        finally
        {
            File.Delete(script);
        }

        await using (var connection = await OpenAsync())
        {
            await using var writer = await connection.BeginTextImportAsync("COPY cd (id, note) FROM STDIN");
            await writer.WriteAsync("8\tcrlf\r\n9\tlast line without a line end");
        }

        await AssertIdenticalAsync("cd");
        Assert.Equal(
            ["1|plain", "2|tab\there", "3|back\\slash", "4|multi\nline", "5|quote \" and , comma", "6|it's", "7|insert", "8|crlf", "9|last line without a line end"],
            await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT id || '|' || note FROM cd ORDER BY id"));
        Assert.Equal(["1"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(DISTINCT created)::text FROM cd WHERE id IN (6, 7)"));
        Assert.Equal(["0"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database,
            // Rows 1-7 were written in Kolkata time, 8-9 in the server's: their CURRENT_DATE is the date of created there.
            "SELECT count(*)::text FROM cd WHERE expires <> (created AT TIME ZONE CASE WHEN id <= 7 THEN 'Asia/Kolkata' ELSE current_setting('TimeZone') END)::date + 30 " +
            "OR created NOT BETWEEN now() - interval '5 minutes' AND now()"));
    }

    /// <summary>What cannot be filled in stays refused with a clear error: a random default (a value per row), binary data, a file on the server.</summary>
    /// <summary>
    /// The common bulk load into a table keyed by gen_random_uuid(): COPY leaves the key out, and
    /// the proxy generates one per row (and a bare gen_random_bytes(n) default), the same on every node.
    /// </summary>
    [Fact]
    public async Task CopyLeavingRandomCallDefaultsOut_GetsAValuePerRowForEveryNode()
    {
        await SetUpAsync("""
            CREATE EXTENSION IF NOT EXISTS pgcrypto;
            CREATE TABLE ru (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), name text, salt bytea DEFAULT gen_random_bytes(8), created timestamptz DEFAULT now())
            """);
        var rows = string.Concat(Enumerable.Range(1, 500).Select(i => $"name {i}\n"));
        var script = Path.Combine(Path.GetTempPath(), $"pgpc-copy-{Guid.NewGuid():N}.sql");
        await File.WriteAllTextAsync(script, "\\copy ru (name) from stdin\npsql row\n\\.\n");
        try
        {
            (await proxy.PsqlAsync(_database, "--file=" + script)).EnsureSuccess();
        }
        finally
        {
            File.Delete(script);
        }

        await using (var connection = await OpenAsync())
        {
            await using (var writer = await connection.BeginTextImportAsync("COPY ru (name) FROM STDIN"))
            {
                await writer.WriteAsync(rows);
            }

            await using (var writer = await connection.BeginTextImportAsync("COPY ru (name, created) FROM STDIN (FORMAT csv)"))
            {
                await writer.WriteAsync("csv row,2020-01-01 00:00:00+00\n");
            }
        }

        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "ru", "name");
        Assert.Equal(
            ["502|502|502|1"],
            await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(DISTINCT id) || '|' || count(DISTINCT salt) || '|' || count(*) FILTER (WHERE length(salt) = 8) || '|' || count(DISTINCT created) FILTER (WHERE name LIKE 'name %') FROM ru"));
    }

    [Fact]
    public async Task CopyLeavingADefaultOutThatCannotBeFilled_IsRefused()
    {
        await SetUpAsync("CREATE TABLE rd (id int, token text DEFAULT md5(random()::text), created timestamptz DEFAULT now())");
        await using var connection = await OpenAsync();

        var random = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            await using var writer = await connection.BeginTextImportAsync("COPY rd (id, created) FROM STDIN");
            await writer.WriteLineAsync("1\t2020-01-01 00:00:00+00");
        });
        var binary = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            await using var importer = await connection.BeginBinaryImportAsync("COPY rd (id, token) FROM STDIN (FORMAT binary)");
            await importer.WriteRowAsync(default, 1, "token");
            await importer.CompleteAsync();
        });
        var file = await Assert.ThrowsAsync<PostgresException>(async () =>
        {
            await using var command = new NpgsqlCommand("COPY rd (id, token) FROM '/nonexistent.csv'", connection);
            await command.ExecuteNonQueryAsync();
        });
        await using (var writer = await connection.BeginTextImportAsync("COPY rd (id, token, created) FROM STDIN"))
        {
            await writer.WriteLineAsync("2\ttoken\t2020-01-01 00:00:00+00");
        }

        Assert.All(new[] { random, binary, file }, error => Assert.Equal("0A000", error.SqlState));
        Assert.Contains("token", random.MessageText);
        Assert.Contains("created", binary.MessageText);
        Assert.Contains("created", file.MessageText);
        await AssertIdenticalAsync("rd");
        Assert.Equal(["2"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT id::text FROM rd"));
    }

    /// <summary>
    /// A queue pop with SKIP LOCKED (UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)),
    /// from 8 workers at once: every node gives each job to the same worker. Before, a node that had
    /// not yet seen one worker's lock gave that job to another worker: same row counts, different data.
    /// </summary>
    [Fact]
    public async Task ConcurrentQueuePopsWithSkipLocked_GiveEveryJobToTheSameWorkerOnEveryNode()
    {
        await SetUpAsync("CREATE TABLE jobs (id int PRIMARY KEY, worker int); INSERT INTO jobs SELECT g, NULL FROM generate_series(1, 2000) g");
        var workers = Enumerable.Range(1, 8).Select(async worker =>
        {
            await using var connection = await OpenAsync();
            await using var pop = new NpgsqlCommand(
                "UPDATE jobs SET worker = $1 WHERE id = (SELECT id FROM jobs WHERE worker IS NULL ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id", connection);
            pop.Parameters.Add(new NpgsqlParameter<int> { TypedValue = worker });
            for (var i = 0; i < 150; i++)
            {
                Assert.NotNull(await pop.ExecuteScalarAsync());
            }
        });
        await Task.WhenAll(workers);

        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "jobs", "id");
        Assert.Equal(["1200"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(worker)::text FROM jobs"));
    }

    [Fact]
    public async Task ExplicitNextval_InConcurrentInserts_GivesTheSameIdsOnEveryNode()
    {
        await SetUpAsync("CREATE SEQUENCE ids; CREATE TABLE n (id bigint PRIMARY KEY, who text)");
        var clients = Enumerable.Range(0, 6).Select(async client =>
        {
            await using var connection = await OpenAsync();
            for (var i = 0; i < 50; i++)
            {
                await ExecuteAsync(connection, $"INSERT INTO n VALUES (nextval('ids'), 'client {client} row {i}')");
            }
        });
        await Task.WhenAll(clients);

        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "n", "id");
    }

    [Fact]
    public async Task SelectCallingAWritingFunction_RunsOnEveryNode()
    {
        await SetUpAsync("""
            CREATE TABLE f (n int);
            CREATE FUNCTION add_row(v int) RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO f VALUES (v) RETURNING v';
            CREATE FUNCTION count_rows() RETURNS bigint LANGUAGE sql STABLE AS 'SELECT count(*) FROM f';
            """);
        await using var connection = await OpenAsync();
        for (var i = 1; i <= 4; i++)
        {
            await using var call = new NpgsqlCommand($"SELECT add_row({i})", connection);
            Assert.Equal(i, await call.ExecuteScalarAsync());
        }

        await using var read = new NpgsqlCommand("SELECT count_rows()", connection);
        Assert.Equal(4L, await read.ExecuteScalarAsync());
        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(4, (await NodeComparer.ReadTableAsync(node, _database, "f", "1")).Count);
        }
    }

    private const string PreparedTable =
        "CREATE TABLE events (id serial PRIMARY KEY, v int, at timestamptz DEFAULT now(), token uuid DEFAULT gen_random_uuid(), doc oid)";

    [Fact]
    public async Task SqlPreparedWrites_GetTheProxysValuesAtEveryExecute()
    {
        await SetUpAsync(PreparedTable);

        (await proxy.PsqlAsync(_database,
            "PREPARE ins(int) AS INSERT INTO events (v) VALUES ($1)",
            "PREPARE \"Ins 2\" AS INSERT INTO events (v, at, doc) VALUES ($1::int, clock_timestamp(), lo_from_bytea(0, 'x'))",
            "EXECUTE ins(1)",
            "BEGIN",
            "EXECUTE ins(2)",
            "SELECT pg_sleep(0.02)",
            "EXECUTE \"Ins 2\"(3)",
            "COMMIT",
            "EXECUTE ins(4); EXECUTE \"Ins 2\" (5 + 0);",
            "DEALLOCATE ins",
            "PREPARE ins AS INSERT INTO events (v) VALUES (10 + $1)",
            "EXECUTE ins(6)",
            "PREPARE stamp AS UPDATE events SET at = now() WHERE v = 11; EXECUTE stamp")).EnsureSuccess();

        await AssertIdenticalAsync("events");
        var rows = await NodeComparer.ReadTableAsync(proxy.Nodes[0], _database, "events", "id");
        Assert.Equal(6, rows.Count);
        Assert.Contains(rows, r => r.Contains(",16,", StringComparison.Ordinal)); // the re-prepared ins
    }

    [Fact]
    public async Task SqlPreparedWrites_OverTheExtendedProtocol_GetTheProxysValuesAtEveryExecute()
    {
        await SetUpAsync(PreparedTable);
        await using var connection = await OpenAsync();
        await ExecuteAsync(connection, "PREPARE ins AS INSERT INTO events (v) VALUES ($1)");
        await ExecuteAsync(connection, "EXECUTE ins(1)");
        await ExecuteAsync(connection, "EXECUTE ins(now()::date - '2000-01-01')");

        for (var i = 0; i < 3; i++)
        {
            await ExecuteAsync(connection, "EXECUTE ins(7)");
        }

        // Prepared by the driver, the EXECUTE would repeat one execution's values: refused.
        var error = await Assert.ThrowsAsync<PostgresException>(() => ExecuteAsync(connection, "EXECUTE ins(8)", prepare: true));
        Assert.Contains("the driver must not prepare it", error.MessageText, StringComparison.Ordinal);

        await AssertIdenticalAsync("events");
        Assert.Equal(5, (await NodeComparer.ReadTableAsync(proxy.Nodes[1], _database, "events", "id")).Count);
    }

    [Fact]
    public async Task SqlPreparedWriteThatCannotBeMadeDeterministic_IsRefusedAtPrepare()
    {
        await SetUpAsync(PreparedTable);

        var result = await proxy.PsqlAsync(_database, "PREPARE bad AS INSERT INTO events (v, token) SELECT g, gen_random_uuid() FROM generate_series(1, 3) g");
        (await proxy.PsqlAsync(
            _database,
            "INSERT INTO events (v, token) SELECT g, NULL FROM generate_series(1, 50) g",
            "PREPARE keyed AS UPDATE events SET token = gen_random_uuid() WHERE v <= $1; EXECUTE keyed(10); EXECUTE keyed(50)")).EnsureSuccess();

        Assert.False(result.Succeeded);
        Assert.Contains("gen_random_uuid() would give every node a different value", result.StandardError, StringComparison.Ordinal);
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "events", "id");
        Assert.Equal(["50"], await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, "SELECT count(DISTINCT token)::text FROM events"));
    }

    [Fact]
    public async Task ConcurrentSqlPreparedInsertsIntoASerialColumn_GetTheSameIdsOnEveryNode()
    {
        await SetUpAsync(PreparedTable);
        var clients = Enumerable.Range(0, 6).Select(async client =>
        {
            var script = string.Join("\n", ["PREPARE ins(int) AS INSERT INTO events (v) VALUES ($1);", .. Enumerable.Range(0, 60).Select(i => $"EXECUTE ins({client * 1000 + i});")]);
            var file = Path.Combine(Path.GetTempPath(), $"prepared-{Guid.NewGuid():N}.sql");
            await File.WriteAllTextAsync(file, script);
            try
            {
                (await proxy.PsqlAsync(_database, $"--file={file}")).EnsureSuccess();
            }
            finally
            {
                File.Delete(file);
            }
        });
        await Task.WhenAll(clients);

        await AssertIdenticalAsync("events");
        Assert.Equal(360, (await NodeComparer.ReadTableAsync(proxy.Nodes[1], _database, "events", "id")).Count);
    }

    [Fact]
    public async Task WritesThatPickOrNumberRowsInScanOrder_TouchTheSameRowsOnEveryNode()
    {
        await SetUpAsync("""
            CREATE TABLE jobs (id int PRIMARY KEY, state text) WITH (fillfactor = 100);
            INSERT INTO jobs SELECT g, 'job ' || g FROM generate_series(1, 1000) g;
            CREATE TABLE archive (n serial PRIMARY KEY, state text);
            """);

        // Node 1 alone rewrites its first rows (same values): they move to the end of its heap,
        // so a scan there meets the rows in another order than on node 0.
        await proxy.Nodes[1].ExecuteAsync("UPDATE jobs SET state = state WHERE id <= 300", _database);

        (await proxy.PsqlAsync(_database,
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state LIKE 'job %' LIMIT 100)",
            "UPDATE jobs SET state = 'taken' WHERE id = (SELECT j.id FROM jobs j LIMIT 1 FOR UPDATE SKIP LOCKED)",
            "INSERT INTO archive (state) SELECT state FROM jobs WHERE state LIKE 'job %'")).EnsureSuccess();

        await AssertIdenticalAsync("jobs");
        await AssertIdenticalAsync("archive");
        Assert.Equal(899, (await NodeComparer.ReadTableAsync(proxy.Nodes[1], _database, "archive", "n")).Count);
    }

    [Fact]
    public async Task TriggersThatReadTheClock_AreNamedInOneWarning()
    {
        await SetUpAsync("""
            CREATE TABLE orders (id int PRIMARY KEY, note text, updated_at timestamptz, my_now_column int);
            CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
            CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.my_now_column := 1; RETURN NEW; END $$;
            CREATE TRIGGER orders_touch BEFORE INSERT OR UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch();
            CREATE TRIGGER orders_keep BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION keep();
            """);

        (await proxy.PsqlAsync(_database, "INSERT INTO orders (id, note) VALUES (1, 'a')", "UPDATE orders SET note = 'b' WHERE id = 1")).EnsureSuccess();
        await using (var connection = await OpenAsync())
        {
            await ExecuteAsync(connection, "UPDATE orders SET note = 'c' WHERE id = 1");
        }

        var warnings = proxy.Host.Store.Log.Query(text: $"table {_database}.");
        var warning = Assert.Single(warnings, e => e.Message.Contains("\"orders\"", StringComparison.Ordinal));
        Assert.Contains("has triggers that read the clock or a random value: orders_touch (touch())", warning.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("keep", warning.Message, StringComparison.Ordinal);
    }
}
