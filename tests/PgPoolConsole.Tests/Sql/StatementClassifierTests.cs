using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Tests.Sql;

public sealed class StatementClassifierTests
{
    private static StatementInfo One(string sql) => Assert.Single(StatementClassifier.ClassifyAll(sql));

    [Theory]
    [InlineData("UPDATE pgbench_accounts SET abalance = abalance + 1 WHERE aid = 2;", StatementKind.Update, "pgbench_accounts")]
    [InlineData("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (1, 1, 1, 1, CURRENT_TIMESTAMP);", StatementKind.Insert, "pgbench_history")]
    [InlineData("UPDATE pgbench_tellers SET tbalance = tbalance + -4018 WHERE tid = 7;", StatementKind.Update, "pgbench_tellers")]
    public void Classify_PgbenchWrites_GoToEveryNode(string sql, StatementKind kind, string table)
    {
        var info = One(sql);

        Assert.Equal(kind, info.Kind);
        Assert.False(info.IsReadOnly);
        Assert.Equal(new QualifiedName(null, table), info.TargetTable);
        Assert.Empty(info.FunctionCalls);
        Assert.False(info.HasReturning);
    }

    [Theory]
    [InlineData("UPDATE jobs SET worker = 1 WHERE id = (SELECT id FROM jobs LIMIT 1 FOR UPDATE SKIP LOCKED)", true)]
    [InlineData("WITH next AS (SELECT id FROM jobs LIMIT 1 FOR UPDATE SKIP LOCKED) DELETE FROM jobs USING next WHERE jobs.id = next.id", true)]
    [InlineData("WITH popped AS (DELETE FROM jobs WHERE id IN (SELECT id FROM jobs FOR UPDATE SKIP LOCKED) RETURNING *) SELECT * FROM popped", true)]
    [InlineData("SELECT id FROM jobs LIMIT 1 FOR UPDATE SKIP LOCKED", false)]
    [InlineData("UPDATE jobs SET worker = 1 WHERE id = (SELECT id FROM jobs LIMIT 1 FOR UPDATE NOWAIT)", false)]
    [InlineData("UPDATE jobs SET skip = 1, locked = 2", false)]
    public void Classify_ChangesRowsSkippingLocked(string sql, bool expected)
    {
        Assert.Equal(expected, One(sql).ChangesRowsSkippingLocked);
    }

    [Fact]
    public void Classify_PgbenchSelect_IsReadOnly()
    {
        var info = One("SELECT abalance FROM pgbench_accounts WHERE aid = 3;");

        Assert.Equal(StatementKind.Select, info.Kind);
        Assert.True(info.IsReadOnly);
        Assert.Null(info.TargetTable);
        Assert.Empty(info.FunctionCalls);
        Assert.Equal(0, info.Start);
        Assert.Equal("SELECT abalance FROM pgbench_accounts WHERE aid = 3".Length, info.Length);
    }

    [Theory]
    [InlineData("BEGIN;", TransactionCommand.Begin)]
    [InlineData("END;", TransactionCommand.Commit)]
    public void Classify_PgbenchTransaction(string sql, TransactionCommand command)
    {
        var info = One(sql);

        Assert.Equal(StatementKind.Transaction, info.Kind);
        Assert.Equal(command, info.Transaction);
        Assert.False(info.IsReadOnly);
    }

    [Fact]
    public void ClassifyAll_PgbenchInitialization()
    {
        const string sql = """
            drop table if exists pgbench_accounts, pgbench_branches, pgbench_history, pgbench_tellers;
            create table pgbench_accounts(aid    int not null,bid int,abalance int,filler char(84)) with (fillfactor=100);
            copy pgbench_accounts from stdin with (freeze on);
            alter table pgbench_accounts add primary key (aid);
            vacuum analyze pgbench_accounts;
            """;

        var infos = StatementClassifier.ClassifyAll(sql);

        Assert.Equal([StatementKind.Ddl, StatementKind.Ddl, StatementKind.CopyFrom, StatementKind.Ddl, StatementKind.Vacuum], infos.Select(i => i.Kind));
        Assert.All(infos, i => Assert.False(i.IsReadOnly));
        Assert.All(infos, i => Assert.Empty(i.FunctionCalls));
        Assert.Equal(new QualifiedName(null, "pgbench_accounts"), infos[2].TargetTable);
        Assert.Equal([false, false, false, false, true], infos.Select(i => i.CannotRunInTransactionBlock));
    }

