using System.Collections.Concurrent;
using System.Globalization;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>What a column's default does when a row is inserted without a value for it.</summary>
public enum ColumnDefault
{
    /// <summary>No default, or one that gives the same value on every node (a constant).</summary>
    Deterministic,

    /// <summary>now(), CURRENT_TIMESTAMP ...: the node's clock.</summary>
    Time,

    /// <summary>nextval() or an identity column: the node's sequence.</summary>
    Sequence,

    /// <summary>gen_random_uuid(), random() ...: a value per row that no other node can reproduce.</summary>
    Random,

    /// <summary>txid_current(), pg_backend_pid(), inet_server_port() ...: each node's own value, which the proxy cannot give every node.</summary>
    NodeSpecific,
}

/// <summary>A column of a table as the catalog of the main node describes it.</summary>
/// <param name="Name">The column name, quoted as needed.</param>
/// <param name="Type">format_type of the column.</param>
/// <param name="Default">What its default does.</param>
/// <param name="DefaultExpression">For a time or random default: its expression (pg_get_expr), which the proxy evaluates with the main node's clock and values generated once.</param>
/// <param name="RandomKind">For a random default, what it generates: uuid, float8, random bytes or crypt() salt.</param>
public sealed record ColumnInfo(string Name, string Type, ColumnDefault Default, string? DefaultExpression, string? RandomKind)
{
    /// <summary>For a node-specific default, the call that makes it so ("txid_current()").</summary>
    public string? NodeSpecificCall { get; init; }

    /// <summary>The default gives each node its own value (time, random or node-specific): the proxy fills it, or refuses the write.</summary>
    public bool DiffersPerNode => Default is ColumnDefault.Time or ColumnDefault.Random or ColumnDefault.NodeSpecific;
}

/// <summary>A table as the catalog of the main node describes it.</summary>
public sealed record TableInfo(long Oid, string Name, IReadOnlyList<ColumnInfo> Columns)
{
    /// <summary>How many columns <c>SELECT *</c> gives: <see cref="Columns"/> and the generated ones, which cannot be written.</summary>
    public int Width { get; init; }

    public bool UsesSequence => Columns.Any(c => c.Default == ColumnDefault.Sequence);

    /// <summary>
    /// With allow_nondeterministic_writes on, node-specific defaults are left to each node, as
    /// the setting asks: the table as if they were plain ones.
    /// </summary>
    public TableInfo WithNodeSpecificDefaultsAllowed() => Columns.Any(c => c.Default == ColumnDefault.NodeSpecific)
        ? this with { Columns = [.. Columns.Select(c => c.Default == ColumnDefault.NodeSpecific ? c with { Default = ColumnDefault.Deterministic } : c)] }
        : this;

    /// <summary>The primary key's columns (quoted where needed), in key order; empty without one.</summary>
    public IReadOnlyList<string> PrimaryKey { get; init; } = [];

    /// <summary>
    /// Enabled triggers whose function reads the clock or a random value ("name (function())"):
    /// the proxy cannot see inside them, so each node stores its own value.
    /// </summary>
    public string? NondeterministicTriggers { get; init; }
}

/// <summary>Runs one of the proxy's catalog queries on the main node, through a session's own connection.</summary>
public delegate Task<BackendQueryResult> CatalogQuery(string sql, CancellationToken cancellationToken);

