using System.Buffers;
using System.Globalization;
using System.Text;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>A value the proxy supplies so every node stores the same thing.</summary>
public enum SlotKind
{
    /// <summary>The main node's transaction timestamp (now()).</summary>
    TransactionTime,

    /// <summary>The main node's current time (statement_timestamp(), clock_timestamp()).</summary>
    StatementTime,

    /// <summary>A random double in [0, 1) (random()).</summary>
    RandomDouble,

    /// <summary>A version 4 UUID (gen_random_uuid()).</summary>
    RandomUuid,

    /// <summary>The OID of a new large object, picked by the proxy (lo_creat(), lo_create(0) ...).</summary>
    LargeObjectId,

    /// <summary>Random bytes as hex digits (pgcrypto's gen_random_bytes(n)).</summary>
    RandomBytes,

    /// <summary>A crypt() salt (pgcrypto's gen_salt(type [, rounds])).</summary>
    RandomSalt,
}

/// <summary>A hole in a <see cref="SqlTemplate"/>: what goes there, and what its generator needs (see <see cref="GeneratedValue.Argument"/>).</summary>
public readonly record struct Slot(SlotKind Kind, string Argument = "")
{
    public static implicit operator Slot(SlotKind kind) => new(kind);
}

/// <summary>
/// A statement with holes for proxy-supplied values. Rendered with literals (simple query) or
/// with parameters the proxy appends to each Bind (prepared statements).
/// </summary>
public sealed class SqlTemplate
{
    private readonly List<(string Text, int Slot)> _parts;

    internal SqlTemplate(List<(string Text, int Slot)> parts, List<Slot> slots)
    {
        _parts = parts;
        Slots = slots;
    }

    public IReadOnlyList<Slot> Slots { get; }

    public bool NeedsClock => Slots.Any(s => s.Kind is SlotKind.TransactionTime or SlotKind.StatementTime);

    public int LargeObjectIdCount => Slots.Count(s => s.Kind == SlotKind.LargeObjectId);

    /// <summary>Fills each hole with a quoted literal of its value.</summary>
    public string RenderLiterals(IReadOnlyList<string> values) => Render(slot => BackendQuery.Literal(values[slot]));

    /// <summary>Fills each hole with a text parameter, numbered from <paramref name="firstParameter"/>.</summary>
    public string RenderParameters(int firstParameter) => Render(slot => "$" + (firstParameter + slot).ToString(CultureInfo.InvariantCulture) + "::text");

    private string Render(Func<int, string> hole)
    {
        var builder = new StringBuilder();
        foreach (var (text, slot) in _parts)
        {
            builder.Append(slot < 0 ? text : hole(slot));
        }

        return builder.ToString();
    }

    /// <summary>
    /// The values for every hole: the clocks of the main node, generated random values, and the
    /// large object OIDs picked for this execution (as many as <see cref="LargeObjectIdCount"/>, in order).
    /// </summary>
    public IReadOnlyList<string> Values(string transactionTime, string statementTime, IReadOnlyList<long>? largeObjectIds = null)
    {
        var nextLargeObject = 0;
        return [.. Slots.Select(slot => slot.Kind switch
        {
            SlotKind.TransactionTime => transactionTime,
            SlotKind.StatementTime => statementTime,
            SlotKind.LargeObjectId => largeObjectIds![nextLargeObject++].ToString(CultureInfo.InvariantCulture),
            _ => NondeterministicFunctions.Generate(new GeneratedValue(slot.Kind, "", slot.Argument)),
        })];
    }
}

/// <summary>How to make a write deterministic on every node.</summary>
/// <param name="Template">The statement with holes, or null when nothing needs replacing.</param>
/// <param name="Refusal">Why the statement cannot be made deterministic (then it must not run), or null.</param>
/// <param name="LockKeys">insert_lock: advisory lock keys to take on the main node before the statement.</param>
public sealed record WriteRewrite(SqlTemplate? Template, string? Refusal, IReadOnlyList<string> LockKeys)
{
    public static readonly WriteRewrite None = new(null, null, []);

    /// <summary>For a COPY FROM STDIN that leaves time defaults out: the fields the proxy appends to every row.</summary>
    public CopyRowFill? CopyFill { get; init; }

    public bool IsNone => Template is null && Refusal is null && LockKeys.Count == 0;
}

/// <summary>
/// Rewrites a write so that every node computes the same values: time functions and the
/// main node's clock, random()/gen_random_uuid() evaluated once per VALUES row, column defaults of
/// those kinds for inserted rows (added with explicit values), DEFAULT in VALUES and UPDATE SET;
/// and decides the insert_lock keys for sequences. What cannot be made deterministic is refused
/// (naming the function) unless the operator allowed it.
/// </summary>
public static partial class WriteRewriter
{
    /// <summary>Advisory lock class of insert_lock ('PGPC').</summary>
    public const long LockClass = 0x50475043;

    /// <summary>Advisory lock class ('PGPS') that makes row-changing statements with SKIP LOCKED on one table take turns.</summary>
    public const long SkipLockedClass = 0x50475053;

    // Vectorized case-insensitive scans (a plain IndexOf with OrdinalIgnoreCase goes char by char in invariant mode).
    private static readonly SearchValues<string> CtidWord = SearchValues.Create(["ctid"], StringComparison.OrdinalIgnoreCase);
    private static readonly SearchValues<string> TableWord = SearchValues.Create(["table"], StringComparison.OrdinalIgnoreCase);

    // Words that end a SELECT list at its top level.
    private static readonly HashSet<string> SelectListEnd = new(StringComparer.Ordinal)
    {
        "from", "into", "where", "group", "having", "window", "union", "intersect", "except", "order", "limit", "offset", "fetch", "for", "returning", "on",
    };

    /// <param name="sqlPrepared">The rewrite of each SQL-level prepared write by name (see <see cref="ExecuteEdit"/>), null for none.</param>
    public static WriteRewrite Rewrite(string sql, QueryPlan plan, Func<QualifiedName, TableInfo?> tables, bool allowNondeterministic, bool insertLock, Func<string, WriteRewrite?>? sqlPrepared = null)
    {
        if (allowNondeterministic)
        {
            var catalog = tables;
            tables = name => catalog(name)?.WithNodeSpecificDefaultsAllowed();
        }

        var edits = new List<Edit>();
        var slots = new List<Slot>();
        var lockKeys = new List<string>();
        CopyRowFill? copyFill = null;
        foreach (var statement in plan.Statements)
        {
            var refusal = RewriteStatement(sql, statement, plan, tables, allowNondeterministic, insertLock, edits, slots, lockKeys, ref copyFill);
            if (refusal is not null)
            {
                return new WriteRewrite(null, refusal, []);
            }

            if (statement.Kind == StatementKind.Execute && sqlPrepared is not null)
            {
                ExecuteEdit(sql, statement, sqlPrepared, edits, slots, lockKeys);
            }
        }

        if (edits.Count == 0)
        {
            return lockKeys.Count == 0 ? WriteRewrite.None : new WriteRewrite(null, null, lockKeys);
        }

        edits.Sort((a, b) => a.Start.CompareTo(b.Start));
        var parts = new List<(string, int)>();
        var position = 0;
        foreach (var edit in edits)
        {
            if (edit.Start < position)
            {
                continue; // overlapping edits cannot happen by construction; keep the first
            }

            parts.Add((sql[position..edit.Start], -1));
            parts.AddRange(edit.Parts);
            position = edit.Start + edit.Length;
        }

        parts.Add((sql[position..], -1));
        return new WriteRewrite(new SqlTemplate(parts, slots), null, lockKeys) { CopyFill = copyFill };
    }