    [Theory]
    [InlineData("SELECT 1")]
    [InlineData("select now(), nextval('s')")]
    [InlineData("VALUES (1), (2)")]
    [InlineData("TABLE t")]
    [InlineData("(SELECT 1) UNION (SELECT 2)")]
    [InlineData("((VALUES (1)))")]
    [InlineData("WITH x AS (SELECT 1) SELECT * FROM x")]
    [InlineData("WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r) SELECT * FROM r")]
    [InlineData("WITH x AS MATERIALIZED (SELECT 1), y AS NOT MATERIALIZED (SELECT 2) (SELECT * FROM x, y)")]
    [InlineData("SELECT * FROM t FOR READ ONLY")]
    [InlineData("SELECT t.update, \"delete\" FROM t")]
    [InlineData("SHOW search_path")]
    [InlineData("SHOW ALL")]
    [InlineData("EXPLAIN SELECT 1")]
    [InlineData("EXPLAIN DELETE FROM t")]
    [InlineData("EXPLAIN VERBOSE INSERT INTO t VALUES (1)")]
    [InlineData("EXPLAIN (ANALYZE false) UPDATE t SET a = 1")]
    [InlineData("EXPLAIN (ANALYZE off, VERBOSE) UPDATE t SET a = 1")]
    [InlineData("EXPLAIN (ANALYZE '0') UPDATE t SET a = 1")]
    [InlineData("EXPLAIN (COSTS OFF) SELECT * FROM t FOR UPDATE")]
    [InlineData("EXPLAIN ANALYZE SELECT 1")]
    [InlineData("EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM t")]
    [InlineData("EXPLAIN (SELECT 1)")]
    [InlineData("EXPLAIN ANALYZE (SELECT 1)")]
    [InlineData("COPY t TO STDOUT")]
    [InlineData("COPY t (a, b) TO '/tmp/file' (FORMAT csv)")]
    [InlineData("COPY (SELECT * FROM t) TO STDOUT WITH CSV")]
    [InlineData("COPY ((SELECT 1)) TO STDOUT")]
    public void Classify_ReadOnlyStatements(string sql)
    {
        Assert.True(One(sql).IsReadOnly, sql);
    }

    [Theory]
    [InlineData("SELECT * INTO new_t FROM t")]
    [InlineData("SELECT a INTO TEMP b FROM t")]
    [InlineData("SELECT 1 FROM t FOR UPDATE")]
    [InlineData("SELECT 1 FROM t FOR NO KEY UPDATE")]
    [InlineData("SELECT 1 FROM t FOR SHARE")]
    [InlineData("SELECT 1 FROM t FOR KEY SHARE NOWAIT")]
    [InlineData("SELECT * FROM (SELECT * FROM t FOR UPDATE) s")]
    [InlineData("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d")]
    [InlineData("WITH u AS (UPDATE t SET a = 1 RETURNING *) SELECT * FROM u")]
    [InlineData("WITH i AS (INSERT INTO t VALUES (1) RETURNING *) SELECT * FROM i")]
    [InlineData("WITH a AS (SELECT 1), b AS (WITH c AS (DELETE FROM t RETURNING 1) SELECT * FROM c) SELECT * FROM b")]
    [InlineData("WITH x AS (SELECT 1) INSERT INTO t SELECT * FROM x")]
    [InlineData("INSERT INTO t VALUES (1)")]
    [InlineData("UPDATE t SET a = 1")]
    [InlineData("DELETE FROM t")]
    [InlineData("MERGE INTO t USING s ON t.id = s.id WHEN MATCHED THEN DELETE")]
    [InlineData("EXPLAIN ANALYZE DELETE FROM t")]
    [InlineData("EXPLAIN ANALYSE VERBOSE UPDATE t SET a = 1")]
    [InlineData("EXPLAIN (ANALYZE) INSERT INTO t VALUES (1)")]
    [InlineData("EXPLAIN (FORMAT JSON, ANALYZE true) DELETE FROM t")]
    [InlineData("EXPLAIN (ANALYZE on) SELECT * FROM t FOR UPDATE")]
    [InlineData("EXPLAIN ANALYZE SELECT * INTO x FROM t")]
    [InlineData("EXPLAIN ANALYZE CREATE TABLE x AS SELECT 1")]
    [InlineData("COPY t FROM STDIN")]
    [InlineData("COPY (INSERT INTO t VALUES (1) RETURNING *) TO STDOUT")]
    [InlineData("COPY (SELECT * FROM t FOR UPDATE) TO STDOUT")]
    [InlineData("FETCH 10 FROM c")]
    [InlineData("MOVE NEXT IN c")]
    [InlineData("CLOSE c")]
    [InlineData("DECLARE c CURSOR FOR SELECT 1")]
    [InlineData("SET search_path = s")]
    [InlineData("PREPARE p AS SELECT 1")]
    [InlineData("EXECUTE p")]
    [InlineData("LISTEN ch")]
    [InlineData("NOTIFY ch")]
    [InlineData("LOCK t")]
    [InlineData("CALL p()")]
    [InlineData("DO $$ BEGIN END $$")]
    [InlineData("CREATE TABLE t (a int)")]
    [InlineData("VACUUM")]
    [InlineData("ANALYZE t")]
    [InlineData("frobnicate the database")]
    [InlineData("'just a string'")]
    [InlineData("SELECT 'unterminated")]
    public void Classify_StatementsThatMustGoToEveryNode(string sql)
    {
        Assert.False(One(sql).IsReadOnly, sql);
    }

    [Theory]
    [InlineData("SELECT 1 FROM t FOR UPDATE", true)]
    [InlineData("SELECT 1 FROM t WHERE a IN (SELECT a FROM u FOR SHARE)", true)]
    [InlineData("INSERT INTO t SELECT * FROM u FOR KEY SHARE", true)]
    [InlineData("DECLARE c CURSOR WITH HOLD FOR SELECT 1", true)]
    [InlineData("SELECT substring('abc' FROM 1 FOR 2)", false)]
    [InlineData("CREATE POLICY p ON t FOR UPDATE USING (true)", false)]
    public void Classify_IsWithHoldOrForUpdate(string sql, bool expected)
    {
        Assert.Equal(expected, One(sql).IsWithHoldOrForUpdate);
    }

