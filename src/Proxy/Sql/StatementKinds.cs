namespace PgPoolConsole.Proxy.Sql;

/// <summary>What a statement is, by its leading keywords.</summary>
public enum StatementKind : byte
{
    /// <summary>No tokens (whitespace and comments only).</summary>
    Empty,

    /// <summary>SELECT, VALUES, TABLE, or WITH ... SELECT (including SELECT INTO).</summary>
    Select,

    /// <summary>INSERT (possibly under WITH).</summary>
    Insert,

    /// <summary>UPDATE (possibly under WITH).</summary>
    Update,

    /// <summary>DELETE (possibly under WITH).</summary>
    Delete,

    /// <summary>MERGE (possibly under WITH).</summary>
    Merge,

    /// <summary>COPY ... FROM (STDIN, a file or a program).</summary>
    CopyFrom,

    /// <summary>COPY ... TO (STDOUT, a file or a program).</summary>
    CopyTo,

    /// <summary>CREATE, ALTER, DROP, COMMENT, SECURITY LABEL, REINDEX, CLUSTER, REFRESH, IMPORT FOREIGN SCHEMA, REASSIGN OWNED.</summary>
    Ddl,

    /// <summary>A transaction control statement; see <see cref="TransactionCommand"/>.</summary>
    Transaction,

    /// <summary>SET in all its forms (including SET TRANSACTION, SET CONSTRAINTS, SET ROLE).</summary>
    Set,

    /// <summary>RESET.</summary>
    Reset,

    /// <summary>SHOW.</summary>
    Show,

    /// <summary>EXPLAIN.</summary>
    Explain,

    /// <summary>PREPARE name AS ... (not PREPARE TRANSACTION).</summary>
    Prepare,

    /// <summary>EXECUTE.</summary>
    Execute,

    /// <summary>DEALLOCATE.</summary>
    Deallocate,

    /// <summary>LISTEN.</summary>
    Listen,

    /// <summary>UNLISTEN.</summary>
    Unlisten,

    /// <summary>NOTIFY.</summary>
    Notify,

    /// <summary>LOCK.</summary>
    Lock,

    /// <summary>VACUUM (with or without ANALYZE).</summary>
    Vacuum,

    /// <summary>ANALYZE / ANALYSE.</summary>
    Analyze,

    /// <summary>DECLARE cursor.</summary>
    Declare,

    /// <summary>FETCH.</summary>
    Fetch,

    /// <summary>MOVE.</summary>
    Move,

    /// <summary>CLOSE cursor.</summary>
    ClosePortal,

    /// <summary>DISCARD.</summary>
    Discard,

    /// <summary>CALL procedure.</summary>
    Call,

    /// <summary>DO block.</summary>
    Do,

    /// <summary>CHECKPOINT.</summary>
    Checkpoint,

    /// <summary>TRUNCATE.</summary>
    Truncate,

    /// <summary>GRANT or REVOKE.</summary>
    Grant,

    /// <summary>Anything else (LOAD, pgpool's own PGPOOL commands, unknown or malformed input).</summary>
    Other,
}

/// <summary>The transaction control a <see cref="StatementKind.Transaction"/> statement performs.</summary>
public enum TransactionCommand : byte
{
    /// <summary>Not a transaction control statement.</summary>
    None,

    /// <summary>BEGIN [WORK|TRANSACTION] or START TRANSACTION.</summary>
    Begin,

    /// <summary>COMMIT or END.</summary>
    Commit,

    /// <summary>ROLLBACK or ABORT (without TO SAVEPOINT).</summary>
    Rollback,

    /// <summary>SAVEPOINT x.</summary>
    Savepoint,

    /// <summary>RELEASE [SAVEPOINT] x.</summary>
    Release,

    /// <summary>ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] x.</summary>
    RollbackToSavepoint,

    /// <summary>PREPARE TRANSACTION 'x'.</summary>
    PrepareTransaction,

