using System.Buffers;
using System.Text;

namespace PgPoolConsole.Proxy.Sql;

/// <summary>
/// A PostgreSQL 15 lexer following the rules of <c>src/backend/parser/scan.l</c>, with
/// <c>standard_conforming_strings = on</c> (the default since 9.1).
/// </summary>
/// <remarks>
/// It runs for every query the proxy sees, so it never allocates: tokens are (kind, start, length)
/// triples appended to a caller-owned list, and searches inside strings and comments use vectorized
/// <see cref="SearchValues{T}"/>. Whitespace and comments are skipped; the comments before the first
/// token are available through <see cref="EnumerateLeadingComments"/>. Differences from scan.l, all
/// on input the parser rejects or that is only tolerated: numeric "junk" such as <c>123abc</c> lexes
/// as a number and an identifier, PostgreSQL 16 numerics (<c>0x1F</c>, <c>1_000</c>) are accepted,
/// and <c>N'x'</c> is one <see cref="SqlTokenKind.String"/> token (the scanner returns NCHAR and a string).
/// </remarks>
public static class SqlLexer
{
    private static readonly SearchValues<char> QuoteOrBackslash = SearchValues.Create("'\\");
    private static readonly SearchValues<char> CommentDelimiters = SearchValues.Create("*/");
    private static readonly SearchValues<char> Newlines = SearchValues.Create("\n\r");

    /// <summary>
    /// Appends the tokens of <paramref name="sql"/> to <paramref name="tokens"/>. Never throws on any input:
    /// an unterminated string, quoted identifier or comment becomes an <see cref="SqlTokenKind.Unterminated"/>
    /// token running to the end.
    /// </summary>
    public static void Tokenize(ReadOnlySpan<char> sql, List<SqlToken> tokens) => Tokenize(sql, 0, tokens);

    /// <summary>Tokenizes <paramref name="sql"/> from <paramref name="start"/>; token positions index <paramref name="sql"/>.</summary>
    internal static void Tokenize(ReadOnlySpan<char> sql, int start, List<SqlToken> tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        var i = start;
        while (true)
        {
            i = SkipTrivia(sql, i, out var unterminatedComment);
            if (unterminatedComment >= 0)
            {
                tokens.Add(new SqlToken(SqlTokenKind.Unterminated, unterminatedComment, sql.Length - unterminatedComment));
                return;
            }

            if (i >= sql.Length)
            {
                return;
            }

            var end = ScanToken(sql, i, out var kind);
            tokens.Add(new SqlToken(kind, i, end - i));
            i = end;
        }
    }

    /// <summary>Case-insensitive keyword test for an <see cref="SqlTokenKind.Identifier"/> token (ASCII only).</summary>
    public static bool IsKeyword(ReadOnlySpan<char> sql, SqlToken token, string lowerCaseKeyword) =>
        token.Kind == SqlTokenKind.Identifier
        && token.Length == lowerCaseKeyword.Length
        && Ascii.EqualsIgnoreCase(sql.Slice(token.Start, token.Length), lowerCaseKeyword);

    /// <summary>
    /// Enumerates the comments that come before the first token of <paramref name="sql"/> (whitespace
    /// between them is skipped). An unterminated block comment ends the enumeration.
    /// </summary>
    public static LeadingCommentEnumerator EnumerateLeadingComments(ReadOnlySpan<char> sql) => new(sql);

    /// <summary>True for the characters PostgreSQL treats as whitespace (scan.l <c>space</c>, plus \v as in 16).</summary>
    internal static bool IsSpace(char c) => c is ' ' or '\t' or '\n' or '\r' or '\f' or '\v';

    /// <summary>Skips whitespace and comments. Sets <paramref name="unterminatedComment"/> to the start of an unterminated block comment, else -1.</summary>
    private static int SkipTrivia(ReadOnlySpan<char> sql, int i, out int unterminatedComment)
    {
        unterminatedComment = -1;
        while (i < sql.Length)
        {
            var c = sql[i];
            if (IsSpace(c))
            {
                i++;
            }
            else if (c == '-' && At(sql, i + 1, '-'))
            {
                i = LineCommentEnd(sql, i);
            }
            else if (c == '/' && At(sql, i + 1, '*'))
            {
                var end = BlockCommentEnd(sql, i);
                if (end < 0)
                {
                    unterminatedComment = i;
                    return sql.Length;
                }

                i = end;
            }
            else
            {
                break;
            }
        }

        return i;
    }

    /// <summary>Index of the newline ending the <c>--</c> comment at <paramref name="start"/>, or the text length.</summary>
    internal static int LineCommentEnd(ReadOnlySpan<char> sql, int start)
    {
        var k = sql[start..].IndexOfAny(Newlines);
        return k < 0 ? sql.Length : start + k;
    }