    [Theory]
    [InlineData("WITH x AS (SELECT 1) INSERT INTO s.t SELECT * FROM x", StatementKind.Insert, "s", "t")]
    [InlineData("WITH x AS (SELECT 1) UPDATE ONLY t SET a = 1", StatementKind.Update, null, "t")]
    [InlineData("WITH x AS (SELECT 1) DELETE FROM ONLY t", StatementKind.Delete, null, "t")]
    [InlineData("WITH x AS (SELECT 1) MERGE INTO t USING x ON true WHEN MATCHED THEN DELETE", StatementKind.Merge, null, "t")]
    [InlineData("WITH RECURSIVE t(id) AS (SELECT 1 UNION ALL SELECT id FROM t) CYCLE id SET c USING p DELETE FROM u", StatementKind.Delete, null, "u")]
    [InlineData("WITH RECURSIVE t(id) AS (SELECT 1) SEARCH DEPTH FIRST BY id SET ord SELECT * FROM t", StatementKind.Select, null, null)]
    public void Classify_WithClause_TakesTheKindOfTheMainStatement(string sql, StatementKind kind, string? schema, string? table)
    {
        var info = One(sql);

        Assert.Equal(kind, info.Kind);
        Assert.Equal(table is null ? null : new QualifiedName(schema, table), info.TargetTable);
    }

    [Theory]
    [InlineData("INSERT INTO t VALUES (1) RETURNING id", true)]
    [InlineData("UPDATE t SET a = 1 RETURNING *", true)]
    [InlineData("DELETE FROM t RETURNING a, b", true)]
    [InlineData("WITH d AS (DELETE FROM t RETURNING *) INSERT INTO u SELECT * FROM d", false)]
    [InlineData("INSERT INTO t SELECT * FROM (SELECT 1) s", false)]
    public void Classify_HasReturning_OnlyForTheMainStatement(string sql, bool expected)
    {
        Assert.Equal(expected, One(sql).HasReturning);
    }

    [Theory]
    [InlineData("INSERT INTO t VALUES (1)", null, "t")]
    [InlineData("INSERT INTO Public.MyTable VALUES (1)", "public", "mytable")]
    [InlineData("INSERT INTO \"Public\".\"My\"\"Table\" VALUES (1)", "Public", "My\"Table")]
    [InlineData("INSERT INTO db.s.t VALUES (1)", "s", "t")]
    [InlineData("INSERT INTO U&\"d\\0061t\\+000061\" VALUES (1)", null, "data")]
    [InlineData("INSERT INTO U&\"d!0061t\" UESCAPE '!' VALUES (1)", null, "dat")]
    [InlineData("UPDATE ONLY s.t SET a = 1", "s", "t")]
    [InlineData("DELETE FROM \"T\" WHERE true", null, "T")]
    [InlineData("MERGE INTO ONLY t USING s ON true WHEN MATCHED THEN DELETE", null, "t")]
    [InlineData("COPY BINARY s.t FROM STDIN", "s", "t")]
    [InlineData("COPY t (a) TO STDOUT", null, "t")]
    [InlineData("TRUNCATE TABLE ONLY s.t, u", "s", "t")]
    [InlineData("TRUNCATE t", null, "t")]
    [InlineData("LOCK TABLE ONLY t, u IN SHARE MODE", null, "t")]
    [InlineData("LOCK s.t", "s", "t")]
    [InlineData("INSERT INTO café VALUES (1)", null, "café")]
    public void Classify_TargetTable_ResolvesNamesLikePostgres(string sql, string? schema, string name)
    {
        Assert.Equal(new QualifiedName(schema, name), One(sql).TargetTable);
    }

    [Fact]
    public void Classify_TargetTable_TruncatesLongNamesTo63Bytes()
    {
        var info = One($"INSERT INTO {new string('a', 70)} VALUES (1)");

        Assert.Equal(new string('a', 63), info.TargetTable?.Name);
    }

    [Fact]
    public void Classify_TargetTable_TruncatesWithoutSplittingCharacters()
    {
        var info = One($"INSERT INTO \"{new string('é', 40)}\" VALUES (1)");

        Assert.Equal(new string('é', 31), info.TargetTable?.Name);
    }

    [Theory]
    [InlineData("COPY (SELECT 1) TO STDOUT")]
    [InlineData("SELECT * FROM t")]
    [InlineData("CREATE TABLE t (a int)")]
    public void Classify_TargetTable_IsNullWithoutATarget(string sql)
    {
        Assert.Null(One(sql).TargetTable);
    }

    [Theory]
    [InlineData("COPY t FROM STDIN", StatementKind.CopyFrom)]
    [InlineData("COPY t FROM '/tmp/x'", StatementKind.CopyFrom)]
    [InlineData("COPY t FROM PROGRAM 'cat x'", StatementKind.CopyFrom)]
    [InlineData("copy pgbench_accounts from stdin with (freeze on)", StatementKind.CopyFrom)]
    [InlineData("COPY t TO STDOUT", StatementKind.CopyTo)]
    [InlineData("COPY t TO PROGRAM 'gzip'", StatementKind.CopyTo)]
    [InlineData("COPY (VALUES (1)) TO STDOUT", StatementKind.CopyTo)]
    public void Classify_CopyDirection(string sql, StatementKind kind)
    {
        Assert.Equal(kind, One(sql).Kind);
    }