    /// <summary>COMMIT PREPARED 'x'.</summary>
    CommitPrepared,

    /// <summary>ROLLBACK PREPARED 'x'.</summary>
    RollbackPrepared,
}

/// <summary>pgpool-II's own commands, answered by the proxy rather than by a node.</summary>
public enum PoolCommand : byte
{
    /// <summary>Not a pool command.</summary>
    None,

    /// <summary>SHOW POOL_NODES.</summary>
    ShowPoolNodes,

    /// <summary>SHOW POOL_PROCESSES.</summary>
    ShowPoolProcesses,

    /// <summary>SHOW POOL_POOLS.</summary>
    ShowPoolPools,

    /// <summary>SHOW POOL_VERSION.</summary>
    ShowPoolVersion,

    /// <summary>SHOW POOL_STATUS.</summary>
    ShowPoolStatus,

    /// <summary>SHOW POOL_HEALTH_CHECK_STATS.</summary>
    ShowPoolHealthCheckStats,

    /// <summary>SHOW POOL_BACKEND_STATS.</summary>
    ShowPoolBackendStats,

    /// <summary>SHOW POOL_CACHE.</summary>
    ShowPoolCache,

    /// <summary>PGPOOL SHOW x.</summary>
    PgpoolShow,

    /// <summary>PGPOOL SET x = y.</summary>
    PgpoolSet,

    /// <summary>PGPOOL RESET x.</summary>
    PgpoolReset,
}

/// <summary>An isolation level named by BEGIN, START TRANSACTION, SET TRANSACTION or SET SESSION CHARACTERISTICS.</summary>
public enum SqlIsolationLevel : byte
{
    /// <summary>None named: the session default applies.</summary>
    Default,

    /// <summary>READ COMMITTED.</summary>
    ReadCommitted,

    /// <summary>REPEATABLE READ.</summary>
    RepeatableRead,

    /// <summary>SERIALIZABLE.</summary>
    Serializable,

    /// <summary>READ UNCOMMITTED (PostgreSQL runs it as READ COMMITTED).</summary>
    ReadUncommitted,
}

/// <summary>A possibly schema-qualified name as PostgreSQL resolves it: unquoted parts lower-cased, quoted parts exact.</summary>
/// <param name="Schema">The schema when written qualified (a catalog part before it is dropped), else null.</param>
/// <param name="Name">The object name.</param>
public readonly record struct QualifiedName(string? Schema, string Name)
{
    /// <summary>schema.name, or name.</summary>
    public override string ToString() => Schema is null ? Name : $"{Schema}.{Name}";
}

/// <summary>Isolation levels written as values (default_transaction_isolation, libpq options).</summary>
public static class SqlIsolationLevels
{
    /// <summary>The level a default_transaction_isolation value names ('repeatable read', serializable); Default when none or unknown.</summary>
    public static SqlIsolationLevel Parse(ReadOnlySpan<char> value)
    {
        value = value.Trim().Trim('\'').Trim();
        Span<char> lower = stackalloc char[Math.Min(value.Length, 32)];
        if (value.Length > lower.Length)
        {
            return SqlIsolationLevel.Default;
        }

        value.ToLowerInvariant(lower);
        return lower switch
        {
            "serializable" => SqlIsolationLevel.Serializable,
            "repeatable read" or "repeatable_read" => SqlIsolationLevel.RepeatableRead,
            "read committed" or "read_committed" => SqlIsolationLevel.ReadCommitted,
            "read uncommitted" or "read_uncommitted" => SqlIsolationLevel.ReadUncommitted,
            _ => SqlIsolationLevel.Default,
        };
    }

    /// <summary>Whether every node must take a transaction's snapshot at the same statement.</summary>
    public static bool NeedsAlignedSnapshots(this SqlIsolationLevel level) => level is SqlIsolationLevel.RepeatableRead or SqlIsolationLevel.Serializable;
}