    /// <summary>Index just past the (nesting) block comment at <paramref name="start"/>, or -1 when unterminated.</summary>
    internal static int BlockCommentEnd(ReadOnlySpan<char> sql, int start)
    {
        var depth = 1;
        var j = start + 2;
        while (true)
        {
            var k = sql[j..].IndexOfAny(CommentDelimiters);
            if (k < 0)
            {
                return -1;
            }

            j += k;
            if (sql[j] == '*' && At(sql, j + 1, '/'))
            {
                j += 2;
                if (--depth == 0)
                {
                    return j;
                }
            }
            else if (sql[j] == '/' && At(sql, j + 1, '*'))
            {
                depth++;
                j += 2;
            }
            else
            {
                j++;
            }
        }
    }

    private static bool At(ReadOnlySpan<char> sql, int i, char c) => (uint)i < (uint)sql.Length && sql[i] == c;

    private static int ScanToken(ReadOnlySpan<char> sql, int i, out SqlTokenKind kind)
    {
        var c = sql[i];
        SqlTokenKind? punctuation = c switch
        {
            '(' => SqlTokenKind.OpenParen,
            ')' => SqlTokenKind.CloseParen,
            '[' => SqlTokenKind.OpenBracket,
            ']' => SqlTokenKind.CloseBracket,
            ',' => SqlTokenKind.Comma,
            ';' => SqlTokenKind.Semicolon,
            _ => null,
        };
        if (punctuation is { } single)
        {
            kind = single;
            return i + 1;
        }

        switch (c)
        {
            case '\'':
                return ScanString(sql, i + 1, StringFlavor.Standard, out kind);
            case '"':
                return ScanQuotedIdentifier(sql, i + 1, out kind);
            case ':':
                (kind, var colonLength) = At(sql, i + 1, ':') ? (SqlTokenKind.DoubleColon, 2)
                    : At(sql, i + 1, '=') ? (SqlTokenKind.Operator, 2)
                    : (SqlTokenKind.Colon, 1);
                return i + colonLength;
            case '.' when i + 1 < sql.Length && char.IsAsciiDigit(sql[i + 1]):
                kind = SqlTokenKind.Number;
                return ScanNumber(sql, i);
            case '.':
                // scan.l dot_dot: ".." is one token (PL/pgSQL's FOR i IN 1..10), so "..2" is not a number.
                (kind, var dotLength) = At(sql, i + 1, '.') ? (SqlTokenKind.Operator, 2) : (SqlTokenKind.Dot, 1);
                return i + dotLength;
            case '$':
                return ScanDollar(sql, i, out kind);
        }

        if (char.IsAsciiDigit(c))
        {
            kind = SqlTokenKind.Number;
            return ScanNumber(sql, i);
        }

        // String prefixes count only at the start of a token: "ab'x'" is the identifier ab and a string.
        var next = i + 1 < sql.Length ? sql[i + 1] : '\0';
        if (next == '\'')
        {
            switch (c)
            {
                case 'e' or 'E':
                    return ScanString(sql, i + 2, StringFlavor.Escape, out kind);
                case 'b' or 'B' or 'x' or 'X':
                    return ScanString(sql, i + 2, StringFlavor.Bit, out kind);
                case 'n' or 'N':
                    return ScanString(sql, i + 2, StringFlavor.Standard, out kind);
            }
        }
        else if (next == '&' && c is 'u' or 'U' && i + 2 < sql.Length)
        {
            // U&'...' and U&"..."; otherwise (scan.l xufailed) "u" is an identifier and "&" an operator.
            if (sql[i + 2] == '\'')
            {
                return ScanString(sql, i + 3, StringFlavor.Standard, out kind);
            }

            if (sql[i + 2] == '"')
            {
                return ScanQuotedIdentifier(sql, i + 3, out kind);
            }
        }

        if (IsIdentifierStart(c))
        {
            kind = SqlTokenKind.Identifier;
            var j = i + 1;
            while (j < sql.Length && IsIdentifierPart(sql[j]))
            {
                j++;
            }

            return j;
        }

        kind = SqlTokenKind.Operator;
        return IsOperatorChar(c) ? ScanOperator(sql, i) : i + 1;
    }

    private enum StringFlavor : byte
    {
        /// <summary>'..', N'..', U&amp;'..': a doubled quote is a quote, backslashes are plain.</summary>
        Standard,

        /// <summary>E'..': a backslash escapes the next character (including a quote).</summary>
        Escape,

        /// <summary>B'..', X'..': the first quote ends the segment (no doubling).</summary>
        Bit,
    }