    [Theory]
    [InlineData("BEGIN", TransactionCommand.Begin, SqlIsolationLevel.Default)]
    [InlineData("begin work", TransactionCommand.Begin, SqlIsolationLevel.Default)]
    [InlineData("BEGIN TRANSACTION READ ONLY", TransactionCommand.Begin, SqlIsolationLevel.Default)]
    [InlineData("BEGIN ISOLATION LEVEL SERIALIZABLE", TransactionCommand.Begin, SqlIsolationLevel.Serializable)]
    [InlineData("BEGIN READ WRITE, ISOLATION LEVEL REPEATABLE READ", TransactionCommand.Begin, SqlIsolationLevel.RepeatableRead)]
    [InlineData("BEGIN ISOLATION LEVEL READ COMMITTED", TransactionCommand.Begin, SqlIsolationLevel.ReadCommitted)]
    [InlineData("BEGIN ISOLATION LEVEL READ UNCOMMITTED", TransactionCommand.Begin, SqlIsolationLevel.ReadUncommitted)]
    [InlineData("START TRANSACTION", TransactionCommand.Begin, SqlIsolationLevel.Default)]
    [InlineData("START TRANSACTION ISOLATION LEVEL SERIALIZABLE, DEFERRABLE", TransactionCommand.Begin, SqlIsolationLevel.Serializable)]
    [InlineData("COMMIT", TransactionCommand.Commit, SqlIsolationLevel.Default)]
    [InlineData("COMMIT WORK AND NO CHAIN", TransactionCommand.Commit, SqlIsolationLevel.Default)]
    [InlineData("END TRANSACTION", TransactionCommand.Commit, SqlIsolationLevel.Default)]
    [InlineData("ROLLBACK", TransactionCommand.Rollback, SqlIsolationLevel.Default)]
    [InlineData("ROLLBACK AND CHAIN", TransactionCommand.Rollback, SqlIsolationLevel.Default)]
    [InlineData("ABORT WORK", TransactionCommand.Rollback, SqlIsolationLevel.Default)]
    [InlineData("SAVEPOINT sp", TransactionCommand.Savepoint, SqlIsolationLevel.Default)]
    [InlineData("RELEASE sp", TransactionCommand.Release, SqlIsolationLevel.Default)]
    [InlineData("RELEASE SAVEPOINT sp", TransactionCommand.Release, SqlIsolationLevel.Default)]
    [InlineData("ROLLBACK TO sp", TransactionCommand.RollbackToSavepoint, SqlIsolationLevel.Default)]
    [InlineData("ROLLBACK WORK TO SAVEPOINT sp", TransactionCommand.RollbackToSavepoint, SqlIsolationLevel.Default)]
    [InlineData("ROLLBACK TRANSACTION TO sp", TransactionCommand.RollbackToSavepoint, SqlIsolationLevel.Default)]
    [InlineData("PREPARE TRANSACTION 'gid'", TransactionCommand.PrepareTransaction, SqlIsolationLevel.Default)]
    [InlineData("COMMIT PREPARED 'gid'", TransactionCommand.CommitPrepared, SqlIsolationLevel.Default)]
    [InlineData("ROLLBACK PREPARED 'gid'", TransactionCommand.RollbackPrepared, SqlIsolationLevel.Default)]
    public void Classify_TransactionCommands(string sql, TransactionCommand command, SqlIsolationLevel level)
    {
        var info = One(sql);

        Assert.Equal(StatementKind.Transaction, info.Kind);
        Assert.Equal(command, info.Transaction);
        Assert.Equal(level, info.BeginIsolationLevel);
        Assert.False(info.IsReadOnly);
        Assert.False(info.ChangesSessionState);
        Assert.Equal(command is TransactionCommand.CommitPrepared or TransactionCommand.RollbackPrepared, info.CannotRunInTransactionBlock);
    }

    [Theory]
    [InlineData("BEGIN READ ONLY", true)]
    [InlineData("BEGIN ISOLATION LEVEL SERIALIZABLE, READ ONLY, DEFERRABLE", true)]
    [InlineData("START TRANSACTION READ WRITE", false)]
    [InlineData("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", true)] // pg_dump
    [InlineData("SET TRANSACTION READ ONLY", true)]
    [InlineData("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", null)]
    [InlineData("BEGIN ISOLATION LEVEL READ COMMITTED", null)]
    [InlineData("begin isolation level read uncommitted read write", false)]
    [InlineData("BEGIN", null)]
    [InlineData("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", null)] // later transactions, not this one
    public void Classify_TransactionAccessMode(string sql, bool? readOnly)
    {
        Assert.Equal(readOnly, One(sql).TransactionReadOnly);
    }

