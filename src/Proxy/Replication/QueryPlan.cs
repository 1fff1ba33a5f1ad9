using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>Where a query must run and in which order.</summary>
public enum QueryRoute
{
    /// <summary>Nothing to run (empty query string).</summary>
    Empty,

    /// <summary>Answered by the proxy itself (SHOW POOL_NODES ...).</summary>
    PoolCommand,

    /// <summary>Read-only: one node, chosen by load balancing.</summary>
    Read,

    /// <summary>May change data: every node, the main node first, the others after it answered.</summary>
    Write,

    /// <summary>
    /// Changes only session or transaction state in an order-independent way (BEGIN, SET,
    /// PREPARE, LISTEN, SAVEPOINT ...): every node at once.
    /// </summary>
    Broadcast,

    /// <summary>Ends a transaction (COMMIT, ROLLBACK, PREPARE TRANSACTION ...): the other nodes first, the main node last.</summary>
    TransactionEnd,
}

/// <summary>The analysis of one query string: its statements and how to route it.</summary>
public sealed record QueryPlan
{
    public QueryPlan WithTimeFunctions(IReadOnlyList<TimeFunctionUse> uses) => this with { TimeFunctions = uses };

    public required IReadOnlyList<StatementInfo> Statements { get; init; }

    public required QueryRoute Route { get; init; }

    /// <summary>True when the query contains BEGIN/COMMIT/ROLLBACK/SAVEPOINT or similar.</summary>
    public bool HasTransactionControl { get; init; }

    /// <summary>True when a statement opens a transaction block (BEGIN, START TRANSACTION).</summary>
    public bool BeginsTransaction { get; init; }

    /// <summary>True when a statement refuses to run inside a transaction block (VACUUM, CREATE DATABASE ...).</summary>
    public bool CannotRunInTransactionBlock { get; init; }

    /// <summary>Functions the query calls; a writing one turns a read into a write (decided per database).</summary>
    public IReadOnlyList<QualifiedName> FunctionCalls { get; init; } = [];

    /// <summary>/*REPLICATION*/ hint: never load balance.</summary>
    public bool NoLoadBalance { get; init; }

    /// <summary>The isolation level a BEGIN / SET TRANSACTION in the query asks for.</summary>
    public SqlIsolationLevel IsolationLevel { get; init; }

    /// <summary>READ ONLY (true) or READ WRITE (false) that a BEGIN / SET TRANSACTION in the query asks for; null when none.</summary>
    public bool? TransactionReadOnly { get; init; }

    /// <summary>The session default isolation level the query sets (see <see cref="Sql.StatementInfo.SessionIsolationLevel"/>); null when it sets none.</summary>
    public SqlIsolationLevel? SessionIsolationLevel { get; init; }

    /// <summary>For SHOW POOL_* and PGPOOL commands.</summary>
    public PoolCommand PoolCommand { get; init; }

    public StatementCategory Category { get; init; }

    public bool IsCopyFromStdin { get; init; }

    /// <summary>Time functions (now(), CURRENT_TIMESTAMP ...) whose value must be the same on every node.</summary>
    public IReadOnlyList<TimeFunctionUse> TimeFunctions { get; init; } = [];

    /// <summary>DEALLOCATE or DISCARD: protocol-level prepared statements may be gone afterwards.</summary>
    public bool ChangesPreparedStatements { get; init; }

    /// <summary>DDL: tables, defaults or functions may be different afterwards.</summary>
    public bool ChangesCatalog { get; init; }

    /// <summary>Every statement is ROLLBACK or ROLLBACK PREPARED: the query ends a transaction without committing anything.</summary>
    public bool OnlyRollsBack => Statements.Count > 0 && Statements.All(s => s.Transaction is TransactionCommand.Rollback or TransactionCommand.RollbackPrepared);
}