    private static int ScanString(ReadOnlySpan<char> sql, int contentStart, StringFlavor flavor, out SqlTokenKind kind)
    {
        var j = contentStart;
        while (true)
        {
            var k = flavor == StringFlavor.Escape ? sql[j..].IndexOfAny(QuoteOrBackslash) : sql[j..].IndexOf('\'');
            if (k < 0)
            {
                kind = SqlTokenKind.Unterminated;
                return sql.Length;
            }

            j += k;
            if (sql[j] == '\\')
            {
                if (j + 1 >= sql.Length)
                {
                    kind = SqlTokenKind.Unterminated;
                    return sql.Length;
                }

                j += 2;
                continue;
            }

            if (flavor != StringFlavor.Bit && At(sql, j + 1, '\''))
            {
                j += 2;
                continue;
            }

            j++;
            var resume = ContinuationQuote(sql, j);
            if (resume < 0)
            {
                kind = SqlTokenKind.String;
                return j;
            }

            j = resume + 1;
        }
    }

    /// <summary>
    /// scan.l <c>quotecontinue</c>: after a closing quote, whitespace containing a newline (with <c>--</c>
    /// comments) and another quote continue the same constant. Returns that quote's index, or -1.
    /// </summary>
    private static int ContinuationQuote(ReadOnlySpan<char> sql, int i)
    {
        var sawNewline = false;
        while (i < sql.Length)
        {
            var c = sql[i];
            if (c is '\n' or '\r')
            {
                sawNewline = true;
                i++;
            }
            else if (IsSpace(c))
            {
                i++;
            }
            else if (c == '-' && At(sql, i + 1, '-'))
            {
                // After the newline a comment must itself end in a newline (special_whitespace).
                i = LineCommentEnd(sql, i);
                if (sawNewline && i >= sql.Length)
                {
                    return -1;
                }
            }
            else
            {
                return sawNewline && c == '\'' ? i : -1;
            }
        }

        return -1;
    }

    private static int ScanQuotedIdentifier(ReadOnlySpan<char> sql, int contentStart, out SqlTokenKind kind)
    {
        var j = contentStart;
        while (true)
        {
            var k = sql[j..].IndexOf('"');
            if (k < 0)
            {
                kind = SqlTokenKind.Unterminated;
                return sql.Length;
            }

            j += k + 1;
            if (!At(sql, j, '"'))
            {
                kind = SqlTokenKind.QuotedIdentifier;
                return j;
            }

            j++;
        }
    }

    /// <summary>$1 (parameter), $tag$...$tag$ (dollar quote) or a lone $ (scan.l dolqfailed).</summary>
    private static int ScanDollar(ReadOnlySpan<char> sql, int i, out SqlTokenKind kind)
    {
        var j = i + 1;
        if (j < sql.Length && char.IsAsciiDigit(sql[j]))
        {
            while (j < sql.Length && char.IsAsciiDigit(sql[j]))
            {
                j++;
            }

            kind = SqlTokenKind.Parameter;
            return j;
        }

        // Tags follow scan.l dolq_start / dolq_cont: identifier characters without '$', no digit first.
        if (j < sql.Length && IsIdentifierStart(sql[j]))
        {
            j++;
            while (j < sql.Length && (IsIdentifierStart(sql[j]) || char.IsAsciiDigit(sql[j])))
            {
                j++;
            }
        }

        if (!At(sql, j, '$'))
        {
            kind = SqlTokenKind.Operator;
            return i + 1;
        }

        // Searching for the first exact "$tag$" is what the xdolq rules amount to: each '$' in the body
        // starts a delimiter candidate, and a different tag gives back its last '$'.
        var delimiter = sql[i..(j + 1)];
        var close = sql[(j + 1)..].IndexOf(delimiter);
        if (close < 0)
        {
            kind = SqlTokenKind.Unterminated;
            return sql.Length;
        }

        kind = SqlTokenKind.String;
        return j + 1 + close + delimiter.Length;
    }

    private static int ScanNumber(ReadOnlySpan<char> sql, int i)
    {
        // PostgreSQL 16 non-decimal integers, tolerated: 0x1F, 0o17, 0b101.
        if (sql[i] == '0' && i + 2 < sql.Length)
        {
            var radix = sql[i + 1] switch
            {
                'x' or 'X' => 16,
                'o' or 'O' => 8,
                'b' or 'B' => 2,
                _ => 0,
            };
            if (radix != 0 && IsRadixDigit(sql[i + 2], radix))
            {
                return ScanDigits(sql, i + 2, radix);
            }
        }

        var j = ScanDigits(sql, i, 10);
        if (At(sql, j, '.') && !At(sql, j + 1, '.'))
        {
            j = ScanDigits(sql, j + 1, 10);
        }

        if (j < sql.Length && sql[j] is 'e' or 'E')
        {
            var k = j + 1;
            if (k < sql.Length && sql[k] is '+' or '-')
            {
                k++;
            }

            if (k < sql.Length && char.IsAsciiDigit(sql[k]))
            {
                j = ScanDigits(sql, k, 10);
            }
        }

        return j;
    }