    [Theory]
    [InlineData("SET TRANSACTION SNAPSHOT '00000003-0000001B-1'", "00000003-0000001B-1")]
    [InlineData("set transaction snapshot '00000004-00000002-1'", "00000004-00000002-1")]
    [InlineData("SET TRANSACTION READ ONLY", null)]
    [InlineData("SET search_path = 'snapshot'", null)]
    public void Classify_SetTransactionSnapshot_NamesTheImportedSnapshot(string sql, string? snapshot)
    {
        Assert.Equal(snapshot, One(sql).ImportedSnapshot);
    }

    [Theory]
    [InlineData("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", SqlIsolationLevel.Serializable)]
    [InlineData("SET default_transaction_isolation = 'repeatable read'", SqlIsolationLevel.RepeatableRead)]
    [InlineData("SET SESSION default_transaction_isolation TO serializable", SqlIsolationLevel.Serializable)]
    [InlineData("set default_transaction_isolation to 'read committed'", SqlIsolationLevel.ReadCommitted)]
    [InlineData("SET default_transaction_isolation = DEFAULT", SqlIsolationLevel.Default)]
    [InlineData("RESET default_transaction_isolation", SqlIsolationLevel.Default)]
    [InlineData("RESET ALL", SqlIsolationLevel.Default)]
    [InlineData("DISCARD ALL", SqlIsolationLevel.Default)]
    [InlineData("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", null)]
    [InlineData("SET work_mem = '8MB'", null)]
    [InlineData("RESET work_mem", null)]
    [InlineData("RESET SESSION AUTHORIZATION", null)]
    public void Classify_SessionDefaultIsolation(string sql, SqlIsolationLevel? level)
    {
        Assert.Equal(level, One(sql).SessionIsolationLevel);
    }

    [Theory]
    [InlineData("PREPARE p AS SELECT 1")]
    [InlineData("PREPARE p (int, text) AS INSERT INTO t VALUES ($1, $2)")]
    [InlineData("PREPARE transaction AS SELECT 1")]
    public void Classify_PrepareStatement_IsNotTransactionControl(string sql)
    {
        var info = One(sql);

        Assert.Equal(StatementKind.Prepare, info.Kind);
        Assert.Equal(TransactionCommand.None, info.Transaction);
        Assert.True(info.ChangesSessionState);
    }

    [Theory]
    [InlineData("SET search_path TO s", true, SqlIsolationLevel.Default)]
    [InlineData("SET SESSION work_mem = '1MB'", true, SqlIsolationLevel.Default)]
    [InlineData("SET TIME ZONE 'UTC'", true, SqlIsolationLevel.Default)]
    [InlineData("SET ROLE admin", true, SqlIsolationLevel.Default)]
    [InlineData("SET SESSION AUTHORIZATION bob", true, SqlIsolationLevel.Default)]
    [InlineData("SET SESSION CHARACTERISTICS AS TRANSACTION ISOLATION LEVEL SERIALIZABLE", true, SqlIsolationLevel.Serializable)]
    [InlineData("SET LOCAL work_mem = '1MB'", false, SqlIsolationLevel.Default)]
    [InlineData("SET LOCAL ROLE admin", false, SqlIsolationLevel.Default)]
    [InlineData("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ", false, SqlIsolationLevel.RepeatableRead)]
    [InlineData("SET TRANSACTION READ ONLY", false, SqlIsolationLevel.Default)]
    [InlineData("SET CONSTRAINTS ALL DEFERRED", false, SqlIsolationLevel.Default)]
    public void Classify_Set(string sql, bool changesSession, SqlIsolationLevel level)
    {
        var info = One(sql);

        Assert.Equal(StatementKind.Set, info.Kind);
        Assert.Equal(changesSession, info.ChangesSessionState);
        Assert.Equal(level, info.BeginIsolationLevel);
        Assert.False(info.IsReadOnly);
    }

    [Theory]
    [InlineData("RESET ALL", StatementKind.Reset)]
    [InlineData("RESET search_path", StatementKind.Reset)]
    [InlineData("LISTEN ch", StatementKind.Listen)]
    [InlineData("UNLISTEN *", StatementKind.Unlisten)]
    [InlineData("DEALLOCATE ALL", StatementKind.Deallocate)]
    [InlineData("DEALLOCATE PREPARE p", StatementKind.Deallocate)]
    [InlineData("DISCARD TEMP", StatementKind.Discard)]
    [InlineData("DISCARD ALL", StatementKind.Discard)]
    [InlineData("LOAD 'auto_explain'", StatementKind.Other)]
    [InlineData("DECLARE c CURSOR WITH HOLD FOR SELECT 1", StatementKind.Declare)]
    [InlineData("CREATE TEMP TABLE t (a int)", StatementKind.Ddl)]
    public void Classify_SessionStateChanges(string sql, StatementKind kind)
    {
        var info = One(sql);

        Assert.Equal(kind, info.Kind);
        Assert.True(info.ChangesSessionState);
        Assert.False(info.IsReadOnly);
    }

    [Theory]
    [InlineData("NOTIFY ch, 'x'", StatementKind.Notify)]
    [InlineData("DECLARE c CURSOR FOR SELECT 1", StatementKind.Declare)]
    [InlineData("DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1", StatementKind.Declare)]
    [InlineData("EXECUTE p(1)", StatementKind.Execute)]
    [InlineData("FETCH ALL FROM c", StatementKind.Fetch)]
    [InlineData("CLOSE ALL", StatementKind.ClosePortal)]
    [InlineData("CREATE UNLOGGED TABLE t (a int)", StatementKind.Ddl)]
    [InlineData("CREATE TABLE t (a int)", StatementKind.Ddl)]
    public void Classify_NoLastingSessionState(string sql, StatementKind kind)
    {
        var info = One(sql);

        Assert.Equal(kind, info.Kind);
        Assert.False(info.ChangesSessionState);
    }

