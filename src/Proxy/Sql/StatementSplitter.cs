using System.Runtime.InteropServices;
using System.Text;

namespace PgPoolConsole.Proxy.Sql;

/// <summary>The range of one statement in a query string.</summary>
/// <param name="Start">Index of its first character (a leading comment counts: hints live there).</param>
/// <param name="Length">Number of characters, without surrounding whitespace or the terminating semicolon.</param>
public readonly record struct StatementRange(int Start, int Length)
{
    /// <summary>Index just past the statement.</summary>
    public int End => Start + Length;
}

/// <summary>A statement's character range plus the slice of the token list that belongs to it.</summary>
internal readonly record struct StatementSegment(int Start, int Length, int FirstToken, int TokenCount);

/// <summary>
/// Splits a simple-query string into statements the way psql does (psqlscan.l), which for valid input is
/// the way PostgreSQL's grammar does: at semicolons outside strings, quoted identifiers, comments and
/// dollar quotes, outside parentheses (<c>CREATE RULE ... DO (stmt; stmt)</c>) and outside the
/// <c>BEGIN [ATOMIC] ... END</c> body of <c>CREATE [OR REPLACE] FUNCTION|PROCEDURE</c>.
/// </summary>
/// <remarks>
/// Parentheses differ from a plain "split at every semicolon" only for input the server rejects as a
/// whole (<c>SELECT (1; SELECT 2)</c>): the parser checks the whole string before running any of it.
/// </remarks>
public static class StatementSplitter
{
    /// <summary>The non-empty statements of <paramref name="sql"/>; empty input, or only semicolons and comments, gives none.</summary>
    public static IReadOnlyList<StatementRange> Split(ReadOnlySpan<char> sql)
    {
        var ranges = new List<StatementRange>();
        Split(sql, ranges);
        return ranges;
    }

    /// <summary>Appends the non-empty statements of <paramref name="sql"/> to <paramref name="ranges"/>.</summary>
    public static void Split(ReadOnlySpan<char> sql, List<StatementRange> ranges)
    {
        ArgumentNullException.ThrowIfNull(ranges);
        var tokens = TokenListPool.Rent();
        var segments = new List<StatementSegment>();
        try
        {
            SqlLexer.Tokenize(sql, tokens);
            Split(sql, CollectionsMarshal.AsSpan(tokens), segments);
            foreach (var segment in segments)
            {
                ranges.Add(new StatementRange(segment.Start, segment.Length));
            }
        }
        finally
        {
            TokenListPool.Return(tokens);
        }
    }

    /// <summary>Splits already tokenized text (token positions index <paramref name="sql"/>).</summary>
    internal static void Split(ReadOnlySpan<char> sql, ReadOnlySpan<SqlToken> tokens, List<StatementSegment> segments)
    {
        var parenDepth = 0;
        var beginDepth = 0;
        var identifierCount = 0;

        // psql remembers the initial of each of the first four identifiers when it is one of CREATE,
        // OR, REPLACE, FUNCTION, PROCEDURE, to recognise CREATE [OR REPLACE] {FUNCTION|PROCEDURE}.
        Span<char> initials = stackalloc char[4];
        initials.Clear();
        var segmentStart = 0;
        var firstToken = 0;
        for (var t = 0; t < tokens.Length; t++)
        {
            var token = tokens[t];
            switch (token.Kind)
            {
                case SqlTokenKind.OpenParen:
                    parenDepth++;
                    break;
                case SqlTokenKind.CloseParen:
                    if (parenDepth > 0)
                    {
                        parenDepth--;
                    }

                    break;
                case SqlTokenKind.Identifier:
                    var word = sql.Slice(token.Start, token.Length);
                    if (identifierCount < initials.Length && IsRoutineHeaderWord(word))
                    {
                        initials[identifierCount] = char.ToLowerInvariant(word[0]);
                    }

                    identifierCount++;
                    if (parenDepth == 0 && IsRoutineHeader(initials))
                    {
                        beginDepth = TrackBeginDepth(word, beginDepth);
                    }

                    break;
                case SqlTokenKind.Semicolon when parenDepth == 0 && beginDepth == 0:
                    AddSegment(sql, segmentStart, token.Start, firstToken, t, segments);
                    segmentStart = token.End;
                    firstToken = t + 1;
                    identifierCount = 0;
                    initials.Clear();
                    break;
            }
        }

        AddSegment(sql, segmentStart, sql.Length, firstToken, tokens.Length, segments);
    }

    private static bool IsRoutineHeaderWord(ReadOnlySpan<char> word) =>
        Ascii.EqualsIgnoreCase(word, "create")
        || Ascii.EqualsIgnoreCase(word, "function")
        || Ascii.EqualsIgnoreCase(word, "procedure")
        || Ascii.EqualsIgnoreCase(word, "or")
        || Ascii.EqualsIgnoreCase(word, "replace");

    private static bool IsRoutineHeader(ReadOnlySpan<char> initials) =>
        initials[0] == 'c'
        && (initials[1] is 'f' or 'p' || (initials[1] == 'o' && initials[2] == 'r' && initials[3] is 'f' or 'p'));

    private static int TrackBeginDepth(ReadOnlySpan<char> word, int beginDepth)
    {
        if (Ascii.EqualsIgnoreCase(word, "begin"))
        {
            return beginDepth + 1;
        }

        // CASE also ends with END; it only matters inside a BEGIN.
        if (Ascii.EqualsIgnoreCase(word, "case"))
        {
            return beginDepth >= 1 ? beginDepth + 1 : beginDepth;
        }

        if (Ascii.EqualsIgnoreCase(word, "end"))
        {
            return beginDepth > 0 ? beginDepth - 1 : beginDepth;
        }

        return beginDepth;
    }

    private static void AddSegment(ReadOnlySpan<char> sql, int start, int end, int firstToken, int endToken, List<StatementSegment> segments)
    {
        if (endToken == firstToken)
        {
            return;
        }

        while (start < end && SqlLexer.IsSpace(sql[start]))
        {
            start++;
        }

        while (end > start && SqlLexer.IsSpace(sql[end - 1]))
        {
            end--;
        }

        segments.Add(new StatementSegment(start, end - start, firstToken, endToken - firstToken));
    }
}

/// <summary>
/// One reusable token list per thread. Classification is synchronous, so a thread-static list is never
/// shared; reusing it keeps the token array warm in cache and the hot path free of allocations. Lists
/// grown by a huge query are dropped rather than kept.
/// </summary>
internal static class TokenListPool
{
    private const int MaxRetainedCapacity = 4096;

    [ThreadStatic]
    private static List<SqlToken>? _cached;

    /// <summary>Takes the thread's list (or a new one when it is in use).</summary>
    public static List<SqlToken> Rent()
    {
        var list = _cached ?? new List<SqlToken>(64);
        _cached = null;
        return list;
    }

    /// <summary>Gives a list back for reuse.</summary>
    public static void Return(List<SqlToken> list)
    {
        if (list.Capacity <= MaxRetainedCapacity)
        {
            list.Clear();
            _cached = list;
        }
    }
}
