using System.Text;

namespace PgPoolConsole.Proxy.Sql;

/// <summary>Queries and data-modifying statements: SELECT, VALUES, TABLE, WITH, INSERT, UPDATE, DELETE, MERGE, EXPLAIN, COPY.</summary>
public static partial class StatementClassifier
{
    private static void AnalyzeQuery(in TokenReader r, int i, ref Facts f)
    {
        var main = r.Is(i, "with") ? r.SkipOpenParens(SkipWithClause(r, i + 1)) : i;
        Span<char> buffer = stackalloc char[WordBuffer];
        (f.Kind, var targetKeyword) = r.LowerWord(main, buffer) switch
        {
            "insert" => (StatementKind.Insert, "into"),
            "update" => (StatementKind.Update, "only"),
            "delete" => (StatementKind.Delete, "from"),
            "merge" => (StatementKind.Merge, "into"),
            _ => (StatementKind.Select, null),
        };
        if (targetKeyword is not null)
        {
            f.TargetTable = ReadTargetAfter(r, main + 1, targetKeyword);
        }

        f.ScanCalls = true;
        var writes = ScanQueryBody(r, i, ref f);
        f.ChangesRowsSkippingLocked &= writes;
        if (f.Kind == StatementKind.Select)
        {
            var selectInto = FindSelectInto(r, i, ref f);
            f.IsReadOnly = !writes && !f.IsLocking && !selectInto;
        }
        else
        {
            f.HasReturning = r.HasTopLevel(main, "returning");
        }
    }

    /// <summary>
    /// Skips <c>[RECURSIVE] name [(cols)] AS [NOT] [MATERIALIZED] (query) [SEARCH ...] [CYCLE ...], ...</c>
    /// and returns the index of the main statement.
    /// </summary>
    private static int SkipWithClause(in TokenReader r, int i)
    {
        if (r.Is(i, "recursive"))
        {
            i++;
        }

        while (r.IsName(i))
        {
            i = r.AfterNamePart(i);
            if (r.IsKind(i, SqlTokenKind.OpenParen))
            {
                i = r.SkipParens(i);
            }

            if (!r.Is(i, "as"))
            {
                return i;
            }

            i++;
            if (r.Is(i, "not"))
            {
                i++;
            }

            if (r.Is(i, "materialized"))
            {
                i++;
            }

            if (!r.IsKind(i, SqlTokenKind.OpenParen))
            {
                return i;
            }

            i = r.SkipParens(i);

            // SEARCH / CYCLE clauses hold column names and constants only.
            while (i < r.Count && !r.IsKind(i, SqlTokenKind.Comma) && !r.IsKind(i, SqlTokenKind.OpenParen) && !IsQueryStart(r, i))
            {
                i++;
            }

            if (!r.IsKind(i, SqlTokenKind.Comma))
            {
                return i;
            }

            i++;
        }

        return i;
    }

    private static bool IsQueryStart(in TokenReader r, int i) =>
        r.Is(i, "select") || r.Is(i, "values") || r.Is(i, "table") || r.Is(i, "insert") || r.Is(i, "update")
        || r.Is(i, "delete") || r.Is(i, "merge");

    /// <summary>
    /// Finds row-locking clauses (sets <see cref="Facts.IsLocking"/>, and notes SKIP LOCKED) and returns whether any INSERT, UPDATE,
    /// DELETE or MERGE occurs, e.g. in a data-modifying CTE. A column that happens to be called "update"
    /// counts as a write: a false alarm only costs load balancing.
    /// </summary>
    private static bool ScanQueryBody(in TokenReader r, int start, ref Facts f)
    {
        var writes = false;
        for (var k = start; k < r.Count; k++)
        {
            if (!r.IsKind(k, SqlTokenKind.Identifier))
            {
                continue;
            }

            f.ChangesRowsSkippingLocked |= r.Is(k, "skip") && r.Is(k + 1, "locked"); // only kept when the statement writes

            if (r.Is(k, "for"))
            {
                f.IsLocking |= r.Is(k + 1, "update") || r.Is(k + 1, "share")
                    || (r.Is(k + 1, "no") && r.Is(k + 2, "key") && r.Is(k + 3, "update"))
                    || (r.Is(k + 1, "key") && r.Is(k + 2, "share"));
            }
            else if ((r.Is(k, "insert") || r.Is(k, "delete") || r.Is(k, "merge")
                    || (r.Is(k, "update") && !r.Is(k - 1, "for") && !r.Is(k - 1, "key")))
                && !r.IsKind(k - 1, SqlTokenKind.Dot) && !r.IsKind(k + 1, SqlTokenKind.Dot))
            {
                writes = true;
            }
        }

        return writes;
    }

    /// <summary>SELECT ... INTO [TEMP] table creates a table; INSERT INTO and MERGE INTO are not this.</summary>
    private static bool FindSelectInto(in TokenReader r, int start, ref Facts f)
    {
        for (var k = start; k < r.Count; k++)
        {
            if (!r.Is(k, "into") || r.Is(k - 1, "insert") || r.Is(k - 1, "merge"))
            {
                continue;
            }

            var j = k + 1;
            var temporary = false;
            while (r.Is(j, "temp") || r.Is(j, "temporary") || r.Is(j, "local") || r.Is(j, "global") || r.Is(j, "unlogged"))
            {
                temporary |= r.Is(j, "temp") || r.Is(j, "temporary");
                j++;
            }

            if (r.Is(j, "table"))
            {
                j++;
            }

            MarkTemporary(temporary || IsInTemporarySchema(r.ReadName(ref j)), ref f);
            return true;
        }

        return false;
    }

