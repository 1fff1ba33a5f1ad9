using System.Buffers;
using System.Runtime.InteropServices;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

public static partial class WriteRewriter
{
    /// <summary>
    /// A query inside a write whose rows depend on the order a node reads its table in: it picks
    /// some rows with LIMIT, OFFSET or FETCH (<c>DELETE FROM t WHERE id IN (SELECT id FROM t WHERE
    /// ... LIMIT 1000)</c>), or it feeds an INSERT whose sequence numbers follow the rows' order.
    /// Nodes store rows in different physical orders (concurrent inserts land in their own order,
    /// each node vacuums on its own), so without a unique ORDER BY each would pick or number
    /// different rows. Only the plain shape is recognised: a SELECT of columns (no function call,
    /// DISTINCT, grouping or set operation) from one table.
    /// </summary>
    /// <param name="Table">The table read.</param>
    /// <param name="Qualifier">How the query names the table (its alias, or the name as written).</param>
    /// <param name="OrderBy">Index of the ORDER keyword, or -1.</param>
    /// <param name="End">Index of the token where ORDER BY items end (LIMIT, OFFSET, FETCH, FOR, RETURNING, ON ...), or the token count.</param>
    /// <param name="Limited">True for LIMIT/OFFSET/FETCH; false for the query of an INSERT (ordered only when its target uses a sequence).</param>
    private readonly record struct OrderDependentQuery(QualifiedName Table, string Qualifier, int OrderBy, int End, bool Limited);

    // Words that end a FROM item in the plain shape, and where ORDER BY items end.
    private static readonly HashSet<string> OrderItemsEnd = new(StringComparer.Ordinal) { "limit", "offset", "fetch", "for", "returning", "on" };