    /// <summary>Digits, with PostgreSQL 16's single underscores between digits.</summary>
    private static int ScanDigits(ReadOnlySpan<char> sql, int j, int radix)
    {
        while (j < sql.Length)
        {
            if (IsRadixDigit(sql[j], radix))
            {
                j++;
            }
            else if (sql[j] == '_' && j + 1 < sql.Length && IsRadixDigit(sql[j + 1], radix) && j > 0 && IsRadixDigit(sql[j - 1], radix))
            {
                j++;
            }
            else
            {
                break;
            }
        }

        return j;
    }

    private static bool IsRadixDigit(char c, int radix) => radix switch
    {
        16 => char.IsAsciiHexDigit(c),
        8 => c is >= '0' and <= '7',
        2 => c is '0' or '1',
        _ => char.IsAsciiDigit(c),
    };

    /// <summary>
    /// scan.l <c>{operator}</c>: the longest run of operator characters, cut before an embedded <c>/*</c> or
    /// <c>--</c>; a multi-character operator cannot end in + or - unless it contains ~ ! @ # % ^ &amp; | ` ?.
    /// </summary>
    private static int ScanOperator(ReadOnlySpan<char> sql, int i)
    {
        var end = i + 1;
        while (end < sql.Length && IsOperatorChar(sql[end]))
        {
            if ((sql[end] == '*' && sql[end - 1] == '/') || (sql[end] == '-' && sql[end - 1] == '-'))
            {
                end--;
                break;
            }

            end++;
        }

        var length = end - i;
        if (length > 1 && sql[end - 1] is '+' or '-')
        {
            var qualifies = sql.Slice(i, length - 1).ContainsAny("~!@#^&|`?%");
            if (!qualifies)
            {
                do
                {
                    length--;
                }
                while (length > 1 && sql[i + length - 1] is '+' or '-');
            }
        }

        return i + length;
    }

    /// <summary>scan.l <c>ident_start</c>: ASCII letters, underscore and every non-ASCII character.</summary>
    internal static bool IsIdentifierStart(char c) => char.IsAsciiLetter(c) || c == '_' || c >= '\u0080';

    /// <summary>scan.l <c>ident_cont</c>: <see cref="IsIdentifierStart"/> plus digits and $.</summary>
    internal static bool IsIdentifierPart(char c) => IsIdentifierStart(c) || char.IsAsciiDigit(c) || c == '$';

    private static bool IsOperatorChar(char c) => c switch
    {
        '~' or '!' or '@' or '#' or '^' or '&' or '|' or '`' or '?' or '+' or '-' or '*' or '/' or '%' or '<' or '>' or '=' => true,
        _ => false,
    };

    /// <summary>Enumerates leading comments without allocating; see <see cref="EnumerateLeadingComments"/>.</summary>
    public ref struct LeadingCommentEnumerator
    {
        private readonly ReadOnlySpan<char> _sql;
        private int _position;

        internal LeadingCommentEnumerator(ReadOnlySpan<char> sql)
        {
            _sql = sql;
        }

        /// <summary>The comment found by the last successful <see cref="MoveNext"/>.</summary>
        public SqlComment Current { get; private set; }

        /// <summary>Returns this enumerator, so that it can be used in <c>foreach</c>.</summary>
        public readonly LeadingCommentEnumerator GetEnumerator() => this;

        /// <summary>Advances to the next leading comment.</summary>
        public bool MoveNext()
        {
            var i = _position;
            while (i < _sql.Length && IsSpace(_sql[i]))
            {
                i++;
            }

            int end;
            bool isBlock;
            if (At(_sql, i, '-') && At(_sql, i + 1, '-'))
            {
                end = LineCommentEnd(_sql, i);
                isBlock = false;
            }
            else if (At(_sql, i, '/') && At(_sql, i + 1, '*'))
            {
                end = BlockCommentEnd(_sql, i);
                isBlock = true;
            }
            else
            {
                end = -1;
                isBlock = false;
            }

            if (end < 0)
            {
                _position = _sql.Length;
                return false;
            }

            Current = new SqlComment(i, end - i, isBlock);
            _position = end;
            return true;
        }
    }
}
