using System.Runtime.InteropServices;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>
/// DDL that evaluates expressions into stored rows. DDL mostly stores expressions (a DEFAULT
/// now() must stay now()), but three places evaluate them once per existing or new row:
/// ALTER TABLE ... ADD COLUMN ... DEFAULT (existing rows get the default's value), ALTER COLUMN
/// ... TYPE ... USING (every row is converted) and CREATE TABLE ... AS (the query's rows).
/// </summary>
public static partial class WriteRewriter
{
    // Words that end a column's DEFAULT expression in ADD COLUMN (the next column constraint).
    private static readonly HashSet<string> ColumnConstraintWords = new(StringComparer.Ordinal)
    {
        "constraint", "not", "null", "check", "unique", "primary", "references", "generated", "collate", "deferrable", "initially",
    };

    private static readonly HashSet<string> TableConstraintWords = new(StringComparer.Ordinal)
    {
        "constraint", "primary", "unique", "check", "foreign", "exclude",
    };

    /// <summary>What a DDL statement evaluates into rows, if anything.</summary>
    private enum DdlEvaluation
    {
        /// <summary>Only stores expressions: nothing to rewrite.</summary>
        None,

        /// <summary>CREATE TABLE ... AS query: the query's values are stored, as in INSERT ... SELECT.</summary>
        CreateTableAs,

        /// <summary>ALTER TABLE: ADD COLUMN defaults and TYPE ... USING expressions are evaluated for every row.</summary>
        AlterTable,
    }

    private static DdlEvaluation EvaluationOf(string sql, List<SqlToken> tokens)
    {
        if (tokens.Count < 3)
        {
            return DdlEvaluation.None;
        }

        if (SqlLexer.IsKeyword(sql, tokens[0], "alter") && SqlLexer.IsKeyword(sql, tokens[1], "table"))
        {
            return DdlEvaluation.AlterTable;
        }

        if (!SqlLexer.IsKeyword(sql, tokens[0], "create"))
        {
            return DdlEvaluation.None;
        }

        // CREATE [GLOBAL|LOCAL] [TEMP|TEMPORARY|UNLOGGED] TABLE ... AS query (not a view: a view, and
        // a materialized view's REFRESH, keep evaluating the query they store).
        var i = 1;
        while (i < tokens.Count && (SqlLexer.IsKeyword(sql, tokens[i], "global") || SqlLexer.IsKeyword(sql, tokens[i], "local")
            || SqlLexer.IsKeyword(sql, tokens[i], "temp") || SqlLexer.IsKeyword(sql, tokens[i], "temporary") || SqlLexer.IsKeyword(sql, tokens[i], "unlogged")))
        {
            i++;
        }

        if (i >= tokens.Count || !SqlLexer.IsKeyword(sql, tokens[i], "table"))
        {
            return DdlEvaluation.None;
        }

        var reader = new TokenReader(sql, CollectionsMarshal.AsSpan(tokens));
        var asAt = reader.FindTopLevel(i, "as");
        return asAt >= 0 && asAt + 1 < tokens.Count && !reader.Is(asAt + 1, "execute") ? DdlEvaluation.CreateTableAs : DdlEvaluation.None;
    }

    /// <summary>
    /// ALTER TABLE: the clock in an ADD COLUMN's DEFAULT becomes the main node's value for the rows
    /// that exist, and the column then gets its DEFAULT as written for rows inserted later (one
    /// statement: ADD COLUMN c ... DEFAULT 'value', ALTER COLUMN c SET DEFAULT now()). The same
    /// for TYPE ... USING. A random default would give each existing row a different value on
    /// every node: refused.
    /// </summary>
    private static string? RewriteAlterTable(string sql, List<SqlToken> tokens, QueryPlan plan, bool allow, List<Edit> edits, List<Slot> slots)
    {
        var appended = new List<string>();
        var clocks = default(ClockSlots);
        foreach (var (first, last) in AlterTableActions(sql, tokens))
        {
            if (EvaluatedExpression(sql, tokens, first, last) is not var (start, end, column))
            {
                continue;
            }

            for (var i = first; i + 2 <= last; i++)
            {
                if (tokens[i].Start < start || tokens[i].Kind != SqlTokenKind.Identifier || tokens[i + 1].Kind != SqlTokenKind.OpenParen || tokens[i].Start >= end)
                {
                    continue;
                }

                var name = new QualifiedName(null, sql.Substring(tokens[i].Start, tokens[i].Length).ToLowerInvariant());
                if (!allow && (NondeterministicFunctions.Generated(name, sql, tokens, i) is not null || NondeterministicFunctions.NotReproducibleCall(name, sql, tokens, i) is not null))
                {
                    return $"{name.Name}() here is evaluated for every row of the table, by each node on its own; add the column without it, fill the rows with an UPDATE of explicit values, then SET DEFAULT (or set allow_nondeterministic_writes = on)";
                }
            }

            var clocked = false;
            foreach (var use in plan.TimeFunctions)
            {
                if (use.Start >= start && use.Start < end)
                {
                    edits.Add(new Edit(use.Start, use.Length, TimeParts(use.Cast, clocks.For(use.Source, slots))));
                    clocked = true;
                }
            }

            if (clocked && column is not null)
            {
                appended.Add($", ALTER COLUMN {column} SET DEFAULT {sql[start..end]}");
            }
        }

        if (appended.Count > 0)
        {
            var last = tokens[^1].Kind == SqlTokenKind.Semicolon ? tokens[^2] : tokens[^1];
            edits.Add(new Edit(last.End, 0, [.. appended.Select(text => (text, -1))]));
        }

        return null;
    }