    // One vectorized scan per write instead of one per word: every pgbench write passes here.
    private static readonly SearchValues<string> LimitWords = SearchValues.Create(["limit", "offset", "fetch"], StringComparison.OrdinalIgnoreCase);
    private static readonly SearchValues<string> LimitOrQueryWords = SearchValues.Create(["limit", "offset", "fetch", "select"], StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether a write's text may hold such a query, before lexing it.</summary>
    private static bool MayDependOnRowOrder(ReadOnlySpan<char> text, StatementKind kind) => kind switch
    {
        StatementKind.Insert => text.ContainsAny(LimitOrQueryWords),
        StatementKind.Update or StatementKind.Delete or StatementKind.Merge => text.ContainsAny(LimitWords),
        _ => false,
    };

    private static List<OrderDependentQuery> OrderDependentQueries(string sql, List<SqlToken> tokens, StatementKind kind)
    {
        var found = new List<OrderDependentQuery>();
        var reader = new TokenReader(sql, CollectionsMarshal.AsSpan(tokens));
        var opens = new Stack<int>();
        var seen = new HashSet<int>();
        var insertQuerySeen = false;
        for (var i = 0; i < tokens.Count; i++)
        {
            if (tokens[i].Kind == SqlTokenKind.OpenParen)
            {
                opens.Push(i);
                continue;
            }

            if (tokens[i].Kind == SqlTokenKind.CloseParen)
            {
                opens.TryPop(out _);
                continue;
            }

            var limit = reader.Is(i, "limit") || reader.Is(i, "offset") || (reader.Is(i, "fetch") && (reader.Is(i + 1, "first") || reader.Is(i + 1, "next")));
            // Only an INSERT's first top-level SELECT: a later one is part of a set operation.
            var insertQuery = kind == StatementKind.Insert && opens.Count == 0 && reader.Is(i, "select") && !insertQuerySeen;
            insertQuerySeen |= insertQuery;
            if (!limit && !insertQuery)
            {
                continue;
            }

            // The query level this word belongs to: inside the innermost open parenthesis, or the statement.
            var start = opens.Count == 0 ? 0 : opens.Peek() + 1;
            var end = opens.Count == 0 ? tokens.Count : reader.SkipParens(opens.Peek()) - 1;
            var select = insertQuery ? i : start;

            // EXISTS (SELECT ... LIMIT 1) is true or false whichever row it finds: ordering would only slow it.
            var underExists = !insertQuery && opens.Count > 0 && reader.Is(opens.Peek() - 1, "exists");
            if (underExists || !reader.Is(select, "select") || !seen.Add(select) || PlainSingleTableQuery(reader, select, end) is not { } query)
            {
                continue;
            }

            found.Add(query);
        }

        return found;
    }

    /// <summary>
    /// <c>SELECT columns FROM [ONLY] table [[AS] alias] [WHERE ...] [ORDER BY ...] [LIMIT/OFFSET/FETCH ...] [FOR ...]</c>
    /// between <paramref name="select"/> and <paramref name="end"/>, or null for any other shape.
    /// </summary>
    private static OrderDependentQuery? PlainSingleTableQuery(TokenReader reader, int select, int end)
    {
        var from = -1;
        for (var i = select + 1; i < end; i++)
        {
            if (reader.Is(i, "from"))
            {
                from = i;
                break;
            }

            // Columns, *, constants and casts only: a call could be an aggregate, which ORDER BY would break.
            var plain = reader.IsName(i) || reader.IsKind(i, SqlTokenKind.Dot) || reader.IsKind(i, SqlTokenKind.Comma) || reader.IsKind(i, SqlTokenKind.Number)
                || reader.IsKind(i, SqlTokenKind.String) || reader.IsKind(i, SqlTokenKind.DoubleColon) || (reader.IsKind(i, SqlTokenKind.Operator) && reader.Text(i) is "*");
            if (!plain || reader.Is(i, "distinct") || reader.Is(i, "all"))
            {
                return null;
            }
        }

        if (from < 0)
        {
            return null;
        }

        var at = reader.Is(from + 1, "only") ? from + 2 : from + 1;
        if (ReadFromItem(reader, ref at) is not var (table, qualifier))
        {
            return null;
        }

        var orderBy = -1;
        var itemsEnd = end;
        var limited = false;
        for (var i = at; i < end; i++)
        {
            if (reader.IsKind(i, SqlTokenKind.OpenParen))
            {
                i = reader.SkipParens(i) - 1;
                continue;
            }

            if (i == at && !(KeepsOneTable.Contains(LowerWordOf(reader, i)) || reader.Is(i, "returning") || reader.Is(i, "on")))
            {
                return null; // a join, a second table, a sample clause
            }

            if (reader.IsKind(i, SqlTokenKind.Comma) && orderBy < 0 || (reader.IsKind(i, SqlTokenKind.Identifier) && MayChangeColumns.Contains(LowerWordOf(reader, i))))
            {
                return null;
            }

            if (reader.Is(i, "order") && reader.Is(i + 1, "by"))
            {
                orderBy = i;
            }
            else if (reader.IsKind(i, SqlTokenKind.Identifier) && OrderItemsEnd.Contains(LowerWordOf(reader, i)))
            {
                itemsEnd = Math.Min(itemsEnd, i);
                limited |= reader.Is(i, "limit") || reader.Is(i, "offset") || reader.Is(i, "fetch");
            }
        }

        return new OrderDependentQuery(table, qualifier, orderBy, itemsEnd, limited);
    }

    private static string LowerWordOf(TokenReader reader, int i) => reader.IsKind(i, SqlTokenKind.Identifier) ? reader.Text(i).ToString().ToLowerInvariant() : "";

    /// <summary>
    /// Gives each order-dependent query the table's primary key as its last ORDER BY items, so
    /// every node picks and numbers the same rows: ORDER BY is added, or the key appended as a
    /// tie-breaker when the order given does not already end in it. A table without a primary key
    /// is left as it is.
    /// </summary>
    private static void OrderRowsByKey(string sql, List<SqlToken> tokens, StatementKind kind, TableInfo? insertTarget, Func<QualifiedName, TableInfo?> tables, List<Edit> edits)
    {
        foreach (var query in OrderDependentQueries(sql, tokens, kind))
        {
            if (!query.Limited && insertTarget is not { UsesSequence: true })
            {
                continue;
            }

            if (tables(query.Table) is not { PrimaryKey.Count: > 0 } table)
            {
                continue;
            }

            var key = table.PrimaryKey.Select(column => $"{query.Qualifier}.{column}").ToList();
            var position = tokens[query.End - 1].End; // after the query's last clause before the end of its ORDER BY items
            if (query.OrderBy < 0)
            {
                edits.Add(new Edit(position, 0, [($" ORDER BY {string.Join(", ", key)}", -1)]));
            }
            else if (!EndsWithKey(sql, tokens, query, table))
            {
                edits.Add(new Edit(position, 0, [($", {string.Join(", ", key)}", -1)]));
            }
        }
    }

    // Whether the ORDER BY items already end in the key's columns (plain or qualified, any direction).
    private static bool EndsWithKey(string sql, List<SqlToken> tokens, OrderDependentQuery query, TableInfo table)
    {
        var items = new List<string>();
        var item = new List<string>();
        for (var i = query.OrderBy + 2; i <= query.End; i++)
        {
            if (i == query.End || tokens[i].Kind == SqlTokenKind.Comma)
            {
                items.Add(string.Join("", item.Where(w => w is not ("asc" or "desc"))));
                item.Clear();
                continue;
            }

            item.Add(sql.Substring(tokens[i].Start, tokens[i].Length).ToLowerInvariant());
        }

        var last = items.TakeLast(table.PrimaryKey.Count).ToList();
        return last.Count == table.PrimaryKey.Count
            && table.PrimaryKey.All(column => last.Contains(column.ToLowerInvariant()) || last.Contains($"{query.Qualifier.ToLowerInvariant()}.{column.ToLowerInvariant()}"));
    }
}