/// <summary>
/// Per-database catalog facts the proxy needs to keep nodes identical: which user functions are
/// volatile (a SELECT calling one may write, so it goes to every node) and what each table's
/// column defaults do (time, sequence, random). Read from the main node through a session's own
/// connection, cached, and dropped when a transaction that ran DDL in that database ends. A
/// session whose transaction ran DDL reads through a catalog of its own (others cannot see it).
/// </summary>
public sealed class CatalogCache
{
    private static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);
    private readonly ConcurrentDictionary<string, DatabaseCatalog> _databases = new(StringComparer.Ordinal);

    // A function body that reads the clock or a random value (whole words: not my_now_column), as an E'' literal.
    private const string NondeterministicBody =
        @"E'\\m(now|current_timestamp|current_date|current_time|localtimestamp|localtime|clock_timestamp|statement_timestamp|transaction_timestamp|timeofday|random|gen_random_uuid|uuid_generate_v[14]\\w*)\\M'";

    private readonly ConcurrentDictionary<string, bool> _triggerWarnings = new(StringComparer.Ordinal);

    public DatabaseCatalog For(string database) => _databases.GetOrAdd(database, _ => new DatabaseCatalog());

    /// <summary>True the first time a table's nondeterministic triggers are reported in this process (one warning each).</summary>
    public bool FirstTriggerWarning(string database, TableInfo table) =>
        table.NondeterministicTriggers is { } triggers && _triggerWarnings.TryAdd($"{database}\n{table.Name}\n{triggers}", true);

    /// <summary>Forget what is known of a database (after DDL there).</summary>
    public void Invalidate(string database) => _databases.TryRemove(database, out _);

    public sealed class DatabaseCatalog
    {
        private readonly ConcurrentDictionary<string, TableInfo?> _tables = new(StringComparer.Ordinal);
        private HashSet<string>? _volatileFunctions;
        private DateTime _loadedAt = DateTime.UtcNow;

        public bool FunctionsLoaded => _volatileFunctions is not null && DateTime.UtcNow - _loadedAt < MaxAge;

        /// <summary>Whether a function is a user-defined volatile one (it may write). Null until loaded.</summary>
        public bool? IsVolatileUserFunction(QualifiedName function) =>
            _volatileFunctions is null ? null : _volatileFunctions.Contains(function.Name) || (function.Schema is not null && _volatileFunctions.Contains($"{function.Schema}.{function.Name}"));

        /// <summary>Reads the volatile user functions. When the query fails they stay unknown (and unknown means: may write).</summary>
        public async Task LoadFunctionsAsync(CatalogQuery query, CancellationToken cancellationToken)
        {
            var result = await query("""
                SELECT p.proname, n.nspname
                FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace
                WHERE p.provolatile = 'v' AND n.nspname NOT IN ('pg_catalog', 'information_schema')
                """, cancellationToken);
            if (!result.Succeeded)
            {
                return;
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var row in result.Rows)
            {
                names.Add(row[0]!);
                names.Add($"{row[1]}.{row[0]}");
            }

            _volatileFunctions = names;
            _loadedAt = DateTime.UtcNow;
        }

        /// <summary>
        /// The table a statement names (resolved with the session's search_path), or null if it
        /// does not exist. A failed query (an aborted transaction) is not remembered: the write fails anyway.
        /// </summary>
        public async Task<TableInfo?> TableAsync(QualifiedName name, CatalogQuery query, CancellationToken cancellationToken)
        {
            var key = name.ToString();
            if (_tables.TryGetValue(key, out var known) && DateTime.UtcNow - _loadedAt < MaxAge)
            {
                return known;
            }

            var regclass = name.Schema is null ? BackendQuery.Identifier(name.Name) : $"{BackendQuery.Identifier(name.Schema)}.{BackendQuery.Identifier(name.Name)}";
            // The trigger subquery does not refer to the row, so it runs once, not once per column.
            var result = await query($"""
                SELECT c.oid, pg_catalog.quote_ident(a.attname), pg_catalog.format_type(a.atttypid, a.atttypmod),
                       pg_catalog.pg_get_expr(d.adbin, d.adrelid), a.attidentity, a.attgenerated,
                       (SELECT pg_catalog.array_position(i.indkey::pg_catalog.int2[], a.attnum) FROM pg_catalog.pg_index i WHERE i.indrelid = c.oid AND i.indisprimary),
                       (SELECT pg_catalog.string_agg(t.tgname || ' (' || p.proname || '())', ', ' ORDER BY t.tgname)
                          FROM pg_catalog.pg_trigger t JOIN pg_catalog.pg_proc p ON p.oid = t.tgfoid
                          WHERE t.tgrelid = pg_catalog.to_regclass({BackendQuery.Literal(regclass)}) AND NOT t.tgisinternal AND t.tgenabled <> 'D' AND p.prosrc ~* {NondeterministicBody})
                FROM pg_catalog.pg_class c
                JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
                WHERE c.oid = pg_catalog.to_regclass({BackendQuery.Literal(regclass)})
                ORDER BY a.attnum
                """, cancellationToken);
            if (!result.Succeeded)
            {
                return null;
            }

            if (result.Rows.Count == 0)
            {
                _tables[key] = null;
                return null;
            }

            var columns = new List<ColumnInfo>();
            foreach (var row in result.Rows)
            {
                if (row[5] is { Length: > 0 } generated && generated != "\0")
                {
                    continue; // generated columns cannot be written
                }

                columns.Add(Describe(row[1]!, row[2]!, row[3], row[4]));
            }

            var primaryKey = result.Rows.Where(r => r[6] is not null).OrderBy(r => int.Parse(r[6]!, CultureInfo.InvariantCulture)).Select(r => r[1]!).ToList();
            var table = new TableInfo(long.Parse(result.Rows[0][0]!, CultureInfo.InvariantCulture), regclass, columns)
            {
                Width = result.Rows.Count,
                PrimaryKey = primaryKey,
                NondeterministicTriggers = result.Rows[0][7],
            };
            _tables[key] = table;
            return table;
        }

        private static ColumnInfo Describe(string name, string type, string? defaultExpression, string? identity)
        {
            if (identity is "a" or "d")
            {
                return new ColumnInfo(name, type, ColumnDefault.Sequence, null, null);
            }

            if (defaultExpression is null)
            {
                return new ColumnInfo(name, type, ColumnDefault.Deterministic, null, null);
            }

            var lower = defaultExpression.ToLowerInvariant();
            if (lower.Contains("nextval(", StringComparison.Ordinal))
            {
                return new ColumnInfo(name, type, ColumnDefault.Sequence, null, null);
            }

            if (NondeterministicFunctions.NodeSpecificCall(defaultExpression) is { } call)
            {
                return new ColumnInfo(name, type, ColumnDefault.NodeSpecific, defaultExpression, null) { NodeSpecificCall = call };
            }

            if (NondeterministicFunctions.RandomCalls(defaultExpression) is [var (_, _, generated), ..])
            {
                return new ColumnInfo(name, type, ColumnDefault.Random, defaultExpression, generated.Description);
            }

            if (TimeFunctions.Find(defaultExpression).Count > 0)
            {
                return new ColumnInfo(name, type, ColumnDefault.Time, defaultExpression, null);
            }

            return new ColumnInfo(name, type, ColumnDefault.Deterministic, null, null);
        }
    }
}