    private sealed record Edit(int Start, int Length, List<(string Text, int Slot)> Parts);

    private static void ThrowIfNodeSpecific(List<ColumnInfo> columns)
    {
        if (columns.FirstOrDefault(c => c.Default == ColumnDefault.NodeSpecific) is { } column)
        {
            throw new NodeSpecificDefaultException(column);
        }
    }

    /// <summary>A row would take a node-specific default (<see cref="ColumnDefault.NodeSpecific"/>): the write is refused.</summary>
    private sealed class NodeSpecificDefaultException(ColumnInfo column) : Exception($"column {column.Name} has a node-specific default")
    {
        public ColumnInfo Column { get; } = column;
    }

    private static string? RewriteStatement(string sql, StatementInfo statement, QueryPlan plan, Func<QualifiedName, TableInfo?> tables, bool allow, bool insertLock, List<Edit> edits, List<Slot> slots, List<string> lockKeys, ref CopyRowFill? copyFill)
    {
        // Only statements that evaluate expressions into stored rows: DDL mostly stores expressions
        // (a DEFAULT now() must stay now()); the few places where it evaluates them are below.
        var ddl = statement.Kind == StatementKind.Ddl;
        if (!ddl && statement.Kind is not (StatementKind.Insert or StatementKind.Update or StatementKind.Delete or StatementKind.Merge
            or StatementKind.Select or StatementKind.CopyFrom or StatementKind.Call or StatementKind.Execute))
        {
            return null;
        }

        if (statement.IsReadOnly && statement.FunctionCalls.Count == 0)
        {
            return null;
        }

        var tokens = TokenListPool.Rent(); // every write of pgbench's TPC-B comes here: no list per statement
        try
        {
            SqlLexer.Tokenize(sql.AsSpan(0, statement.Start + statement.Length), statement.Start, tokens);
            return RewriteLexedStatement(sql, statement, plan, tables, allow, insertLock, edits, slots, lockKeys, ref copyFill, tokens, ddl);
        }
        catch (NodeSpecificDefaultException e)
        {
            // Raised wherever a row would take such a default (VALUES, DEFAULT, INSERT ... SELECT, MERGE, COPY, SET x = DEFAULT).
            return $"column {e.Column.Name} would take its default, {e.Column.NodeSpecificCall}, which gives each node its own value, so the nodes would store different data; supply the column's value or set allow_nondeterministic_writes = on";
        }
        finally
        {
            TokenListPool.Return(tokens);
        }
    }

    private static string? RewriteLexedStatement(string sql, StatementInfo statement, QueryPlan plan, Func<QualifiedName, TableInfo?> tables, bool allow, bool insertLock, List<Edit> edits, List<Slot> slots, List<string> lockKeys, ref CopyRowFill? copyFill, List<SqlToken> tokens, bool ddl)
    {
        if (ddl)
        {
            switch (EvaluationOf(sql, tokens))
            {
                case DdlEvaluation.AlterTable:
                    return RewriteAlterTable(sql, tokens, plan, allow, edits, slots);
                case DdlEvaluation.None:
                    return null;
            }
        }
        var valuesTuples = statement.Kind == StatementKind.Insert ? FindValuesTuples(sql, tokens) : [];

        // 1. Time functions anywhere in the statement: the main node's clock.
        var clocks = default(ClockSlots);
        foreach (var use in plan.TimeFunctions)
        {
            if (use.Start >= statement.Start && use.Start < statement.Start + statement.Length)
            {
                edits.Add(new Edit(use.Start, use.Length, TimeParts(use.Cast, clocks.For(use.Source, slots))));
            }
        }

        // 2. ctid is where a row happens to be stored on one node: rows chosen by it differ per node.
        if (!allow && statement.Kind is StatementKind.Insert or StatementKind.Update or StatementKind.Delete or StatementKind.Merge
            && sql.AsSpan(statement.Start, statement.Length).ContainsAny(CtidWord) && ChoosesRowsByCtid(sql, tokens))
        {
            return "ctid is where each node happens to store a row, so rows chosen by it differ from node to node; compare a unique key instead (a.id < b.id), or set allow_nondeterministic_writes = on";
        }

        // 3. Calls to functions whose value differs per node.
        for (var i = 0; i + 2 < tokens.Count; i++)
        {
            if (tokens[i].Kind != SqlTokenKind.Identifier || tokens[i + 1].Kind != SqlTokenKind.OpenParen)
            {
                continue;
            }

            var name = new QualifiedName(
                i >= 2 && tokens[i - 1].Kind == SqlTokenKind.Dot ? sql.Substring(tokens[i - 2].Start, tokens[i - 2].Length).ToLowerInvariant() : null,
                sql.Substring(tokens[i].Start, tokens[i].Length).ToLowerInvariant());
            var start = name.Schema is null ? tokens[i].Start : tokens[i - 2].Start;
            if (NondeterministicFunctions.Generated(name, sql, tokens, i) is var (generated, close))
            {
                if (valuesTuples.Any(t => t.Start < tokens[i].Start && tokens[i].Start < t.End))
                {
                    edits.Add(new Edit(start, tokens[close].End - start, GeneratedParts(generated, slots)));
                    i = close;
                    continue;
                }

                if (statement.Kind == StatementKind.Update && !allow && KeyedPerRowParts(sql, tokens, i, generated, tables, slots) is { } keyed)
                {
                    edits.Add(new Edit(start, tokens[close].End - start, keyed));
                    i = close;
                    continue;
                }

                if (!allow)
                {
                    return $"{name.Name}() would give every node a different value here (it is evaluated per row); pass the value explicitly, use it in a VALUES list or in an UPDATE's SET of a table with a primary key, or set allow_nondeterministic_writes = on";
                }
            }
            else if (LargeObjectIds.IsCreator(name) && LargeObjectOidEdit(sql, tokens, i, start, name.Name, slots) is { } named)
            {
                edits.Add(named);
                continue;
            }
            else if (!allow && NondeterministicFunctions.NotReproducibleCall(name, sql, tokens, i) is { } call)
            {
                return $"{call} returns a different value on every node, so the nodes would store different data; pass the value explicitly or set allow_nondeterministic_writes = on";
            }

            if (insertLock && name.Name is "nextval" && tokens[i + 2].Kind == SqlTokenKind.String)
            {
                // An explicit nextval('seq'): serialise it like an insert into a serial column.
                lockKeys.Add($"{LockClass}, pg_catalog.hashtext({sql.Substring(tokens[i + 2].Start, tokens[i + 2].Length)})");
            }
        }

        // 4. SKIP LOCKED in a statement that changes rows (a queue pop: UPDATE jobs ... WHERE id =
        // (SELECT ... FOR UPDATE SKIP LOCKED)): which rows it skips depends on each node's row locks
        // at that moment, so two concurrent pops could take different rows on different nodes. Such
        // statements on one table run one at a time (an advisory lock on the main node, held until
        // commit, which is after the other nodes committed), so every node sees the same rows free.
        if (!allow && statement.ChangesRowsSkippingLocked)
        {
            var table = statement.TargetTable?.ToString() ?? "";
            lockKeys.Add($"{SkipLockedClass}, pg_catalog.hashtext({BackendQuery.Literal(table)})");
        }

        // 5. Column defaults of the target table.
        if (statement.TargetTable is { } copyTarget && statement.Kind == StatementKind.CopyFrom && tables(copyTarget) is { } copied)
        {
            if (insertLock && copied.UsesSequence && statement.InsertLockHint != false)
            {
                // Concurrent COPYs into a serial column take its numbers in one order on every node, as INSERTs do.
                lockKeys.Add(TableLockKey(copied));
            }

            return RewriteCopyDefaults(sql, tokens, copied, allow, edits, ref copyFill);
        }

        if (statement.TargetTable is { } target && statement.Kind is StatementKind.Insert or StatementKind.Update or StatementKind.Merge)
        {
            var table = tables(target);
            if (table is null)
            {
                return null; // unknown table: the statement will fail the same way on every node
            }

            if (insertLock && statement.Kind is StatementKind.Insert or StatementKind.Merge && table.UsesSequence && statement.InsertLockHint != false)
            {
                lockKeys.Add(TableLockKey(table));
            }
            else if (statement.InsertLockHint == true && statement.Kind == StatementKind.Insert)
            {
                lockKeys.Add(TableLockKey(table));
            }

            if (table.Columns.Any(c => c.DiffersPerNode))
            {
                var refusal = statement.Kind switch
                {
                    StatementKind.Insert => RewriteInsertDefaults(sql, tokens, table, valuesTuples, tables, allow, edits, slots, ref clocks)
                        ?? RewriteUpdateDefaults(sql, tokens, table, allow, edits, slots, ref clocks), // ON CONFLICT ... DO UPDATE SET x = DEFAULT
                    StatementKind.Merge => RewriteUpdateDefaults(sql, tokens, table, allow, edits, slots, ref clocks)
                        ?? RewriteMergeInsertDefaults(sql, tokens, table, allow, edits, slots, ref clocks),
                    _ => RewriteUpdateDefaults(sql, tokens, table, allow, edits, slots, ref clocks),
                };
                if (refusal is not null)
                {
                    return refusal;
                }
            }
        }

        // 6. Queries whose rows depend on each node's physical row order: ordered by the table's key.
        if (MayDependOnRowOrder(sql.AsSpan(statement.Start, statement.Length), statement.Kind))
        {
            var insertTarget = statement.Kind == StatementKind.Insert && statement.TargetTable is { } inserted ? tables(inserted) : null;
            OrderRowsByKey(sql, tokens, statement.Kind, insertTarget, tables, edits);
        }

        // 7. INSERTs inside WITH (WITH ins AS (INSERT ... RETURNING id) SELECT ...): their defaults too.
        foreach (var (body, insertTarget) in InsertsInWith(sql, tokens))
        {
            if (tables(insertTarget) is { } inserted && inserted.Columns.Any(c => c.DiffersPerNode)
                && RewriteInsertDefaults(sql, body, inserted, FindValuesTuples(sql, body), tables, allow, edits, slots, ref clocks) is { } refusal)
            {
                return refusal;
            }
        }

        return null;
    }

