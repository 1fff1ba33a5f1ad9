namespace PgPoolConsole.Proxy.Sql;

/// <summary>
/// Finds the functions a statement calls: a (possibly qualified) name followed by <c>(</c>, unless the
/// grammar gives that shape another meaning. The rules follow PostgreSQL's grammar: an unqualified function
/// name cannot be a reserved or column-name keyword (so CAST, EXISTS, COALESCE, VALUES, VARCHAR... drop
/// out), and a name right after another identifier, <c>::</c>, AS or a closing parenthesis is a type or an
/// alias column list, not a call.
/// </summary>
/// <remarks>
/// Missing a call is the costly mistake (a writing function would be load balanced), so where the
/// tokens are ambiguous the name is reported. Only names are allocated, and each distinct name once.
/// </remarks>
internal static class FunctionCallScanner
{
    private const int WordBuffer = SqlKeywords.MaxLength + 8;

    /// <summary>Scans tokens [<paramref name="start"/>, <paramref name="end"/>) for calls.</summary>
    public static IReadOnlyList<QualifiedName> Scan(in TokenReader r, int start, int end, bool isDdl, bool isCreateIndex)
    {
        List<QualifiedName>? calls = null;
        end = Math.Min(end, r.Count);
        for (var k = start; k < end; k++)
        {
            if (!r.IsName(k) || r.IsKind(k - 1, SqlTokenKind.Dot))
            {
                continue;
            }

            var last = k;
            var schema = -1;
            var next = r.AfterNamePart(k);
            while (r.IsKind(next, SqlTokenKind.Dot) && r.IsName(next + 1))
            {
                schema = last;
                last = next + 1;
                next = r.AfterNamePart(last);
            }

            if (next < end && r.IsKind(next, SqlTokenKind.OpenParen) && IsCall(r, k, last, next, isDdl, isCreateIndex))
            {
                var name = r.NameOf(schema, last);
                calls ??= [];
                if (!calls.Contains(name))
                {
                    calls.Add(name);
                }
            }

            k = next - 1;
        }

        return calls is null ? [] : calls;
    }

    private static bool IsCall(in TokenReader r, int first, int last, int open, bool isDdl, bool isCreateIndex)
    {
        Span<char> buffer = stackalloc char[WordBuffer];
        if (first == last && r.IsKind(first, SqlTokenKind.Identifier) && !IsCallableWord(r, first, buffer, isDdl))
        {
            return false;
        }

        if (!IsCallPosition(r, first - 1, buffer, isDdl, isCreateIndex))
        {
            return false;
        }

        // WITH name (columns) AS [NOT] [MATERIALIZED] ( ... ) names a CTE.
        var close = r.SkipParens(open);
        return !(r.Is(close, "as")
            && (r.IsKind(close + 1, SqlTokenKind.OpenParen) || r.Is(close + 1, "not") || r.Is(close + 1, "materialized")));
    }

    /// <summary>Whether an unqualified word may name a function here.</summary>
    private static bool IsCallableWord(in TokenReader r, int k, Span<char> buffer, bool isDdl)
    {
        var word = r.LowerWord(k, buffer);
        switch (SqlKeywords.CategorizeLowerCase(word))
        {
            case KeywordCategory.Reserved or KeywordCategory.ColumnName:
                return false;
            case KeywordCategory.TypeFunctionName:
                // JOIN (, LIKE (, OVERLAPS ( ... are syntax; LEFT(), RIGHT() and CURRENT_SCHEMA() are functions.
                return word is "left" or "right" or "current_schema";
        }

        return word switch
        {
            // Unreserved keywords that open a parenthesised clause, not a call.
            "by" or "set" or "reset" or "filter" or "over" or "sets" or "zone" or "conflict" or "key" or "include"
                or "options" or "exclude" or "identity" or "enum" or "operator" or "varying" or "second" or "insert"
                or "repeatable" or "materialized" => false,
            "cube" or "rollup" => !IsGroupingElement(r, k),
            "range" or "list" or "hash" => !(isDdl && r.Is(k - 1, "by") && r.Is(k - 2, "partition")),
            _ => true,
        };
    }

    /// <summary>Whether the token before a name (<paramref name="p"/>) lets the name be a call.</summary>
    private static bool IsCallPosition(in TokenReader r, int p, Span<char> buffer, bool isDdl, bool isCreateIndex)
    {
        if (p < 0)
        {
            return true;
        }

        switch (r.Tokens[p].Kind)
        {
            case SqlTokenKind.DoubleColon or SqlTokenKind.QuotedIdentifier or SqlTokenKind.String
                or SqlTokenKind.Number or SqlTokenKind.Parameter:
                return false;
            case SqlTokenKind.CloseParen:
                // "(...) name(" is an alias column list, except after DISTINCT ON (...) and OPERATOR(...).
                var open = r.MatchingOpen(p);
                return (r.Is(open - 1, "on") && r.Is(open - 2, "distinct")) || r.Is(open - 1, "operator");
            case SqlTokenKind.Identifier:
                break;
            default:
                return true;
        }

        var word = r.LowerWord(p, buffer);
        if (SqlKeywords.CategorizeLowerCase(word) == KeywordCategory.None)
        {
            // After an identifier or unreserved keyword a name is a type (column definitions, RETURNS t(..)),
            // an alias column list, or a routine being defined, except after these.
            return word is "call" or "by" or "zone" or "escape" or "document" or "content" or "passing" or "return";
        }

        return word switch
        {
            "as" or "into" or "references" or "table" or "only" or "exists" or "tablesample" or "fetch" or "collation" => false,
            "using" => !isDdl,
            "on" => !isCreateIndex,
            _ => true,
        };
    }

    /// <summary>CUBE(...) / ROLLUP(...) as a GROUP BY element rather than a function.</summary>
    private static bool IsGroupingElement(in TokenReader r, int k)
    {
        for (var p = k - 1; p >= 0; p--)
        {
            switch (r.Tokens[p].Kind)
            {
                case SqlTokenKind.CloseParen:
                    p = r.MatchingOpen(p);
                    if (p < 0)
                    {
                        return false;
                    }

                    break;
                case SqlTokenKind.OpenParen:
                    return r.Is(p - 1, "sets");
                case SqlTokenKind.Identifier when r.Is(p, "by"):
                    return r.Is(p - 1, "group");
                case SqlTokenKind.Identifier when SqlKeywords.Categorize(r.Text(p)) == KeywordCategory.Reserved:
                    return false;
            }
        }

        return false;
    }
}
