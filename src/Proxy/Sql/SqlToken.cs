namespace PgPoolConsole.Proxy.Sql;

/// <summary>The kind of a token produced by <see cref="SqlLexer"/>.</summary>
public enum SqlTokenKind : byte
{
    /// <summary>An unquoted identifier or keyword (<c>select</c>, <c>my_table</c>, <c>a$b</c>).</summary>
    Identifier,

    /// <summary>A quoted identifier: <c>"a""b"</c> or <c>U&amp;"d\0061t"</c>.</summary>
    QuotedIdentifier,

    /// <summary>
    /// A string constant of any flavour: <c>'x'</c>, <c>E'x'</c>, <c>U&amp;'x'</c>, <c>B'01'</c>, <c>X'1F'</c>,
    /// <c>N'x'</c> or a dollar-quoted string. Segments joined by a newline continuation form one token.
    /// </summary>
    String,

    /// <summary>A numeric constant: <c>42</c>, <c>1.5e3</c>, <c>.5</c>, <c>0x1F</c>.</summary>
    Number,

    /// <summary>A positional parameter: <c>$1</c>.</summary>
    Parameter,

    /// <summary>
    /// An operator (<c>+</c>, <c>-&gt;&gt;</c>, <c>@&gt;</c>, <c>:=</c>, <c>=&gt;</c>, <c>..</c>), or a single character that
    /// PostgreSQL's scanner returns on its own and the grammar rejects (<c>$</c>, <c>\</c>, <c>{</c>).
    /// </summary>
    Operator,

    /// <summary><c>(</c></summary>
    OpenParen,

    /// <summary><c>)</c></summary>
    CloseParen,

    /// <summary><c>[</c></summary>
    OpenBracket,

    /// <summary><c>]</c></summary>
    CloseBracket,

    /// <summary><c>,</c></summary>
    Comma,

    /// <summary><c>;</c></summary>
    Semicolon,

    /// <summary><c>:</c></summary>
    Colon,

    /// <summary><c>::</c> (a type cast).</summary>
    DoubleColon,

    /// <summary><c>.</c></summary>
    Dot,

    /// <summary>An unterminated string, quoted identifier or block comment; it runs to the end of the text.</summary>
    Unterminated,
}

/// <summary>A token: its kind and its range in the text that was tokenized.</summary>
/// <param name="Kind">What the token is.</param>
/// <param name="Start">Index of its first character.</param>
/// <param name="Length">Number of characters.</param>
public readonly record struct SqlToken(SqlTokenKind Kind, int Start, int Length)
{
    /// <summary>Index just past the token.</summary>
    public int End => Start + Length;
}

/// <summary>A comment found before the first token of a statement (see <see cref="SqlLexer.EnumerateLeadingComments"/>).</summary>
/// <param name="Start">Index of the comment's first character (<c>-</c> or <c>/</c>).</param>
/// <param name="Length">Length including its delimiters.</param>
/// <param name="IsBlock">True for <c>/* */</c>, false for <c>--</c>.</param>
public readonly record struct SqlComment(int Start, int Length, bool IsBlock)
{
    /// <summary>The comment's text without its delimiters.</summary>
    public ReadOnlySpan<char> GetBody(ReadOnlySpan<char> sql) =>
        IsBlock ? sql.Slice(Start + 2, Length - 4) : sql.Slice(Start + 2, Length - 2);
}