    [Theory]
    [InlineData("DECLARE c CURSOR WITH HOLD FOR SELECT 1", true)]
    [InlineData("DECLARE c BINARY INSENSITIVE NO SCROLL CURSOR WITH HOLD FOR SELECT 1", true)]
    [InlineData("DECLARE c CURSOR WITHOUT HOLD FOR SELECT 1", false)]
    [InlineData("DECLARE c CURSOR FOR SELECT * FROM t WITH x", false)]
    public void Classify_HoldableCursor(string sql, bool holdable)
    {
        var info = One(sql);

        Assert.Equal(holdable, info.IsHoldableCursor);
        Assert.Equal(holdable, info.ChangesSessionState);
    }

    [Theory]
    [InlineData("CREATE TEMP TABLE t (a int)")]
    [InlineData("CREATE TEMPORARY TABLE t AS SELECT 1")]
    [InlineData("CREATE LOCAL TEMP TABLE t (a int)")]
    [InlineData("CREATE GLOBAL TEMPORARY TABLE t (a int)")]
    [InlineData("CREATE TEMP VIEW v AS SELECT 1")]
    [InlineData("CREATE OR REPLACE TEMP RECURSIVE VIEW v (n) AS SELECT 1")]
    [InlineData("CREATE TEMP SEQUENCE s")]
    [InlineData("CREATE TABLE pg_temp.t (a int)")]
    [InlineData("CREATE TABLE IF NOT EXISTS pg_temp.t (a int)")]
    [InlineData("CREATE FUNCTION pg_temp.f() RETURNS int AS 'SELECT 1' LANGUAGE sql")]
    [InlineData("SELECT 1 INTO TEMP t")]
    [InlineData("SELECT 1 INTO TEMPORARY TABLE t")]
    [InlineData("SELECT 1 INTO pg_temp.t")]
    public void Classify_TemporaryObjects(string sql)
    {
        var info = One(sql);

        Assert.True(info.CreatesTemporaryObject);
        Assert.True(info.ChangesSessionState);
        Assert.False(info.IsReadOnly);
    }

    [Theory]
    [InlineData("CREATE UNLOGGED TABLE t (a int)")]
    [InlineData("CREATE TABLE temp (a int)")]
    [InlineData("SELECT 1 INTO t")]
    [InlineData("CREATE MATERIALIZED VIEW mv AS SELECT 1")]
    public void Classify_PersistentObjects_AreNotTemporary(string sql)
    {
        Assert.False(One(sql).CreatesTemporaryObject);
    }

    [Theory]
    [InlineData("VACUUM")]
    [InlineData("VACUUM FULL t")]
    [InlineData("VACUUM (VERBOSE, ANALYZE) t")]
    [InlineData("vacuum analyze pgbench_branches")]
    [InlineData("CREATE DATABASE db")]
    [InlineData("DROP DATABASE db")]
    [InlineData("DROP DATABASE IF EXISTS db WITH (FORCE)")]
    [InlineData("CREATE TABLESPACE ts LOCATION '/x'")]
    [InlineData("DROP TABLESPACE ts")]
    [InlineData("CREATE INDEX CONCURRENTLY i ON t (a)")]
    [InlineData("CREATE UNIQUE INDEX CONCURRENTLY ON t (a)")]
    [InlineData("DROP INDEX CONCURRENTLY i")]
    [InlineData("REINDEX TABLE CONCURRENTLY t")]
    [InlineData("REINDEX (VERBOSE) INDEX CONCURRENTLY i")]
    [InlineData("REINDEX SYSTEM db")]
    [InlineData("REINDEX DATABASE db")]
    [InlineData("REINDEX SCHEMA s")]
    [InlineData("ALTER SYSTEM SET work_mem = '1MB'")]
    [InlineData("ALTER DATABASE db SET TABLESPACE ts")]
    [InlineData("ALTER TABLE p DETACH PARTITION c CONCURRENTLY")]
    [InlineData("COMMIT PREPARED 'x'")]
    [InlineData("ROLLBACK PREPARED 'x'")]
    [InlineData("DISCARD ALL")]
    [InlineData("CREATE SUBSCRIPTION s CONNECTION 'c' PUBLICATION p")]
    [InlineData("ALTER SUBSCRIPTION s REFRESH PUBLICATION")]
    [InlineData("DROP SUBSCRIPTION s")]
    [InlineData("CLUSTER")]
    [InlineData("CLUSTER VERBOSE")]
    [InlineData("CLUSTER (VERBOSE)")]
    public void Classify_CannotRunInTransactionBlock(string sql)
    {
        Assert.True(One(sql).CannotRunInTransactionBlock, sql);
    }

