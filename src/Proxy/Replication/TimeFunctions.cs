using System.Globalization;
using System.Text;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>Which clock a time function reads.</summary>
public enum TimeSource
{
    /// <summary>now(), CURRENT_TIMESTAMP ...: the transaction's start, constant for the whole transaction.</summary>
    Transaction,

    /// <summary>statement_timestamp(), clock_timestamp(): a value per statement.</summary>
    Statement,
}

/// <summary>One time function (or 'now' literal) in a statement, and what to put in its place.</summary>
/// <param name="Start">Index of the first character in the SQL text.</param>
/// <param name="Length">Characters to replace (the call with its parentheses and precision).</param>
/// <param name="Source">Which clock.</param>
/// <param name="Cast">The cast that turns a timestamptz into the function's type: "timestamptz", "date", "timetz(3)" ...</param>
public readonly record struct TimeFunctionUse(int Start, int Length, TimeSource Source, string Cast);

/// <summary>
/// Finds the SQL-standard time functions a write calls, so every node can be given the same value
/// instead of reading its own clock: now(), CURRENT_TIMESTAMP[(p)], CURRENT_DATE, CURRENT_TIME[(p)],
/// LOCALTIME[(p)], LOCALTIMESTAMP[(p)], transaction_timestamp(), statement_timestamp(),
/// clock_timestamp() and the 'now' literal ('now'::timestamp, timestamp 'now').
/// </summary>
public static class TimeFunctions
{
    public static IReadOnlyList<TimeFunctionUse> Find(string sql)
    {
        var tokens = TokenListPool.Rent(); // runs for every write: no token list per statement
        try
        {
            SqlLexer.Tokenize(sql, tokens);
            return Find(sql, tokens);
        }
        finally
        {
            TokenListPool.Return(tokens);
        }
    }

    private static IReadOnlyList<TimeFunctionUse> Find(string sql, List<SqlToken> tokens)
    {
        List<TimeFunctionUse>? uses = null;
        for (var i = 0; i < tokens.Count; i++)
        {
            var token = tokens[i];
            if (token.Kind == SqlTokenKind.String && IsNowLiteral(sql, token))
            {
                (uses ??= []).Add(new TimeFunctionUse(token.Start, token.Length, TimeSource.Transaction, "text"));
                continue;
            }

            if (token.Kind != SqlTokenKind.Identifier || (i > 0 && tokens[i - 1].Kind is SqlTokenKind.Dot or SqlTokenKind.DoubleColon && !IsPgCatalogQualified(sql, tokens, i)))
            {
                continue;
            }

            var next = i + 1 < tokens.Count ? tokens[i + 1] : default;
            var isCall = i + 2 < tokens.Count && next.Kind == SqlTokenKind.OpenParen && tokens[i + 2].Kind == SqlTokenKind.CloseParen;
            var start = i > 1 && IsPgCatalogQualified(sql, tokens, i) ? tokens[i - 2].Start : token.Start;
            if (isCall)
            {
                TimeSource? source = SqlLexer.IsKeyword(sql, token, "now") || SqlLexer.IsKeyword(sql, token, "transaction_timestamp") ? TimeSource.Transaction
                    : SqlLexer.IsKeyword(sql, token, "statement_timestamp") || SqlLexer.IsKeyword(sql, token, "clock_timestamp") ? TimeSource.Statement
                    : null;
                if (source is { } s)
                {
                    (uses ??= []).Add(new TimeFunctionUse(start, tokens[i + 2].End - start, s, "timestamptz"));
                    i += 2;
                }

                continue;
            }

            var cast = SqlLexer.IsKeyword(sql, token, "current_timestamp") ? "timestamptz"
                : SqlLexer.IsKeyword(sql, token, "current_date") ? "date"
                : SqlLexer.IsKeyword(sql, token, "current_time") ? "timetz"
                : SqlLexer.IsKeyword(sql, token, "localtime") ? "time"
                : SqlLexer.IsKeyword(sql, token, "localtimestamp") ? "timestamp"
                : null;
            if (cast is null)
            {
                continue;
            }

            var end = token.End;
            // Optional precision: CURRENT_TIMESTAMP(3)
            if (cast != "date" && i + 3 < tokens.Count && next.Kind == SqlTokenKind.OpenParen && tokens[i + 2].Kind == SqlTokenKind.Number && tokens[i + 3].Kind == SqlTokenKind.CloseParen)
            {
                cast += "(" + sql.Substring(tokens[i + 2].Start, tokens[i + 2].Length) + ")";
                end = tokens[i + 3].End;
                i += 3;
            }

            (uses ??= []).Add(new TimeFunctionUse(token.Start, end - token.Start, TimeSource.Transaction, cast));
        }

        return uses ?? (IReadOnlyList<TimeFunctionUse>)[];
    }

