namespace PgPoolConsole.Proxy.Sql;

/// <summary>Read-only cursor helpers over one statement's tokens; token positions index <see cref="Sql"/>.</summary>
internal readonly ref struct TokenReader
{
    public TokenReader(ReadOnlySpan<char> sql, ReadOnlySpan<SqlToken> tokens)
    {
        Sql = sql;
        Tokens = tokens;
    }

    /// <summary>The text the token positions refer to.</summary>
    public ReadOnlySpan<char> Sql { get; }

    /// <summary>The statement's tokens.</summary>
    public ReadOnlySpan<SqlToken> Tokens { get; }

    /// <summary>Number of tokens.</summary>
    public int Count => Tokens.Length;

    /// <summary>True when token <paramref name="i"/> exists and has kind <paramref name="kind"/>.</summary>
    public bool IsKind(int i, SqlTokenKind kind) => (uint)i < (uint)Tokens.Length && Tokens[i].Kind == kind;

    /// <summary>True when token <paramref name="i"/> is the unquoted keyword <paramref name="keyword"/> (lower case).</summary>
    public bool Is(int i, string keyword) => (uint)i < (uint)Tokens.Length && SqlLexer.IsKeyword(Sql, Tokens[i], keyword);

    /// <summary>True when token <paramref name="i"/> is an identifier, quoted or not.</summary>
    public bool IsName(int i) => IsKind(i, SqlTokenKind.Identifier) || IsKind(i, SqlTokenKind.QuotedIdentifier);

    /// <summary>The text of token <paramref name="i"/>.</summary>
    public ReadOnlySpan<char> Text(int i) => Sql.Slice(Tokens[i].Start, Tokens[i].Length);

    /// <summary>Token <paramref name="i"/> lower-cased into <paramref name="buffer"/> when it is an unquoted ASCII word that fits, else empty.</summary>
    public ReadOnlySpan<char> LowerWord(int i, Span<char> buffer) =>
        IsKind(i, SqlTokenKind.Identifier) ? SqlKeywords.ToLower(Text(i), buffer) : [];

    /// <summary>A reader over tokens [<paramref name="start"/>, <paramref name="end"/>).</summary>
    public TokenReader Slice(int start, int end) => new(Sql, Tokens[start..end]);

    /// <summary>The first index at or after <paramref name="i"/> that is not an opening parenthesis.</summary>
    public int SkipOpenParens(int i)
    {
        while (IsKind(i, SqlTokenKind.OpenParen))
        {
            i++;
        }

        return i;
    }

    /// <summary>Index just past the parenthesis matching the one at <paramref name="open"/> (or <see cref="Count"/>).</summary>
    public int SkipParens(int open)
    {
        var depth = 0;
        for (var k = open; k < Tokens.Length; k++)
        {
            var kind = Tokens[k].Kind;
            if (kind == SqlTokenKind.OpenParen)
            {
                depth++;
            }
            else if (kind == SqlTokenKind.CloseParen && --depth == 0)
            {
                return k + 1;
            }
        }

        return Tokens.Length;
    }

    /// <summary>Index of the parenthesis opening the one that closes at <paramref name="close"/> (or -1).</summary>
    public int MatchingOpen(int close)
    {
        var depth = 0;
        for (var k = close; k >= 0; k--)
        {
            var kind = Tokens[k].Kind;
            if (kind == SqlTokenKind.CloseParen)
            {
                depth++;
            }
            else if (kind == SqlTokenKind.OpenParen && --depth == 0)
            {
                return k;
            }
        }

        return -1;
    }

    /// <summary>True when <paramref name="keyword"/> occurs from <paramref name="start"/> on, outside parentheses opened after it.</summary>
    public bool HasTopLevel(int start, string keyword) => FindTopLevel(start, keyword) >= 0;

    /// <summary>Index of <paramref name="keyword"/> from <paramref name="start"/> on, outside parentheses opened after it, or -1.</summary>
    public int FindTopLevel(int start, string keyword)
    {
        var depth = 0;
        for (var k = start; k < Tokens.Length; k++)
        {
            switch (Tokens[k].Kind)
            {
                case SqlTokenKind.OpenParen:
                    depth++;
                    break;
                case SqlTokenKind.CloseParen:
                    depth--;
                    break;
                case SqlTokenKind.Identifier when depth == 0 && Is(k, keyword):
                    return k;
            }
        }

        return -1;
    }

    /// <summary>Index after the name part at <paramref name="i"/>, skipping the UESCAPE clause of a U&amp;"..." identifier.</summary>
    public int AfterNamePart(int i) =>
        IsKind(i, SqlTokenKind.QuotedIdentifier) && Sql[Tokens[i].Start] != '"' && Is(i + 1, "uescape") && IsKind(i + 2, SqlTokenKind.String)
            ? i + 3
            : i + 1;

    /// <summary>
    /// Reads a dotted name at <paramref name="i"/> (advancing past it); null when there is none. With three
    /// parts the catalog is dropped.
    /// </summary>
    public QualifiedName? ReadName(ref int i)
    {
        if (!IsName(i))
        {
            return null;
        }

        var last = i;
        var previous = -1;
        var next = AfterNamePart(i);
        while (IsKind(next, SqlTokenKind.Dot) && IsName(next + 1))
        {
            previous = last;
            last = next + 1;
            next = AfterNamePart(last);
        }

        i = next;
        return NameOf(previous, last);
    }

    /// <summary>The name whose last part is token <paramref name="last"/> and schema part token <paramref name="schema"/> (or -1).</summary>
    public QualifiedName NameOf(int schema, int last) =>
        new(schema < 0 ? null : SqlNames.FromToken(Sql, Tokens, schema), SqlNames.FromToken(Sql, Tokens, last));
}