    [Theory]
    [InlineData("DROP DATABASE db", "db")]
    [InlineData("drop database if exists \"Db\" with (force)", "Db")]
    [InlineData("DROP DATABASE MyDb", "mydb")]
    [InlineData("ALTER DATABASE db RENAME TO db2", "db")]
    [InlineData("ALTER DATABASE db SET TABLESPACE ts", "db")]
    [InlineData("CREATE DATABASE db", "template1")]
    [InlineData("CREATE DATABASE db TEMPLATE proto", "proto")]
    [InlineData("CREATE DATABASE db WITH OWNER = bob TEMPLATE = \"Proto\" ENCODING 'UTF8'", "Proto")]
    [InlineData("CREATE DATABASE db TEMPLATE 'proto'", "proto")]
    [InlineData("CREATE DATABASE db TEMPLATE DEFAULT", "template1")]
    [InlineData("ALTER DATABASE db SET work_mem = '1MB'", null)]
    [InlineData("ALTER DATABASE db OWNER TO bob", null)]
    [InlineData("DROP TABLE db", null)]
    [InlineData("REINDEX DATABASE db", null)]
    public void Classify_DatabaseNeededAlone_NamesTheDatabaseNoOtherSessionMayBeIn(string sql, string? database)
    {
        Assert.Equal(database, One(sql).DatabaseNeededAlone);
    }

    [Theory]
    [InlineData("ANALYZE")]
    [InlineData("CREATE INDEX i ON t (a)")]
    [InlineData("DROP INDEX i")]
    [InlineData("REINDEX TABLE t")]
    [InlineData("ALTER DATABASE db SET work_mem = '1MB'")]
    [InlineData("ALTER TABLE p DETACH PARTITION c")]
    [InlineData("DISCARD PLANS")]
    [InlineData("CLUSTER t")]
    [InlineData("CLUSTER VERBOSE t USING i")]
    [InlineData("PREPARE TRANSACTION 'x'")]
    [InlineData("CREATE TABLE t (a int)")]
    public void Classify_CanRunInTransactionBlock(string sql)
    {
        Assert.False(One(sql).CannotRunInTransactionBlock, sql);
    }

    [Theory]
    [InlineData("CREATE TABLE t (a int)")]
    [InlineData("create or replace view v as select 1")]
    [InlineData("ALTER TABLE t ADD COLUMN b int")]
    [InlineData("DROP TABLE t")]
    [InlineData("COMMENT ON TABLE t IS 'x'")]
    [InlineData("SECURITY LABEL ON TABLE t IS 'x'")]
    [InlineData("REINDEX INDEX i")]
    [InlineData("CLUSTER t")]
    [InlineData("REFRESH MATERIALIZED VIEW mv")]
    [InlineData("IMPORT FOREIGN SCHEMA r FROM SERVER s INTO l")]
    [InlineData("REASSIGN OWNED BY a TO b")]
    public void Classify_Ddl(string sql)
    {
        var info = One(sql);

        Assert.Equal(StatementKind.Ddl, info.Kind);
        Assert.False(info.IsReadOnly);
    }

    [Theory]
    [InlineData("LOCK t", StatementKind.Lock)]
    [InlineData("VACUUM t", StatementKind.Vacuum)]
    [InlineData("ANALYZE t", StatementKind.Analyze)]
    [InlineData("ANALYSE t", StatementKind.Analyze)]
    [InlineData("MOVE FORWARD 5 IN c", StatementKind.Move)]
    [InlineData("CALL p(1)", StatementKind.Call)]
    [InlineData("DO $$ BEGIN END $$", StatementKind.Do)]
    [InlineData("CHECKPOINT", StatementKind.Checkpoint)]
    [InlineData("TRUNCATE t", StatementKind.Truncate)]
    [InlineData("GRANT SELECT ON t TO u", StatementKind.Grant)]
    [InlineData("REVOKE ALL ON t FROM u", StatementKind.Grant)]
    [InlineData("EXPLAIN SELECT 1", StatementKind.Explain)]
    [InlineData("SHOW work_mem", StatementKind.Show)]
    [InlineData("START something", StatementKind.Other)]
    [InlineData("\"select\" 1", StatementKind.Other)]
    [InlineData("42", StatementKind.Other)]
    public void Classify_KindByFirstKeyword(string sql, StatementKind kind)
    {
        Assert.Equal(kind, One(sql).Kind);
    }

    [Theory]
    [InlineData("SHOW POOL_NODES", PoolCommand.ShowPoolNodes, StatementKind.Show)]
    [InlineData("show pool_nodes;", PoolCommand.ShowPoolNodes, StatementKind.Show)]
    [InlineData("SHOW pool_processes", PoolCommand.ShowPoolProcesses, StatementKind.Show)]
    [InlineData("SHOW pool_pools", PoolCommand.ShowPoolPools, StatementKind.Show)]
    [InlineData("SHOW pool_version", PoolCommand.ShowPoolVersion, StatementKind.Show)]
    [InlineData("SHOW pool_status", PoolCommand.ShowPoolStatus, StatementKind.Show)]
    [InlineData("SHOW pool_health_check_stats", PoolCommand.ShowPoolHealthCheckStats, StatementKind.Show)]
    [InlineData("SHOW pool_backend_stats", PoolCommand.ShowPoolBackendStats, StatementKind.Show)]
    [InlineData("SHOW pool_cache", PoolCommand.ShowPoolCache, StatementKind.Show)]
    [InlineData("PGPOOL SHOW log_min_messages", PoolCommand.PgpoolShow, StatementKind.Show)]
    [InlineData("pgpool set client_idle_limit = 350", PoolCommand.PgpoolSet, StatementKind.Set)]
    [InlineData("PGPOOL SET client_idle_limit TO default", PoolCommand.PgpoolSet, StatementKind.Set)]
    [InlineData("PGPOOL RESET ALL", PoolCommand.PgpoolReset, StatementKind.Reset)]
    public void Classify_PoolCommands(string sql, PoolCommand command, StatementKind kind)
    {
        var info = One(sql);

        Assert.Equal(command, info.PoolCommand);
        Assert.Equal(kind, info.Kind);
        Assert.True(info.IsReadOnly);
        Assert.False(info.ChangesSessionState);
    }