    /// <summary>Replaces each use with a literal of the given instants (ISO 8601 text with the session's UTC offset).</summary>
    public static string Rewrite(string sql, IReadOnlyList<TimeFunctionUse> uses, string transactionTimestamp, string statementTimestamp) =>
        Replace(sql, uses, use => $"'{(use.Source == TimeSource.Transaction ? transactionTimestamp : statementTimestamp)}'");

    /// <summary>
    /// Replaces each use with a parameter ($n for the transaction time, $m for the statement time),
    /// for prepared statements whose every execution needs a fresh value.
    /// </summary>
    public static string RewriteWithParameters(string sql, IReadOnlyList<TimeFunctionUse> uses, int transactionParameter, int statementParameter) =>
        Replace(sql, uses, use => "$" + (use.Source == TimeSource.Transaction ? transactionParameter : statementParameter).ToString(CultureInfo.InvariantCulture) + "::text");

    private static string Replace(string sql, IReadOnlyList<TimeFunctionUse> uses, Func<TimeFunctionUse, string> value)
    {
        var builder = new StringBuilder(sql.Length + uses.Count * 40);
        var position = 0;
        foreach (var use in uses)
        {
            builder.Append(sql, position, use.Start - position);
            builder.Append(Replacement(use, value(use)));
            position = use.Start + use.Length;
        }

        builder.Append(sql, position, sql.Length - position);
        return builder.ToString();
    }

    /// <summary>The highest $n parameter the statement uses (0 when none).</summary>
    public static int HighestParameter(string sql)
    {
        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(sql, tokens);
        var highest = 0;
        foreach (var token in tokens)
        {
            if (token.Kind == SqlTokenKind.Parameter && int.TryParse(sql.AsSpan(token.Start + 1, token.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var n))
            {
                highest = Math.Max(highest, n);
            }
        }

        return highest;
    }

    /// <summary>
    /// SQL that reads both clocks of the main node as ISO text in the session's time zone with its
    /// UTC offset: read back as timestamptz it is the same instant, as timestamp (a 'now' literal)
    /// the same wall-clock time, whatever DateStyle says.
    /// </summary>
    public const string ReadClocksSql =
        "SELECT pg_catalog.to_char(pg_catalog.now(), 'YYYY-MM-DD HH24:MI:SS.USOF'), pg_catalog.to_char(pg_catalog.clock_timestamp(), 'YYYY-MM-DD HH24:MI:SS.USOF')";

    private static string Replacement(TimeFunctionUse use, string value) =>
        use.Cast switch
        {
            // a 'now' literal stays a literal (its own cast, if any, follows it)
            "text" => value,
            "timestamptz" => $"{value}::timestamptz",
            _ => $"({value}::timestamptz)::{use.Cast}",
        };

    private static bool IsNowLiteral(string sql, SqlToken token)
    {
        var text = sql.AsSpan(token.Start, token.Length);
        return text.Length >= 5 && text[0] == '\'' && text[^1] == '\'' && text[1..^1].Trim().Equals("now", StringComparison.OrdinalIgnoreCase);
    }

    private static bool IsPgCatalogQualified(string sql, List<SqlToken> tokens, int index) =>
        index > 1 && tokens[index - 1].Kind == SqlTokenKind.Dot && SqlLexer.IsKeyword(sql, tokens[index - 2], "pg_catalog");
}