    private static bool IsInTemporarySchema(QualifiedName? name) => name?.Schema == "pg_temp";

    private static void MarkTemporary(bool temporary, ref Facts f)
    {
        if (temporary)
        {
            f.CreatesTemporaryObject = true;
            f.ChangesSessionState = true;
        }
    }

    /// <summary>EXPLAIN only plans its statement, unless ANALYZE runs it.</summary>
    private static void AnalyzeExplain(in TokenReader r, int i, ref Facts f)
    {
        f.Kind = StatementKind.Explain;
        f.ScanCalls = true;
        var j = i + 1;
        bool analyze;

        // EXPLAIN (options) stmt, but EXPLAIN (SELECT ...) explains a parenthesised query.
        if (r.IsKind(j, SqlTokenKind.OpenParen) && !IsQueryStart(r, r.SkipOpenParens(j)) && !r.Is(r.SkipOpenParens(j), "with"))
        {
            var close = r.SkipParens(j);
            analyze = ExplainOptionsRunStatement(r, j + 1, close - 1);
            j = close;
        }
        else
        {
            analyze = r.Is(j, "analyze") || r.Is(j, "analyse");
            if (analyze)
            {
                j++;
            }

            if (r.Is(j, "verbose"))
            {
                j++;
            }
        }

        var inner = default(Facts);
        Analyze(r, r.SkipOpenParens(j), ref inner);
        f.IsReadOnly = !analyze || inner.IsReadOnly;
        f.IsLocking = inner.IsLocking;
        if (analyze)
        {
            f.ChangesSessionState = inner.ChangesSessionState;
            f.CreatesTemporaryObject = inner.CreatesTemporaryObject;
        }
    }

    /// <summary>
    /// Reads <c>(ANALYZE [bool], VERBOSE, FORMAT JSON, ...)</c>. ANALYZE is off only with false, off or 0
    /// (defGetBoolean); any other value counts as on.
    /// </summary>
    private static bool ExplainOptionsRunStatement(in TokenReader r, int start, int end)
    {
        var analyze = false;
        var k = start;
        while (k < end)
        {
            if (r.Is(k, "analyze") || r.Is(k, "analyse"))
            {
                analyze = k + 1 >= end || r.IsKind(k + 1, SqlTokenKind.Comma) || !IsFalse(r, k + 1);
            }

            while (k < end && !r.IsKind(k, SqlTokenKind.Comma))
            {
                k = r.IsKind(k, SqlTokenKind.OpenParen) ? r.SkipParens(k) : k + 1;
            }

            k++;
        }

        return analyze;
    }

    private static bool IsFalse(in TokenReader r, int k)
    {
        var text = r.Text(k);
        if (r.IsKind(k, SqlTokenKind.String) && text.Length >= 2 && text[0] == '\'')
        {
            text = text[1..^1];
        }
        else if (!r.IsKind(k, SqlTokenKind.Identifier) && !r.IsKind(k, SqlTokenKind.Number))
        {
            return false;
        }

        return text is "0" || Ascii.EqualsIgnoreCase(text, "false") || Ascii.EqualsIgnoreCase(text, "off");
    }

    /// <summary>
    /// COPY table [(cols)] FROM ... writes; COPY table|(query) TO ... reads (a file or program target
    /// included). A query is read-only only when it is a read-only SELECT: COPY (INSERT ... RETURNING) TO
    /// writes.
    /// </summary>
    private static void AnalyzeCopy(in TokenReader r, int i, ref Facts f)
    {
        var j = i + 1;
        if (r.Is(j, "binary"))
        {
            j++;
        }

        f.ScanCalls = true;
        if (r.IsKind(j, SqlTokenKind.OpenParen))
        {
            var close = r.SkipParens(j);
            var inner = default(Facts);
            var query = r.Slice(j + 1, Math.Max(j + 1, close - 1));
            if (query.Count > 0)
            {
                Analyze(query, query.SkipOpenParens(0), ref inner);
            }

            f.Kind = StatementKind.CopyTo;
            f.IsReadOnly = inner.Kind == StatementKind.Select && inner.IsReadOnly;
            f.IsLocking = inner.IsLocking;
            f.CallScanStart = j + 1;
            f.CallScanEnd = close - 1;
            return;
        }

        f.TargetTable = r.ReadName(ref j);
        if (r.IsKind(j, SqlTokenKind.OpenParen))
        {
            j = r.SkipParens(j);
        }

        if (r.Is(j, "to"))
        {
            f.Kind = StatementKind.CopyTo;
            f.IsReadOnly = true;
            f.ScanCalls = false;
            return;
        }

        // COPY ... FROM ... [WHERE condition]: only the condition can call functions.
        f.Kind = StatementKind.CopyFrom;
        var where = r.FindTopLevel(j, "where");
        f.ScanCalls = where >= 0;
        f.CallScanStart = where + 1;
    }
}