    // A ctid before the statement's RETURNING (returning one is harmless: it only reports where the main node put a row).
    private static bool ChoosesRowsByCtid(string sql, List<SqlToken> tokens)
    {
        var depth = 0;
        foreach (var token in tokens)
        {
            depth += token.Kind == SqlTokenKind.OpenParen ? 1 : token.Kind == SqlTokenKind.CloseParen ? -1 : 0;
            var text = sql.AsSpan(token.Start, token.Length);
            if (token.Kind == SqlTokenKind.Identifier && depth == 0 && text.Equals("returning", StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            if ((token.Kind == SqlTokenKind.Identifier && text.Equals("ctid", StringComparison.OrdinalIgnoreCase))
                || (token.Kind == SqlTokenKind.QuotedIdentifier && text.SequenceEqual("\"ctid\"")))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// <c>EXECUTE name(...)</c> of a write prepared with SQL <c>PREPARE</c> that the proxy rewrote:
    /// the prepared statement takes the proxy's values as extra parameters after the client's, so
    /// each execution passes fresh ones (the main node's clock, random values, large object OIDs)
    /// as extra arguments, and takes its insert_lock keys.
    /// </summary>
    private static void ExecuteEdit(string sql, StatementInfo statement, Func<string, WriteRewrite?> sqlPrepared, List<Edit> edits, List<Slot> slots, List<string> lockKeys)
    {
        if (StatementNames.ExecuteParts(sql.AsSpan(statement.Start, statement.Length)) is not var (name, closeParen) || sqlPrepared(name) is not { } prepared)
        {
            return;
        }

        lockKeys.AddRange(prepared.LockKeys);
        if (prepared.Template is not { Slots.Count: > 0 } template)
        {
            return;
        }

        var parts = new List<(string, int)>();
        foreach (var kind in template.Slots)
        {
            parts.Add((parts.Count == 0 && closeParen < 0 ? " (" : ", ", -1));
            parts.Add(("", NewSlot(slots, kind)));
        }

        if (closeParen < 0)
        {
            parts.Add((")", -1));
        }

        edits.Add(new Edit(closeParen < 0 ? statement.Start + statement.Length : statement.Start + closeParen, 0, parts));
    }

    /// <summary>
    /// A call that creates a large object under an OID of the server's choosing (<c>lo_creat(mode)</c>,
    /// <c>lo_create(0)</c>, <c>lo_from_bytea(0, data)</c>, <c>lo_import(path)</c>): the edit that names
    /// the OID instead, the same on every node. An OID argument that is not a constant (a parameter,
    /// an expression) is kept unless it is 0. Null when the call names a constant OID (or cannot be read).
    /// </summary>
    private static Edit? LargeObjectOidEdit(string sql, List<SqlToken> tokens, int call, int start, string function, List<Slot> slots)
    {
        var open = call + 1;
        if (Matching(tokens, open) is not (var close and > 0))
        {
            return null;
        }

        List<(string, int)> Oid(string before, string after) => [(before + "(", -1), ("", NewSlot(slots, SlotKind.LargeObjectId)), ("::pg_catalog.oid)" + after, -1)];
        var items = Items(tokens, open, close);
        if (function == "lo_creat")
        {
            // Its mode argument has been ignored since PostgreSQL 8.1; lo_create takes the OID.
            return new Edit(start, tokens[close].End - start, Oid("pg_catalog.lo_create(", ")"));
        }

        var oidArgument = function == "lo_import" ? 1 : 0;
        if (function == "lo_import" && items.Count == 1)
        {
            return new Edit(tokens[close].Start, 0, Oid(", ", ""));
        }

        if (items.Count <= oidArgument)
        {
            return null;
        }

        var (first, last) = items[oidArgument];
        var from = tokens[first].Start;
        var text = sql[from..tokens[last].End];
        if (first == last && tokens[first].Kind is SqlTokenKind.Number or SqlTokenKind.String)
        {
            return text.Trim('\'') == "0" ? new Edit(from, text.Length, Oid("", "")) : null;
        }

        return new Edit(from, text.Length, Oid($"COALESCE(NULLIF(({text})::pg_catalog.oid, '0'), ", ")"));
    }

    /// <summary>
    /// The INSERTs that are the body of a WITH query (<c>name AS [[NOT] MATERIALIZED] (INSERT ...)</c>):
    /// the tokens inside the parentheses and the table each inserts into.
    /// </summary>
    private static List<(List<SqlToken> Body, QualifiedName Target)> InsertsInWith(string sql, List<SqlToken> tokens)
    {
        var inserts = new List<(List<SqlToken>, QualifiedName)>();
        if (tokens.Count == 0 || !SqlLexer.IsKeyword(sql, tokens[0], "with"))
        {
            return inserts;
        }

        for (var i = 1; i + 1 < tokens.Count; i++)
        {
            if (tokens[i].Kind != SqlTokenKind.OpenParen || !SqlLexer.IsKeyword(sql, tokens[i + 1], "insert") || Matching(tokens, i) is not (var close and > 0))
            {
                continue;
            }

            var body = tokens.GetRange(i + 1, close - i - 1);
            var reader = new TokenReader(sql, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(body));
            var name = 2; // INSERT INTO name
            if (reader.Is(1, "into") && reader.ReadName(ref name) is { } target)
            {
                inserts.Add((body, target));
            }
        }

        return inserts;
    }

    /// <summary>insert_lock's advisory lock key for a table: its class and oid in one bigint.</summary>
    private static string TableLockKey(TableInfo table) => ((LockClass << 32) | table.Oid).ToString(CultureInfo.InvariantCulture);

    private static int NewSlot(List<Slot> slots, Slot slot)
    {
        slots.Add(slot);
        return slots.Count - 1;
    }

    /// <summary>
    /// A proxy-generated value in place of a random call, typed as the call's result. Random bytes
    /// travel as hex digits and are decoded, so no backslash depends on standard_conforming_strings.
    /// </summary>
    private static List<(string, int)> GeneratedParts(GeneratedValue generated, List<Slot> slots)
    {
        var slot = NewSlot(slots, new Slot(generated.Kind, generated.Argument));
        return generated.Kind == SlotKind.RandomBytes
            ? [("pg_catalog.decode(", -1), ("", slot), (", 'hex')", -1)]
            : [("(", -1), ("", slot), ($"::{generated.Type})", -1)];
    }

    private static List<(string, int)> TimeParts(string cast, int slot) => cast switch
    {
        "text" => [("", slot)], // a 'now' literal: its own cast follows
        "timestamptz" => [("", slot), ("::timestamptz", -1)],
        _ => [("(", -1), ("", slot), ($"::timestamptz)::{cast}", -1)],
    };

    /// <summary>
    /// A time or random column default as the statement's own expression: the default's expression
    /// (now() + interval '1 day', substr(md5(random()::text), 1, 8) ...) with the main node's
    /// clock in place of its time functions and a value generated once per use in place of each
    /// random call, cast to the column's type as the default is.
    /// </summary>
    private static List<(string, int)> DefaultParts(ColumnInfo column, List<Slot> slots, ref ClockSlots clocks)
    {
        if (column.Default == ColumnDefault.NodeSpecific)
        {
            throw new NodeSpecificDefaultException(column);
        }

        var expression = column.DefaultExpression ?? throw new InvalidOperationException($"column {column.Name} has no default expression");
        var replacements = new List<(int Start, int Length, List<(string, int)> Parts)>();
        foreach (var use in TimeFunctions.Find(expression))
        {
            replacements.Add((use.Start, use.Length, TimeParts(use.Cast, clocks.For(use.Source, slots))));
        }

        foreach (var (start, length, generated) in NondeterministicFunctions.RandomCalls(expression))
        {
            replacements.Add((start, length, GeneratedParts(generated, slots)));
        }

        replacements.Sort((a, b) => a.Start.CompareTo(b.Start));
        var parts = new List<(string, int)> { ("(", -1) };
        var position = 0;
        foreach (var (start, length, replacement) in replacements)
        {
            parts.Add((expression[position..start], -1));
            parts.AddRange(replacement);
            position = start + length;
        }

        parts.Add((expression[position..] + ")::" + column.Type, -1));
        return parts;
    }

    /// <summary>The holes for the main node's two clocks: one of each per statement, made when first needed.</summary>
    private struct ClockSlots
    {
        private int? _transaction;
        private int? _statement;

        public int For(TimeSource source, List<Slot> slots) => source == TimeSource.Transaction
            ? _transaction ??= NewSlot(slots, SlotKind.TransactionTime)
            : _statement ??= NewSlot(slots, SlotKind.StatementTime);
    }

    /// <summary>The columns an INSERT fills: the named ones (an unknown name matches no column), else the table's first <paramref name="positional"/>.</summary>
    private static List<ColumnInfo> TargetColumns(TableInfo table, List<string>? listed, int positional) => listed is null
        ? [.. table.Columns.Take(positional)]
        : [.. listed.Select(name => table.Columns.FirstOrDefault(c => Unquote(c.Name) == Unquote(name)) ?? new ColumnInfo(name, "", ColumnDefault.Deterministic, null, null))];

    /// <summary>The columns with a time or random default that <paramref name="targets"/> leaves to it.</summary>
    private static List<ColumnInfo> LeftToDefault(TableInfo table, List<ColumnInfo> targets) =>
        [.. table.Columns.Where(c => c.DiffersPerNode && !targets.Contains(c))];

    /// <summary>
    /// Names the columns the proxy adds values for: after the column list's last name, or, when
    /// there is no list (<paramref name="listClose"/> -1), as a whole list after token
    /// <paramref name="nameEnd"/>: the columns the statement fills by position, then the added ones.
    /// </summary>
    private static Edit ColumnListEdit(List<SqlToken> tokens, int listClose, int nameEnd, List<ColumnInfo> positional, List<ColumnInfo> added) => listClose >= 0
        ? new Edit(tokens[listClose].Start, 0, [(", " + string.Join(", ", added.Select(c => c.Name)), -1)])
        : new Edit(tokens[nameEnd].End, 0, [($" ({string.Join(", ", positional.Concat(added).Select(c => c.Name))})", -1)]);

    /// <summary>The default values of <paramref name="columns"/>, separated by commas (one before the first too when <paramref name="leadingComma"/>).</summary>
    private static List<(string, int)> DefaultsParts(List<ColumnInfo> columns, bool leadingComma, List<Slot> slots, ref ClockSlots clocks)
    {
        var parts = new List<(string, int)>();
        for (var c = 0; c < columns.Count; c++)
        {
            parts.AddRange(c > 0 || leadingComma ? [(", ", -1)] : []);
            parts.AddRange(DefaultParts(columns[c], slots, ref clocks));
        }

        return parts;
    }

    /// <summary>DEFAULT VALUES with the columns that need the proxy's values named: <c>(a, b) VALUES (..., ...)</c>.</summary>
    private static List<(string, int)> DefaultValuesParts(List<ColumnInfo> columns, List<Slot> slots, ref ClockSlots clocks) =>
        [($"({string.Join(", ", columns.Select(c => c.Name))}) VALUES (", -1), .. DefaultsParts(columns, leadingComma: false, slots, ref clocks), (")", -1)];

    /// <summary>
    /// Token indexes in INSERT INTO name [AS alias] [(columns)] [OVERRIDING ... VALUE] { VALUES |
    /// DEFAULT VALUES | query }: the name (or alias), the column list's parentheses (-1 when there
    /// is none) and where the rows come from (the token count when nothing follows).
    /// </summary>
    private static (int NameEnd, int ListOpen, int ListClose, int Body) ShapeOfInsert(string sql, List<SqlToken> tokens, List<(int Start, int End, int OpenIndex, int CloseIndex)> tuples)
    {
        var i = 0;
        for (var depth = 0; i < tokens.Count && (depth > 0 || !SqlLexer.IsKeyword(sql, tokens[i], "into")); i++)
        {
            depth += tokens[i].Kind == SqlTokenKind.OpenParen ? 1 : tokens[i].Kind == SqlTokenKind.CloseParen ? -1 : 0; // not an INSERT inside a WITH
        }

        i++; // table name
        while (i + 2 < tokens.Count && tokens[i + 1].Kind == SqlTokenKind.Dot)
        {
            i += 2;
        }

        var nameEnd = i;
        i++;
        if (i < tokens.Count && SqlLexer.IsKeyword(sql, tokens[i], "as"))
        {
            nameEnd = i + 1;
            i += 2;
        }

        int listOpen = -1, listClose = -1;
        if (i < tokens.Count && tokens[i].Kind == SqlTokenKind.OpenParen && (tuples.Count == 0 || tokens[i].Start != tuples[0].Start) && !StartsQuery(sql, tokens, i + 1)
            && Matching(tokens, i) is var close and > 0)
        {
            (listOpen, listClose) = (i, close);
            i = close + 1;
        }

        while (i < tokens.Count && !SqlLexer.IsKeyword(sql, tokens[i], "values") && !SqlLexer.IsKeyword(sql, tokens[i], "default") && !StartsQuery(sql, tokens, i))
        {
            i++; // OVERRIDING { SYSTEM | USER } VALUE
        }

        return (nameEnd, listOpen, listClose, i);
    }

    // A query (SELECT, WITH, TABLE, VALUES, or one in parentheses) starts at token i; a column list does not.
    private static bool StartsQuery(string sql, List<SqlToken> tokens, int i) =>
        i < tokens.Count && (tokens[i].Kind == SqlTokenKind.OpenParen || SqlLexer.IsKeyword(sql, tokens[i], "select") || SqlLexer.IsKeyword(sql, tokens[i], "with")
            || SqlLexer.IsKeyword(sql, tokens[i], "table") || SqlLexer.IsKeyword(sql, tokens[i], "values"));

    /// <summary>
    /// The tables whose catalog facts the rewrite of a statement needs, for the session to look up
    /// first: the target of an INSERT, UPDATE, MERGE or COPY FROM; for an INSERT without a column
    /// list whose query is <c>SELECT * FROM s</c> or <c>TABLE s</c>, also s (its width tells which
    /// columns the query fills); and the tables INSERTs inside WITH insert into.
    /// </summary>
    public static List<QualifiedName> TablesToLookUp(string sql, StatementInfo statement)
    {
        ArgumentNullException.ThrowIfNull(statement);
        var names = new List<QualifiedName>();
        if (statement.TargetTable is { } target && statement.Kind is StatementKind.Insert or StatementKind.Update or StatementKind.Merge or StatementKind.CopyFrom)
        {
            names.Add(target);
        }

        var text = sql.AsSpan(statement.Start, statement.Length);
        var star = statement.Kind == StatementKind.Insert && (text.Contains('*') || text.ContainsAny(TableWord));
        var with = !statement.IsReadOnly && text.TrimStart().StartsWith("with", StringComparison.OrdinalIgnoreCase);
        var rowOrder = MayDependOnRowOrder(text, statement.Kind);
        if (!star && !with && !rowOrder)
        {
            return names; // most statements: no lexing on their way
        }

        var tokens = TokenListPool.Rent();
        try
        {
            SqlLexer.Tokenize(sql.AsSpan(0, statement.Start + statement.Length), statement.Start, tokens);
            if (star && ShapeOfInsert(sql, tokens, FindValuesTuples(sql, tokens)) is { ListOpen: < 0 } shape && StarSource(sql, tokens, shape.Body) is { } source)
            {
                names.Add(source);
            }

            if (with)
            {
                names.AddRange(InsertsInWith(sql, tokens).Select(insert => insert.Target));
            }

            if (rowOrder)
            {
                names.AddRange(OrderDependentQueries(sql, tokens, statement.Kind).Select(query => query.Table));
            }
        }
        finally
        {
            TokenListPool.Return(tokens);
        }

        return names;
    }

    private static QualifiedName? StarSource(string sql, List<SqlToken> tokens, int i)
    {
        var reader = new TokenReader(sql, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokens));
        i = reader.SkipOpenParens(i);
        if (reader.Is(i, "table"))
        {
            i++;
            return reader.ReadName(ref i) is { } table && EndsSingleTableQuery(reader, i) ? table : null;
        }

        if (!reader.Is(i, "select"))
        {
            return null;
        }

        i++;
        if (reader.IsName(i) && reader.IsKind(i + 1, SqlTokenKind.Dot))
        {
            i += 2; // alias.*
        }

        if (!reader.IsKind(i, SqlTokenKind.Operator) || reader.Text(i) is not "*" || !reader.Is(i + 1, "from"))
        {
            return null;
        }

        i += 2;
        return ReadFromItem(reader, ref i) is var (source, _) && EndsSingleTableQuery(reader, i) ? source : null;
    }

    /// <summary>
    /// A FROM item <c>name [[AS] alias]</c> at <paramref name="i"/> (advancing past it): the table, and
    /// how the query names it (its alias, or the name as written). Null when no name is there.
    /// </summary>
    private static (QualifiedName Table, string Qualifier)? ReadFromItem(TokenReader reader, ref int i)
    {
        var nameStart = i;
        if (reader.ReadName(ref i) is not { } table)
        {
            return null;
        }

        var qualifier = reader.Sql[reader.Tokens[nameStart].Start..reader.Tokens[i - 1].End].ToString();
        if (reader.Is(i, "as") && reader.IsName(i + 1))
        {
            qualifier = reader.Text(i + 1).ToString();
            i += 2;
        }
        else if (reader.IsKind(i, SqlTokenKind.QuotedIdentifier) || (reader.IsKind(i, SqlTokenKind.Identifier) && IsAlias(reader.Text(i).ToString().ToLowerInvariant())))
        {
            qualifier = reader.Text(i).ToString();
            i++;
        }

        return (table, qualifier);
    }

    // Words after a FROM item that leave the query's columns those of its one table.
    private static readonly HashSet<string> KeepsOneTable = new(StringComparer.Ordinal) { "where", "order", "limit", "offset", "fetch", "for" };

    // Words after a FROM item that may change its columns (a join, a set operation, grouping), or a sample clause.
    private static readonly HashSet<string> MayChangeColumns = new(StringComparer.Ordinal)
    {
        "group", "having", "window", "join", "inner", "left", "right", "full", "cross", "natural", "union", "except", "intersect", "tablesample",
    };

    // None of these is a FROM item's alias (RETURNING and ON belong to the INSERT).
    private static bool IsAlias(string word) => !KeepsOneTable.Contains(word) && !MayChangeColumns.Contains(word) && word is not ("returning" or "on");

    // Nothing after the FROM item adds columns: no join, no second table, no set operation (up to
    // the INSERT's own RETURNING or ON CONFLICT).
    private static bool EndsSingleTableQuery(TokenReader reader, int i)
    {
        var depth = 0;
        for (; i < reader.Count; i++)
        {
            depth += reader.IsKind(i, SqlTokenKind.OpenParen) ? 1 : reader.IsKind(i, SqlTokenKind.CloseParen) ? -1 : 0;
            if (depth > 0)
            {
                continue;
            }

            if (reader.Is(i, "returning") || reader.Is(i, "on"))
            {
                return true;
            }

            if (reader.IsKind(i, SqlTokenKind.Comma) || (reader.IsKind(i, SqlTokenKind.Identifier) && MayChangeColumns.Contains(reader.Text(i).ToString().ToLowerInvariant())))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The parenthesised rows after VALUES in an INSERT (token ranges), empty when there are none.</summary>
    private static List<(int Start, int End, int OpenIndex, int CloseIndex)> FindValuesTuples(string sql, List<SqlToken> tokens)
    {
        var result = new List<(int, int, int, int)>();
        var depth = 0;
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.Kind == SqlTokenKind.OpenParen)
            {
                depth++;
            }
            else if (token.Kind == SqlTokenKind.CloseParen)
            {
                depth--;
            }
            else if (depth == 0 && SqlLexer.IsKeyword(sql, token, "values") && !(i > 0 && SqlLexer.IsKeyword(sql, tokens[i - 1], "default")))
            {
                var j = i + 1;
                while (j < tokens.Count && tokens[j].Kind == SqlTokenKind.OpenParen)
                {
                    var close = Matching(tokens, j);
                    if (close < 0)
                    {
                        return result;
                    }

                    result.Add((tokens[j].Start, tokens[close].End, j, close));
                    j = close + 1;
                    if (j < tokens.Count && tokens[j].Kind == SqlTokenKind.Comma)
                    {
                        j++;
                    }
                    else
                    {
                        break;
                    }
                }

                return result;
            }
        }

        return result;
    }

    private static int Matching(List<SqlToken> tokens, int open)
    {
        var depth = 0;
        for (var i = open; i < tokens.Count; i++)
        {
            if (tokens[i].Kind == SqlTokenKind.OpenParen)
            {
                depth++;
            }
            else if (tokens[i].Kind == SqlTokenKind.CloseParen && --depth == 0)
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// How many columns the query of an INSERT ... SELECT yields, read from its first SELECT list;
    /// null when a * leaves it open or the query is not a plain [WITH ...] SELECT.
    /// </summary>
    private static int? SelectListWidth(string sql, List<SqlToken> tokens, int start) =>
        FirstSelectList(sql, tokens, start) is var (_, _, width) ? width : null;

    /// <summary>
    /// The first SELECT list of a [WITH ...] SELECT query: its first token, the token after it
    /// (FROM, WHERE ... or the end), and its width (null when a * leaves it open); null when the
    /// query is not such a SELECT.
    /// </summary>
    private static (int Start, int End, int? Width)? FirstSelectList(string sql, List<SqlToken> tokens, int start)
    {
        var i = start;
        if (i < tokens.Count && SqlLexer.IsKeyword(sql, tokens[i], "with"))
        {
            for (; i < tokens.Count && !SqlLexer.IsKeyword(sql, tokens[i], "select"); i++)
            {
                if (tokens[i].Kind == SqlTokenKind.OpenParen && (i = Matching(tokens, i)) < 0)
                {
                    return null;
                }
            }
        }

        if (i >= tokens.Count || !SqlLexer.IsKeyword(sql, tokens[i], "select"))
        {
            return null;
        }

        i++;
        if (i < tokens.Count && SqlLexer.IsKeyword(sql, tokens[i], "all"))
        {
            i++;
        }
        else if (i < tokens.Count && SqlLexer.IsKeyword(sql, tokens[i], "distinct"))
        {
            i++;
            if (i + 1 < tokens.Count && SqlLexer.IsKeyword(sql, tokens[i], "on") && tokens[i + 1].Kind == SqlTokenKind.OpenParen)
            {
                i = Matching(tokens, i + 1) + 1;
                if (i == 0)
                {
                    return null;
                }
            }
        }

        var listStart = i;
        int? width = 1;
        var depth = 0;
        var itemStart = true;
        for (; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.Kind is SqlTokenKind.OpenParen or SqlTokenKind.OpenBracket)
            {
                depth++;
            }
            else if (token.Kind is SqlTokenKind.CloseParen or SqlTokenKind.CloseBracket)
            {
                depth--;
            }
            else if (depth == 0)
            {
                if (token.Kind == SqlTokenKind.Identifier && SelectListEnd.Contains(sql.Substring(token.Start, token.Length).ToLowerInvariant()))
                {
                    break;
                }

                if (token.Kind == SqlTokenKind.Comma)
                {
                    width++;
                    itemStart = true;
                    continue;
                }

                if (token.Kind == SqlTokenKind.Operator && token.Length == 1 && sql[token.Start] == '*' && (itemStart || tokens[i - 1].Kind == SqlTokenKind.Dot))
                {
                    width = null; // * or t.*
                }
            }

            itemStart = false;
        }

        return (listStart, i, width);
    }

    /// <summary>Whether UNION, INTERSECT or EXCEPT joins another query at the top level between tokens <paramref name="from"/> and <paramref name="to"/>.</summary>
    private static bool HasTopLevelSetOperation(string sql, List<SqlToken> tokens, int from, int to) =>
        TopLevelKeyword(sql, tokens, from, to, "union") >= 0 || TopLevelKeyword(sql, tokens, from, to, "intersect") >= 0
        || TopLevelKeyword(sql, tokens, from, to, "except") >= 0;

    /// <summary>Top-level comma-separated items between two parenthesis tokens: (first token, last token) index pairs.</summary>
    private static List<(int First, int Last)> Items(List<SqlToken> tokens, int open, int close)
    {
        var items = new List<(int, int)>();
        var depth = 0;
        var first = open + 1;
        for (var i = open + 1; i < close; i++)
        {
            var kind = tokens[i].Kind;
            if (kind is SqlTokenKind.OpenParen or SqlTokenKind.OpenBracket)
            {
                depth++;
            }
            else if (kind is SqlTokenKind.CloseParen or SqlTokenKind.CloseBracket)
            {
                depth--;
            }
            else if (kind == SqlTokenKind.Comma && depth == 0)
            {
                items.Add((first, i - 1));
                first = i + 1;
            }
        }

        if (first < close)
        {
            items.Add((first, close - 1));
        }

        return items;
    }

    private static string ColumnName(string sql, SqlToken token)
    {
        var text = sql.Substring(token.Start, token.Length);
        return token.Kind == SqlTokenKind.QuotedIdentifier ? text : text.ToLowerInvariant();
    }

    private static string Unquote(string name) => name.StartsWith('"') ? name[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal) : name;

    /// <summary>
    /// INSERT: columns whose default is a time or random function get explicit values when the
    /// statement leaves them to the default (omitted from the column list, DEFAULT in a row,
    /// DEFAULT VALUES, or an INSERT ... SELECT naming its columns).
    /// </summary>
    private static string? RewriteInsertDefaults(string sql, List<SqlToken> tokens, TableInfo table, List<(int Start, int End, int OpenIndex, int CloseIndex)> tuples, Func<QualifiedName, TableInfo?> tables, bool allow, List<Edit> edits, List<Slot> slots, ref ClockSlots clocks)
    {
        var (nameEnd, listOpen, listClose, i) = ShapeOfInsert(sql, tokens, tuples);
        List<string>? listed = listOpen < 0 ? null : [.. Items(tokens, listOpen, listClose).Select(item => ColumnName(sql, tokens[item.First]))];
        var targets = TargetColumns(table, listed, tuples.Count > 0 ? Items(tokens, tuples[0].OpenIndex, tuples[0].CloseIndex).Count : 0);
        var missing = LeftToDefault(table, targets);

        if (i >= tokens.Count)
        {
            return null;
        }

        if (SqlLexer.IsKeyword(sql, tokens[i], "default") && i + 1 < tokens.Count && SqlLexer.IsKeyword(sql, tokens[i + 1], "values"))
        {
            if (missing.Count == 0)
            {
                return null;
            }

            edits.Add(new Edit(tokens[i].Start, tokens[i + 1].End - tokens[i].Start, DefaultValuesParts(missing, slots, ref clocks)));
            return null;
        }

        List<ColumnInfo>? filled = null;
        if (tuples.Count == 0 && listed is null
            && (SelectListWidth(sql, tokens, i) ?? (StarSource(sql, tokens, i) is { } source ? tables(source)?.Width : null)) is { } width)
        {
            // INSERT INTO t SELECT a, b, c ... (or SELECT * FROM s, TABLE s): the query fills the table's first columns.
            filled = [.. table.Columns.Take(width)];
            missing = [.. missing.Where(c => !filled.Contains(c))];
        }

        if (tuples.Count == 0)
        {
            // INSERT ... SELECT: one value per row would be needed for a random default.
            if (missing.Any(c => c.Default == ColumnDefault.Random))
            {
                var column = missing.First(c => c.Default == ColumnDefault.Random);
                return allow ? null : $"the default of column {column.Name} ({column.RandomKind} per row) would differ on every node for rows of an INSERT ... SELECT; supply the column's values or set allow_nondeterministic_writes = on";
            }

            if (missing.Count == 0)
            {
                return null;
            }

            if (listed is null && (filled is null || table.Width != table.Columns.Count))
            {
                // The query's width is unknown (or generated columns would shift the positions).
                ThrowIfNodeSpecific(missing);
                return allow ? null : $"INSERT ... SELECT into {table.Name} leaves column {missing[0].Name} to its time default; name the target columns so the proxy can give every node the same time";
            }

            // INSERT INTO t (a, b, created) SELECT s.*, <time> FROM (<query>) s
            var queryStart = i;
            var queryEnd = tokens.Count - 1;
            for (var k = queryStart; k < tokens.Count; k++)
            {
                if (SqlLexer.IsKeyword(sql, tokens[k], "returning") || (SqlLexer.IsKeyword(sql, tokens[k], "on") && k + 1 < tokens.Count && SqlLexer.IsKeyword(sql, tokens[k + 1], "conflict")))
                {
                    queryEnd = k - 1;
                    break;
                }
            }

            while (queryEnd >= queryStart && tokens[queryEnd].Kind == SqlTokenKind.Semicolon)
            {
                queryEnd--;
            }

            edits.Add(ColumnListEdit(tokens, listClose, nameEnd, filled ?? [], missing));
            if (FirstSelectList(sql, tokens, queryStart) is var (listStart, listEnd, _) && listEnd > listStart && !HasTopLevelSetOperation(sql, tokens, listEnd, queryEnd))
            {
                // INSERT INTO t (a, b, created) SELECT x, y, <time> FROM ...: the values keep the
                // types PostgreSQL gives them in an INSERT (an untyped 'literal' or NULL fits any
                // column; in a subquery it would become text).
                edits.Add(new Edit(tokens[listEnd - 1].End, 0, DefaultsParts(missing, leadingComma: true, slots, ref clocks)));
                return null;
            }

            List<(string, int)> prefix = [("SELECT pgpc_source.*", -1), .. DefaultsParts(missing, leadingComma: true, slots, ref clocks), (" FROM (", -1)];
            edits.Add(new Edit(tokens[queryStart].Start, 0, prefix));
            edits.Add(new Edit(tokens[queryEnd].End, 0, [(") AS pgpc_source", -1)]));
            return null;
        }

        // VALUES rows: DEFAULT items of such columns get a value; omitted columns are added.
        foreach (var tuple in tuples)
        {
            var items = Items(tokens, tuple.OpenIndex, tuple.CloseIndex);
            for (var k = 0; k < items.Count && k < targets.Count; k++)
            {
                var (first, last) = items[k];
                if (first == last && SqlLexer.IsKeyword(sql, tokens[first], "default") && targets[k].DiffersPerNode)
                {
                    edits.Add(new Edit(tokens[first].Start, tokens[first].Length, DefaultParts(targets[k], slots, ref clocks)));
                }
            }

            if (missing.Count > 0)
            {
                edits.Add(new Edit(tokens[tuple.CloseIndex].Start, 0, DefaultsParts(missing, leadingComma: true, slots, ref clocks)));
            }
        }

        if (missing.Count > 0)
        {
            edits.Add(ColumnListEdit(tokens, listClose, nameEnd, targets, missing));
        }

        return null;
    }

    /// <summary>
    /// COPY FROM fills omitted columns from their defaults row by row, on each node. For time
    /// defaults in text or CSV data from the client, the proxy names the columns in the COPY and
    /// appends one value per column, evaluated on the main node, to every row (see
    /// <see cref="CopyRowFill"/>). A random default would need a value per row, and a file on the
    /// server or binary data cannot be added to: those are refused unless allowed.
    /// </summary>
    private static string? RewriteCopyDefaults(string sql, List<SqlToken> tokens, TableInfo table, bool allow, List<Edit> edits, ref CopyRowFill? copyFill)
    {
        if (allow)
        {
            return null;
        }

        // COPY name [ ( columns ) ] FROM STDIN [ options ]
        var index = 1;
        while (index + 2 < tokens.Count && tokens[index + 1].Kind == SqlTokenKind.Dot)
        {
            index += 2;
        }

        if (index + 1 >= tokens.Count || tokens[index + 1].Kind != SqlTokenKind.OpenParen || Matching(tokens, index + 1) is not (var close and > 0))
        {
            return null; // every column comes from the data
        }

        var listed = Items(tokens, index + 1, close).Select(item => Unquote(ColumnName(sql, tokens[item.First]))).ToList();
        var omitted = table.Columns.Where(c => c.DiffersPerNode && !listed.Contains(Unquote(c.Name))).ToList();
        if (omitted.Count == 0)
        {
            return null;
        }

        static string Refusal(ColumnInfo column, string why) =>
            $"COPY leaves column {column.Name} to its default, which each node would compute differently ({why}); include the column in the data or set allow_nondeterministic_writes = on";
        var perRow = omitted.Select(c => c.Default == ColumnDefault.Random ? SingleRandomCall(c.DefaultExpression!) : null).ToList();
        if (omitted.Where((c, i) => c.Default == ColumnDefault.Random && perRow[i] is null).FirstOrDefault() is { } random)
        {
            return Refusal(random, $"{random.RandomKind} per row, in an expression the proxy cannot generate row by row");
        }

        var from = close + 1;
        if (from + 1 >= tokens.Count || !SqlLexer.IsKeyword(sql, tokens[from], "from") || !SqlLexer.IsKeyword(sql, tokens[from + 1], "stdin"))
        {
            return Refusal(omitted[0], "the proxy fills it only in data sent by the client");
        }

        if (CopyDataLayout.Parse(sql, tokens, from + 2) is not { Format: not CopyDataFormat.Binary } layout)
        {
            return Refusal(omitted[0], "the proxy fills it only in text and CSV data with options it understands");
        }

        var slots = new List<Slot>();
        var clocks = default(ClockSlots);
        var select = new List<(string, int)> { ("SELECT ", -1) };
        foreach (var (column, generated) in omitted.Zip(perRow))
        {
            select.AddRange(select.Count > 1 ? [(", ", -1)] : []);
            select.AddRange(generated is null ? DefaultParts(column, slots, ref clocks) : [("NULL", -1)]);
            select.Add(("::text", -1));
        }

        edits.Add(new Edit(tokens[close].Start, 0, [(", " + string.Join(", ", omitted.Select(c => c.Name)), -1)]));
        copyFill = new CopyRowFill(layout, [.. omitted.Select(c => Unquote(c.Name))], new SqlTemplate(select, slots), perRow);
        return null;
    }

    /// <summary>The value to generate when a default is nothing but one random call (gen_random_uuid(), random() ...); else null.</summary>
    private static GeneratedValue? SingleRandomCall(string expression) =>
        NondeterministicFunctions.RandomCalls(expression) is [var (start, length, generated)] && start == 0 && length == expression.TrimEnd().Length
            ? generated
            : null;

    /// <summary>
    /// MERGE ... WHEN NOT MATCHED THEN INSERT [(columns)] { VALUES (...) | DEFAULT VALUES }: a
    /// column with a clock default that the action leaves out (or sets to DEFAULT) gets the main
    /// node's time. A random default would need a value per row: refused unless allowed.
    /// </summary>
    private static string? RewriteMergeInsertDefaults(string sql, List<SqlToken> tokens, TableInfo table, bool allow, List<Edit> edits, List<Slot> slots, ref ClockSlots clocks)
    {
        for (var i = 0; i + 1 < tokens.Count; i++)
        {
            if (!SqlLexer.IsKeyword(sql, tokens[i], "then") || !SqlLexer.IsKeyword(sql, tokens[i + 1], "insert"))
            {
                continue;
            }

            var insert = i + 1;
            var k = insert + 1;
            List<string>? listed = null;
            var listClose = -1;
            if (k < tokens.Count && tokens[k].Kind == SqlTokenKind.OpenParen && Matching(tokens, k) is var close and > 0)
            {
                listed = [.. Items(tokens, k, close).Select(item => ColumnName(sql, tokens[item.First]))];
                listClose = close;
                k = close + 1;
            }

            while (k < tokens.Count && !SqlLexer.IsKeyword(sql, tokens[k], "values") && !SqlLexer.IsKeyword(sql, tokens[k], "default"))
            {
                k++; // OVERRIDING { SYSTEM | USER } VALUE
            }

            var defaultValues = k + 1 < tokens.Count && SqlLexer.IsKeyword(sql, tokens[k], "default") && SqlLexer.IsKeyword(sql, tokens[k + 1], "values");
            var valuesOpen = k + 1;
            if (!defaultValues && (valuesOpen >= tokens.Count || tokens[valuesOpen].Kind != SqlTokenKind.OpenParen || Matching(tokens, valuesOpen) < 0))
            {
                continue;
            }

            var valuesClose = defaultValues ? -1 : Matching(tokens, valuesOpen);
            var items = defaultValues ? [] : Items(tokens, valuesOpen, valuesClose);
            var targets = TargetColumns(table, listed, items.Count);
            var missing = LeftToDefault(table, targets);
            var defaulted = items.Select((item, index) => (item, index))
                .Where(x => x.index < targets.Count && x.item.First == x.item.Last && SqlLexer.IsKeyword(sql, tokens[x.item.First], "default") && targets[x.index].DiffersPerNode)
                .ToList();
            if (missing.Concat(defaulted.Select(x => targets[x.index])).FirstOrDefault(c => c.Default == ColumnDefault.Random) is { } random)
            {
                if (allow)
                {
                    continue;
                }

                return $"the default of column {random.Name} ({random.RandomKind} per row) would differ on every node for rows a MERGE inserts; supply the column's values or set allow_nondeterministic_writes = on";
            }

            foreach (var (item, index) in defaulted)
            {
                edits.Add(new Edit(tokens[item.First].Start, tokens[item.First].Length, DefaultParts(targets[index], slots, ref clocks)));
            }

            if (missing.Count == 0)
            {
                continue;
            }

            if (defaultValues)
            {
                edits.Add(new Edit(tokens[k].Start, tokens[k + 1].End - tokens[k].Start, DefaultValuesParts(missing, slots, ref clocks)));
                continue;
            }

            if (listed is null && table.Width != table.Columns.Count)
            {
                ThrowIfNodeSpecific(missing);
                return allow ? null : $"MERGE inserts into {table.Name} without naming its columns and leaves column {missing[0].Name} to its time default; name the inserted columns";
            }

            edits.Add(ColumnListEdit(tokens, listClose, insert, targets, missing));
            edits.Add(new Edit(tokens[valuesClose].Start, 0, DefaultsParts(missing, leadingComma: items.Count > 0, slots, ref clocks)));
        }

        return null;
    }

    /// <summary>UPDATE ... SET column = DEFAULT (also in MERGE and INSERT ... ON CONFLICT DO UPDATE) for a time default gets the main node's time; a random or node-specific one is refused.</summary>
    private static string? RewriteUpdateDefaults(string sql, List<SqlToken> tokens, TableInfo table, bool allow, List<Edit> edits, List<Slot> slots, ref ClockSlots clocks)
    {
        for (var i = 2; i < tokens.Count; i++)
        {
            if (!SqlLexer.IsKeyword(sql, tokens[i], "default") || tokens[i - 1].Kind != SqlTokenKind.Operator || sql.Substring(tokens[i - 1].Start, tokens[i - 1].Length) != "=")
            {
                continue;
            }

            var name = ColumnName(sql, tokens[i - 2]);
            var column = table.Columns.FirstOrDefault(c => Unquote(c.Name) == Unquote(name));
            if (column is null || !column.DiffersPerNode)
            {
                continue;
            }

            if (column.Default == ColumnDefault.Random)
            {
                if (!allow)
                {
                    return $"SET {column.Name} = DEFAULT ({column.RandomKind} per row) would give every node a different value; set allow_nondeterministic_writes = on to allow it";
                }

                continue;
            }

            edits.Add(new Edit(tokens[i].Start, tokens[i].Length, DefaultParts(column, slots, ref clocks)));
        }

        return null;
    }
}