    [Theory]
    [InlineData("SHOW pool_nodes_extra")]
    [InlineData("SHOW \"pool_nodes\"")]
    [InlineData("SHOW search_path")]
    [InlineData("PGPOOL frobnicate")]
    public void Classify_NotPoolCommands(string sql)
    {
        Assert.Equal(PoolCommand.None, One(sql).PoolCommand);
    }

    [Theory]
    [InlineData("/*REPLICATION*/ SELECT 1", true, null)]
    [InlineData("/*replication*/SELECT 1", true, null)]
    [InlineData("  /* REPLICATION */ SELECT 1", true, null)]
    [InlineData("/*INSERT LOCK*/ INSERT INTO t VALUES (1)", false, true)]
    [InlineData("/*NO INSERT LOCK*/ INSERT INTO t VALUES (1)", false, false)]
    [InlineData("/*REPLICATION*/ /*NO INSERT LOCK*/ INSERT INTO t VALUES (1)", true, false)]
    [InlineData("-- REPLICATION\nSELECT 1", false, null)]
    [InlineData("SELECT /*REPLICATION*/ 1", false, null)]
    [InlineData("/*REPLICATION please*/ SELECT 1", false, null)]
    [InlineData("SELECT 1", false, null)]
    public void Classify_Hints_OnlyLeadingBlockComments(string sql, bool replication, bool? insertLock)
    {
        var info = One(sql);

        Assert.Equal(replication, info.HasReplicationHint);
        Assert.Equal(insertLock, info.InsertLockHint);
    }

    [Fact]
    public void ClassifyAll_HintsBelongToTheirOwnStatement()
    {
        var infos = StatementClassifier.ClassifyAll("SELECT 1; /*REPLICATION*/ SELECT 2");

        Assert.False(infos[0].HasReplicationHint);
        Assert.True(infos[1].HasReplicationHint);
    }

    [Fact]
    public void ClassifyAll_ReportsRangesOfEachStatement()
    {
        const string sql = " BEGIN ; /* c */ UPDATE t SET a = ';' ;; COMMIT";

        var infos = StatementClassifier.ClassifyAll(sql);

        Assert.Equal(["BEGIN", "/* c */ UPDATE t SET a = ';'", "COMMIT"], infos.Select(i => sql.Substring(i.Start, i.Length)));
        Assert.Equal([StatementKind.Transaction, StatementKind.Update, StatementKind.Transaction], infos.Select(i => i.Kind));
    }

    [Theory]
    [InlineData("")]
    [InlineData(" ;; ")]
    [InlineData("/* nothing */")]
    public void ClassifyAll_EmptyInput_GivesNoStatements(string sql)
    {
        Assert.Empty(StatementClassifier.ClassifyAll(sql));
    }

    [Fact]
    public void Classify_EmptyRange_IsEmptyAndReadOnly()
    {
        var info = StatementClassifier.Classify("SELECT 1;   ", 9, 3);

        Assert.Equal(StatementKind.Empty, info.Kind);
        Assert.True(info.IsReadOnly);
    }

    [Theory]
    [InlineData(";")]
    [InlineData(" ; ; ")]
    [InlineData("-- c\n;")]
    public void Classify_OnlySemicolons_IsEmpty(string sql)
    {
        Assert.Equal(StatementKind.Empty, StatementClassifier.Classify(sql, 0, sql.Length).Kind);
    }

    [Fact]
    public void Classify_RangeWithTrailingSemicolon_IsTheStatement()
    {
        var info = StatementClassifier.Classify("SELECT 1;", 0, 9);

        Assert.Equal(StatementKind.Select, info.Kind);
        Assert.True(info.IsReadOnly);
    }

    [Fact]
    public void Classify_Range_LooksOnlyInsideTheRange()
    {
        const string sql = "DELETE FROM a; SELECT b FROM c; DROP TABLE d";

        var info = StatementClassifier.Classify(sql, 15, 15);

        Assert.Equal(StatementKind.Select, info.Kind);
        Assert.True(info.IsReadOnly);
        Assert.Equal(15, info.Start);
        Assert.Equal(15, info.Length);
    }

    [Fact]
    public void Classify_InvalidRange_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => StatementClassifier.Classify("SELECT 1", 4, 5));
        Assert.Throws<ArgumentOutOfRangeException>(() => StatementClassifier.Classify("SELECT 1", -1, 2));
    }
}
