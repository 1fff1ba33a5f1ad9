using System.Collections.Concurrent;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>
/// Turns SQL text into a <see cref="QueryPlan"/>. Plans are cached by text (prepared statements
/// and repeated queries are classified once); the cache is bounded and simply cleared when full.
/// </summary>
public sealed class QueryRouter
{
    private const int CacheLimit = 20000;

    // Longer texts (bulk INSERTs with inlined data, a 50 MB literal) are not kept: the cache would
    // hold them until 20000 other statements came by, and classifying them again costs little
    // next to sending them to every node.
    private const int CacheableLength = 16 * 1024;
    private readonly ConcurrentDictionary<string, QueryPlan> _cache = new(StringComparer.Ordinal);

    // A text is cached the second time it is seen. Simple-protocol texts with literals inlined
    // (pgbench -M simple, most ORMs' simple path) never repeat: caching each one filled the table,
    // kept every text alive into gen2 and cleared it all every 20000 statements.
    private readonly int[] _recentMisses = new int[4096];

    // ConcurrentDictionary.Count takes every lock of the table; an approximate count is enough.
    private int _cachedCount;

    private readonly IWriteFunctionDetector _writeFunctions;

    public QueryRouter(CatalogCache catalog, OptionsHolder? options = null)
    {
        Catalog = catalog;
        _writeFunctions = new CatalogWriteFunctions(options is null ? null : () => options.Current);
    }

    /// <summary>Per-database catalog facts (function volatility, column defaults).</summary>
    public CatalogCache Catalog { get; }

    /// <summary>Whether any of the functions may change data or session state (then the query goes to every node).</summary>
    public bool AnyFunctionMayWrite(CatalogCache.DatabaseCatalog catalog, IReadOnlyList<QualifiedName> functions) => _writeFunctions.AnyMayWrite(catalog, functions);

    public QueryPlan Plan(string sql)
    {
        if (sql.Length <= CacheableLength && _cache.TryGetValue(sql, out var cached))
        {
            return cached;
        }

        var plan = Build(StatementClassifier.ClassifyAll(sql));
        if (plan.Route is not (QueryRoute.Read or QueryRoute.Empty or QueryRoute.PoolCommand) || plan.FunctionCalls.Count > 0)
        {
            // Writes (and reads that may turn out to write) need every node to see the same time.
            var uses = TimeFunctions.Find(sql);
            if (uses.Count > 0)
            {
                plan = plan.WithTimeFunctions(uses);
            }
        }

        if (sql.Length > CacheableLength)
        {
            return plan;
        }

        var hash = sql.GetHashCode(StringComparison.Ordinal);
        ref var recent = ref _recentMisses[hash & (_recentMisses.Length - 1)];
        if (recent != hash)
        {
            recent = hash; // first sighting (a racing session may overwrite it: it then waits one more time)
            return plan;
        }

        if (Interlocked.Increment(ref _cachedCount) > CacheLimit)
        {
            Interlocked.Exchange(ref _cachedCount, 0);
            _cache.Clear();
        }

        _cache.TryAdd(sql, plan);
        return plan;
    }