    /// <summary>The actions of ALTER TABLE [IF EXISTS] [ONLY] name [*] action [, ...], as token ranges.</summary>
    private static List<(int First, int Last)> AlterTableActions(string sql, List<SqlToken> tokens)
    {
        var i = 2;
        if (i + 1 < tokens.Count && SqlLexer.IsKeyword(sql, tokens[i], "if") && SqlLexer.IsKeyword(sql, tokens[i + 1], "exists"))
        {
            i += 2;
        }

        if (i < tokens.Count && SqlLexer.IsKeyword(sql, tokens[i], "only"))
        {
            i++;
        }

        i++; // the table name, possibly qualified
        while (i + 1 < tokens.Count && tokens[i].Kind == SqlTokenKind.Dot)
        {
            i += 2;
        }

        if (i < tokens.Count && tokens[i].Kind == SqlTokenKind.Operator && sql[tokens[i].Start] == '*' && tokens[i].Length == 1)
        {
            i++;
        }

        var actions = new List<(int, int)>();
        var depth = 0;
        var first = i;
        for (; i < tokens.Count; i++)
        {
            var kind = tokens[i].Kind;
            depth += kind == SqlTokenKind.OpenParen ? 1 : kind == SqlTokenKind.CloseParen ? -1 : 0;
            if (depth == 0 && kind is SqlTokenKind.Comma or SqlTokenKind.Semicolon)
            {
                if (i > first)
                {
                    actions.Add((first, i - 1));
                }

                first = i + 1;
            }
        }

        if (tokens.Count - 1 >= first)
        {
            actions.Add((first, tokens.Count - 1));
        }

        return actions;
    }

    /// <summary>
    /// In one ALTER TABLE action: the expression evaluated for every row, as a text range, and for
    /// ADD COLUMN the column (whose DEFAULT must be restored afterwards).
    /// </summary>
    private static (int Start, int End, string? Column)? EvaluatedExpression(string sql, List<SqlToken> tokens, int first, int last)
    {
        if (SqlLexer.IsKeyword(sql, tokens[first], "add"))
        {
            var k = first + 1;
            if (k <= last && SqlLexer.IsKeyword(sql, tokens[k], "column"))
            {
                k++;
            }

            if (k > last || TableConstraintWords.Contains(sql.Substring(tokens[k].Start, tokens[k].Length).ToLowerInvariant()))
            {
                return null;
            }

            if (k + 2 <= last && SqlLexer.IsKeyword(sql, tokens[k], "if") && SqlLexer.IsKeyword(sql, tokens[k + 1], "not") && SqlLexer.IsKeyword(sql, tokens[k + 2], "exists"))
            {
                k += 3;
            }

            var column = sql.Substring(tokens[k].Start, tokens[k].Length);
            var defaultAt = TopLevelKeyword(sql, tokens, k + 1, last, "default");
            if (defaultAt < 0 || defaultAt == last)
            {
                return null;
            }

            var end = defaultAt + 1;
            var depth = 0;
            for (var i = defaultAt + 1; i <= last; i++)
            {
                depth += tokens[i].Kind == SqlTokenKind.OpenParen ? 1 : tokens[i].Kind == SqlTokenKind.CloseParen ? -1 : 0;
                if (i > defaultAt + 1 && depth == 0 && tokens[i].Kind == SqlTokenKind.Identifier
                    && ColumnConstraintWords.Contains(sql.Substring(tokens[i].Start, tokens[i].Length).ToLowerInvariant()))
                {
                    break;
                }

                end = i;
            }

            return (tokens[defaultAt + 1].Start, tokens[end].End, column);
        }

        if (SqlLexer.IsKeyword(sql, tokens[first], "alter") && TopLevelKeyword(sql, tokens, first + 1, last, "using") is var usingAt and >= 0 && usingAt < last)
        {
            return (tokens[usingAt + 1].Start, tokens[last].End, null);
        }

        return null;
    }

    /// <summary>The keyword's index among tokens <paramref name="from"/> to <paramref name="last"/>, outside parentheses, or -1.</summary>
    private static int TopLevelKeyword(string sql, List<SqlToken> tokens, int from, int last, string keyword) =>
        new TokenReader(sql, CollectionsMarshal.AsSpan(tokens)[..(last + 1)]).FindTopLevel(from, keyword);
}
