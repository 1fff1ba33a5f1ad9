namespace PgPoolConsole.Proxy.Sql;

/// <summary>What the router needs to know about one statement; produced by <see cref="StatementClassifier"/>.</summary>
public sealed class StatementInfo
{
    /// <summary>What the statement is.</summary>
    public required StatementKind Kind { get; init; }

    /// <summary>The transaction control performed, for <see cref="StatementKind.Transaction"/>.</summary>
    public TransactionCommand Transaction { get; init; }

    /// <summary>A pgpool command the proxy answers itself (<c>SHOW POOL_NODES</c>, <c>PGPOOL SET ...</c>).</summary>
    public PoolCommand PoolCommand { get; init; }

    /// <summary>
    /// True when the statement itself cannot change data or session state on a node and may be sent to one
    /// node, subject to the functions it calls being non-writing (see <see cref="FunctionCalls"/>).
    /// </summary>
    public bool IsReadOnly { get; init; }

    /// <summary>
    /// True for statements PostgreSQL refuses inside a transaction block: VACUUM, CREATE/DROP DATABASE,
    /// CREATE/DROP TABLESPACE, CREATE/DROP INDEX CONCURRENTLY, REINDEX CONCURRENTLY, REINDEX
    /// SYSTEM/DATABASE/SCHEMA, ALTER SYSTEM, ALTER DATABASE ... SET TABLESPACE, ALTER TABLE ... DETACH
    /// PARTITION ... CONCURRENTLY, COMMIT/ROLLBACK PREPARED, DISCARD ALL, CREATE/ALTER/DROP SUBSCRIPTION,
    /// CLUSTER without a table.
    /// </summary>
    public bool CannotRunInTransactionBlock { get; init; }

    /// <summary>
    /// True when the statement changes session state that outlives the transaction: SET (not SET LOCAL,
    /// SET TRANSACTION or SET CONSTRAINTS), RESET, LISTEN, UNLISTEN, PREPARE, DEALLOCATE, DECLARE ... WITH
    /// HOLD, temporary tables/views/sequences/functions, DISCARD, LOAD.
    /// </summary>
    public bool ChangesSessionState { get; init; }

    /// <summary>True when the statement creates a temporary object (CREATE TEMP ..., SELECT INTO TEMP, objects in pg_temp).</summary>
    public bool CreatesTemporaryObject { get; init; }

    /// <summary>True for DECLARE ... WITH HOLD.</summary>
    public bool IsHoldableCursor { get; init; }

    /// <summary>True when the query starts with the comment <c>/*REPLICATION*/</c> (pgpool: never load balance).</summary>
    public bool HasReplicationHint { get; init; }

    /// <summary><c>/*INSERT LOCK*/</c> gives true, <c>/*NO INSERT LOCK*/</c> false, no such leading comment null.</summary>
    public bool? InsertLockHint { get; init; }

    /// <summary>True when the INSERT, UPDATE, DELETE or MERGE has a RETURNING clause of its own.</summary>
    public bool HasReturning { get; init; }

    /// <summary>
    /// True for a row-locking clause (FOR UPDATE / NO KEY UPDATE / SHARE / KEY SHARE) anywhere in the
    /// statement, subqueries included, and for DECLARE ... WITH HOLD.
    /// </summary>
    public bool IsWithHoldOrForUpdate { get; init; }

    /// <summary>
    /// True when the statement changes rows (in its main part or a WITH query) and a row-locking
    /// clause in it skips locked rows (a queue pop: UPDATE ... WHERE id = (SELECT ... FOR UPDATE SKIP LOCKED)).
    /// </summary>
    public bool ChangesRowsSkippingLocked { get; init; }

    /// <summary>The table written or locked: INSERT INTO x, UPDATE x, DELETE FROM x, MERGE INTO x, COPY x, TRUNCATE x (first), LOCK x (first).</summary>
    public QualifiedName? TargetTable { get; init; }

    /// <summary>
    /// The database PostgreSQL refuses to act on while other sessions are connected to it: the one
    /// DROP DATABASE drops, ALTER DATABASE renames or moves, CREATE DATABASE copies (its template,
    /// template1 by default). Null for any other statement.
    /// </summary>
    public string? DatabaseNeededAlone { get; init; }

    /// <summary>
    /// The isolation level named by BEGIN, START TRANSACTION, SET TRANSACTION or SET SESSION
    /// CHARACTERISTICS AS TRANSACTION.
    /// </summary>
    public SqlIsolationLevel BeginIsolationLevel { get; init; }

    /// <summary>READ ONLY (true) or READ WRITE (false) named by BEGIN, START TRANSACTION or SET TRANSACTION; null when none.</summary>
    public bool? TransactionReadOnly { get; init; }

    /// <summary>The snapshot identifier of <c>SET TRANSACTION SNAPSHOT 'id'</c>; null otherwise.</summary>
    public string? ImportedSnapshot { get; init; }

    /// <summary>
    /// The session's default isolation level as this statement sets it (SET SESSION
    /// CHARACTERISTICS, SET default_transaction_isolation; Default for RESET and DISCARD ALL); null
    /// when the statement leaves it alone.
    /// </summary>
    public SqlIsolationLevel? SessionIsolationLevel { get; init; }

    /// <summary>
    /// Each distinct function or procedure the statement calls (a name followed by <c>(</c> in call
    /// position), with its schema when written qualified, in order of first appearance. Grammar constructs
    /// (CAST, EXISTS, COALESCE, NULLIF, GREATEST, LEAST, ROW...), type modifiers (<c>::varbit(3)</c>), alias
    /// column lists and routine names in DDL headers are left out.
    /// </summary>
    public IReadOnlyList<QualifiedName> FunctionCalls { get; init; } = [];

    /// <summary>Index of the statement's first character in the original query string.</summary>
    public int Start { get; init; }

    /// <summary>Length of the statement in the original query string.</summary>
    public int Length { get; init; }
}
