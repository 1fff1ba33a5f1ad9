using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

public static partial class WriteRewriter
{
    /// <summary>
    /// <c>UPDATE t SET token = gen_random_uuid()</c> (the usual backfill of a new column) needs a
    /// value per row. Each node visits the rows in its own order, so the proxy cannot hand out
    /// values in turn; instead each row's value is derived from a random seed the proxy picks for
    /// the statement and the row's primary key: md5(seed || key), shaped as a version 4 UUID or a
    /// double in [0, 1). Every node computes the same value for the same row, and rows differ.
    /// Null (the caller refuses the statement) unless the call is in the SET list of a plain
    /// <c>UPDATE [ONLY] name [[AS] alias] SET</c>, outside any subquery, and the table has a primary key.
    /// </summary>
    private static List<(string, int)>? KeyedPerRowParts(string sql, List<SqlToken> tokens, int call, GeneratedValue generated, Func<QualifiedName, TableInfo?> tables, List<Slot> slots)
    {
        if (generated.Kind is not (SlotKind.RandomUuid or SlotKind.RandomDouble) || UpdateTarget(sql, tokens) is not var (target, qualifier, set)
            || call < set || !InSetList(sql, tokens, set, call) || tables(target) is not { PrimaryKey.Count: > 0 } table)
        {
            return null;
        }

        var seed = NewSlot(slots, SlotKind.RandomUuid);
        var key = $"ROW({string.Join(", ", table.PrimaryKey.Select(column => $"{qualifier}.{column}"))})::text)";
        List<(string, int)> Hash(string before) => [(before + "pg_catalog.md5(", -1), ("", seed), ("::text || " + key, -1)];
        if (generated.Kind == SlotKind.RandomDouble)
        {
            // 52 random bits over 2^52.
            return [.. Hash("(('x' || pg_catalog.substr("), (", 1, 13))::bit(52)::bigint / 4503599627370496.0)::float8", -1)];
        }

        // The hash as a UUID with version 4 and variant 10xx, as gen_random_uuid() makes them (OVERLAY is
        // grammar, not a function that pg_catalog could qualify).
        return
        [
            .. Hash("(overlay(overlay("),
            (" placing '4' from 13) placing pg_catalog.substr('89ab', (pg_catalog.strpos('0123456789abcdef', pg_catalog.substr(", -1),
            .. Hash(""),
            (", 17, 1)) - 1) % 4 + 1, 1) from 17))::uuid", -1),
        ];
    }

    /// <summary>UPDATE [ONLY] name [*] [[AS] alias] SET: the table, how the statement names its rows, and the index of SET.</summary>
    private static (QualifiedName Table, string Qualifier, int Set)? UpdateTarget(string sql, List<SqlToken> tokens)
    {
        var reader = new TokenReader(sql, System.Runtime.InteropServices.CollectionsMarshal.AsSpan(tokens));
        if (!reader.Is(0, "update"))
        {
            return null;
        }

        var i = reader.Is(1, "only") ? 2 : 1;
        var nameStart = i;
        if (reader.ReadName(ref i) is not { } table)
        {
            return null;
        }

        var qualifier = sql[tokens[nameStart].Start..tokens[i - 1].End];
        if (reader.IsKind(i, SqlTokenKind.Operator) && reader.Text(i) is "*")
        {
            i++;
        }

        if (reader.Is(i, "as"))
        {
            i++;
        }

        if (reader.IsName(i) && !reader.Is(i, "set"))
        {
            qualifier = reader.Text(i).ToString();
            i++;
        }

        return reader.Is(i, "set") ? (table, qualifier, i) : null;
    }

    /// <summary>Whether token <paramref name="call"/> is in the SET list that starts at <paramref name="set"/>, and not inside a subquery.</summary>
    private static bool InSetList(string sql, List<SqlToken> tokens, int set, int call)
    {
        var open = new Stack<int>();
        for (var k = set + 1; k < call; k++)
        {
            switch (tokens[k].Kind)
            {
                case SqlTokenKind.OpenParen:
                    open.Push(k);
                    break;
                case SqlTokenKind.CloseParen when open.Count > 0:
                    open.Pop();
                    break;
                case SqlTokenKind.Identifier when open.Count == 0 && (SqlLexer.IsKeyword(sql, tokens[k], "from") || SqlLexer.IsKeyword(sql, tokens[k], "where") || SqlLexer.IsKeyword(sql, tokens[k], "returning")):
                    return false;
            }
        }

        return open.All(paren => !(SqlLexer.IsKeyword(sql, tokens[paren + 1], "select") || SqlLexer.IsKeyword(sql, tokens[paren + 1], "with") || SqlLexer.IsKeyword(sql, tokens[paren + 1], "values")));
    }
}