    internal static QueryPlan Build(IReadOnlyList<StatementInfo> statements)
    {
        if (statements.Count == 0)
        {
            return new QueryPlan { Statements = statements, Route = QueryRoute.Empty, Category = StatementCategory.Other };
        }

        if (statements.Count == 1 && statements[0].PoolCommand != PoolCommand.None)
        {
            return new QueryPlan { Statements = statements, Route = QueryRoute.PoolCommand, PoolCommand = statements[0].PoolCommand, Category = StatementCategory.Other };
        }

        var route = RouteOf(statements[0]);
        var hasTransactionControl = false;
        var beginsTransaction = false;
        var cannotRunInBlock = false;
        var noLoadBalance = false;
        var copyFromStdin = false;
        var changesPrepared = false;
        var changesCatalog = false;
        var isolation = SqlIsolationLevel.Default;
        bool? readOnly = null;
        SqlIsolationLevel? sessionIsolation = null;
        List<QualifiedName>? functions = null;
        foreach (var statement in statements)
        {
            route = Combine(route, RouteOf(statement));
            hasTransactionControl |= statement.Transaction != TransactionCommand.None;
            beginsTransaction |= statement.Transaction == TransactionCommand.Begin;
            cannotRunInBlock |= statement.CannotRunInTransactionBlock;
            noLoadBalance |= statement.HasReplicationHint;
            copyFromStdin |= statement.Kind == StatementKind.CopyFrom;
            changesPrepared |= statement.Kind is StatementKind.Deallocate or StatementKind.Discard;
            changesCatalog |= statement.Kind == StatementKind.Ddl;
            if (statement.BeginIsolationLevel != SqlIsolationLevel.Default)
            {
                isolation = statement.BeginIsolationLevel;
            }

            readOnly = statement.TransactionReadOnly ?? readOnly;
            sessionIsolation = statement.SessionIsolationLevel ?? sessionIsolation;

            if (statement.FunctionCalls.Count > 0)
            {
                functions ??= [];
                functions.AddRange(statement.FunctionCalls);
            }
        }

        return new QueryPlan
        {
            Statements = statements,
            Route = route,
            HasTransactionControl = hasTransactionControl,
            BeginsTransaction = beginsTransaction,
            CannotRunInTransactionBlock = cannotRunInBlock,
            NoLoadBalance = noLoadBalance,
            IsolationLevel = isolation,
            TransactionReadOnly = readOnly,
            SessionIsolationLevel = sessionIsolation,
            FunctionCalls = functions ?? (IReadOnlyList<QualifiedName>)[],
            Category = CategoryOf(statements[0]),
            IsCopyFromStdin = copyFromStdin,
            ChangesPreparedStatements = changesPrepared,
            ChangesCatalog = changesCatalog,
        };
    }

    private static QueryRoute RouteOf(StatementInfo statement)
    {
        switch (statement.Transaction)
        {
            case TransactionCommand.Begin:
            case TransactionCommand.Savepoint:
                return QueryRoute.Broadcast;
            case TransactionCommand.Commit:
            case TransactionCommand.Rollback:
            case TransactionCommand.Release:
            case TransactionCommand.RollbackToSavepoint:
            case TransactionCommand.PrepareTransaction:
            case TransactionCommand.CommitPrepared:
            case TransactionCommand.RollbackPrepared:
                return QueryRoute.TransactionEnd;
        }

        if (statement.IsReadOnly)
        {
            return QueryRoute.Read;
        }

        // Deterministic session-state changes that no other session can observe: no ordering needed.
        return statement.Kind switch
        {
            StatementKind.Set or StatementKind.Reset or StatementKind.Prepare or StatementKind.Deallocate
                or StatementKind.Listen or StatementKind.Unlisten or StatementKind.Discard
                or StatementKind.Declare or StatementKind.Fetch or StatementKind.Move or StatementKind.ClosePortal
                or StatementKind.Checkpoint when statement.FunctionCalls.Count == 0 => QueryRoute.Broadcast,
            _ => QueryRoute.Write,
        };
    }

    private static QueryRoute Combine(QueryRoute a, QueryRoute b)
    {
        if (a == b)
        {
            return a;
        }

        if (a == QueryRoute.Write || b == QueryRoute.Write)
        {
            return QueryRoute.Write;
        }

        if (a == QueryRoute.TransactionEnd || b == QueryRoute.TransactionEnd)
        {
            return QueryRoute.TransactionEnd;
        }

        // Read mixed with Broadcast: run everything everywhere (reads are harmless on every node).
        return QueryRoute.Broadcast;
    }

    public static StatementCategory CategoryOf(StatementInfo statement) => statement.Kind switch
    {
        StatementKind.Select or StatementKind.Explain or StatementKind.Show or StatementKind.CopyTo => StatementCategory.Select,
        StatementKind.Insert or StatementKind.CopyFrom => StatementCategory.Insert,
        StatementKind.Update or StatementKind.Merge => StatementCategory.Update,
        StatementKind.Delete or StatementKind.Truncate => StatementCategory.Delete,
        StatementKind.Ddl or StatementKind.Grant => StatementCategory.Ddl,
        _ => StatementCategory.Other,
    };
}
