using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Tests.Sql;

public sealed class SqlLexerTests
{
    private static (SqlTokenKind Kind, string Text)[] Lex(string sql)
    {
        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(sql, tokens);
        return tokens.Select(t => (t.Kind, sql.Substring(t.Start, t.Length))).ToArray();
    }

    private static (SqlTokenKind, string) Token(SqlTokenKind kind, string text) => (kind, text);

    [Fact]
    public void Tokenize_SimpleSelect_EmitsIdentifiersOperatorsAndPunctuation()
    {
        var tokens = Lex("SELECT a, b.c FROM t WHERE x = 1;");

        Assert.Equal(
        [
            Token(SqlTokenKind.Identifier, "SELECT"), Token(SqlTokenKind.Identifier, "a"), Token(SqlTokenKind.Comma, ","),
            Token(SqlTokenKind.Identifier, "b"), Token(SqlTokenKind.Dot, "."), Token(SqlTokenKind.Identifier, "c"),
            Token(SqlTokenKind.Identifier, "FROM"), Token(SqlTokenKind.Identifier, "t"), Token(SqlTokenKind.Identifier, "WHERE"),
            Token(SqlTokenKind.Identifier, "x"), Token(SqlTokenKind.Operator, "="), Token(SqlTokenKind.Number, "1"),
            Token(SqlTokenKind.Semicolon, ";"),
        ],
            tokens);
    }

    [Fact]
    public void Tokenize_AppendsToExistingList()
    {
        var tokens = new List<SqlToken> { new(SqlTokenKind.Comma, 0, 1) };

        SqlLexer.Tokenize("x", tokens);

        Assert.Equal([new SqlToken(SqlTokenKind.Comma, 0, 1), new SqlToken(SqlTokenKind.Identifier, 0, 1)], tokens);
    }

    [Theory]
    [InlineData("")]
    [InlineData("   \t\r\n\f\v ")]
    [InlineData("-- only a comment")]
    [InlineData("/* block */ -- line\n /* another /* nested */ */")]
    public void Tokenize_WhitespaceAndComments_EmitNothing(string sql)
    {
        Assert.Empty(Lex(sql));
    }

    [Theory]
    [InlineData("abc$def")]
    [InlineData("_x1")]
    [InlineData("café")]
    [InlineData("日本語")]
    [InlineData("a\u00A0b")]
    public void Tokenize_IdentifierCharacters_FormOneIdentifier(string sql)
    {
        Assert.Equal([Token(SqlTokenKind.Identifier, sql)], Lex(sql));
    }

    [Theory]
    [InlineData("'it''s'")]
    [InlineData("''")]
    [InlineData("'a\\'")]
    [InlineData("E'\\n\\''")]
    [InlineData("e'it''s \\\\'")]
    [InlineData("B'0101'")]
    [InlineData("X'1F'")]
    [InlineData("N'national'")]
    [InlineData("U&'d\\0061t\\+000061'")]
    [InlineData("$$a ; 'b' \"c\" -- d$$")]
    [InlineData("$tag$ $$ $other$ $tag2$ $tag$")]
    [InlineData("$_a1$x$_a1$")]
    [InlineData("$ä$x$ä$")]
    public void Tokenize_StringConstants_AreOneStringToken(string sql)
    {
        Assert.Equal([Token(SqlTokenKind.String, sql)], Lex(sql));
    }

    [Fact]
    public void Tokenize_EscapeStringBackslashQuote_DoesNotEndTheString()
    {
        var tokens = Lex("SELECT E'a\\'; DROP TABLE t; --'");

        Assert.Equal([Token(SqlTokenKind.Identifier, "SELECT"), Token(SqlTokenKind.String, "E'a\\'; DROP TABLE t; --'")], tokens);
    }

    [Fact]
    public void Tokenize_StandardStringBackslash_IsPlain()
    {
        // standard_conforming_strings = on: the backslash is an ordinary character and the quote ends the string.
        var tokens = Lex("'a\\'; b");

        Assert.Equal([Token(SqlTokenKind.String, "'a\\'"), Token(SqlTokenKind.Semicolon, ";"), Token(SqlTokenKind.Identifier, "b")], tokens);
    }

    [Fact]
    public void Tokenize_UnicodeStringWithUescape_IsStringKeywordString()
    {
        var tokens = Lex("U&'d!0061t' UESCAPE '!'");

        Assert.Equal([Token(SqlTokenKind.String, "U&'d!0061t'"), Token(SqlTokenKind.Identifier, "UESCAPE"), Token(SqlTokenKind.String, "'!'")], tokens);
    }

    [Fact]
    public void Tokenize_UAmpersandWithoutQuote_IsIdentifierThenOperator()
    {
        Assert.Equal([Token(SqlTokenKind.Identifier, "u"), Token(SqlTokenKind.Operator, "&"), Token(SqlTokenKind.Identifier, "x")], Lex("u&x"));
    }

    [Fact]
    public void Tokenize_PrefixLetterInsideIdentifier_IsNotAStringPrefix()
    {
        Assert.Equal([Token(SqlTokenKind.Identifier, "abe"), Token(SqlTokenKind.String, "'x'")], Lex("abe'x'"));
    }

    [Fact]
    public void Tokenize_BitStringDoubledQuote_EndsTheString()
    {
        // No '' doubling in B'' and X'': the second quote opens a new string.
        Assert.Equal([Token(SqlTokenKind.String, "B'01'"), Token(SqlTokenKind.String, "'1'")], Lex("B'01''1'"));
    }

    [Theory]
    [InlineData("'a'\n'b'")]
    [InlineData("'a'  \n\t 'b'")]
    [InlineData("'a'\r\n'b'")]
    [InlineData("E'a\\n'\n'b\\''")]
    [InlineData("'a' -- comment\n'b'")]
    [InlineData("'a'\n-- comment\n  'b'")]
    public void Tokenize_StringsSeparatedByNewline_AreOneConstant(string sql)
    {
        // Verified against a PostgreSQL 15 server: SELECT 'a' -- c <newline> 'b' returns 'ab'
        // (libpg_query's scanner differs here: it stops at comments).
        Assert.Equal([Token(SqlTokenKind.String, sql)], Lex(sql));
    }

    [Fact]
    public void Tokenize_StringsSeparatedBySpaceOnly_AreTwoTokens()
    {
        Assert.Equal([Token(SqlTokenKind.String, "'a'"), Token(SqlTokenKind.String, "'b'")], Lex("'a' 'b'"));
    }

    [Fact]
    public void Tokenize_StringsSeparatedByBlockComment_AreTwoTokens()
    {
        Assert.Equal([Token(SqlTokenKind.String, "'a'"), Token(SqlTokenKind.String, "'b'")], Lex("'a' /* c */\n'b'"));
    }

    [Theory]
    [InlineData("\"a\"\"b\"")]
    [InlineData("\"SELECT\"")]
    [InlineData("\"with space; and -- dash\"")]
    [InlineData("U&\"d\\0061t\\+000061\"")]
    [InlineData("u&\"x\"")]
    [InlineData("\"\"")]
    public void Tokenize_QuotedIdentifiers_AreOneToken(string sql)
    {
        Assert.Equal([Token(SqlTokenKind.QuotedIdentifier, sql)], Lex(sql));
    }

    [Theory]
    [InlineData("$1", SqlTokenKind.Parameter)]
    [InlineData("$12", SqlTokenKind.Parameter)]
    [InlineData("42", SqlTokenKind.Number)]
    [InlineData("4.2", SqlTokenKind.Number)]
    [InlineData(".5", SqlTokenKind.Number)]
    [InlineData("5.", SqlTokenKind.Number)]
    [InlineData("1e10", SqlTokenKind.Number)]
    [InlineData("1.5E-3", SqlTokenKind.Number)]
    [InlineData("2e+7", SqlTokenKind.Number)]
    [InlineData("0x1F", SqlTokenKind.Number)]
    [InlineData("0o17", SqlTokenKind.Number)]
    [InlineData("0b101", SqlTokenKind.Number)]
    [InlineData("1_000_000", SqlTokenKind.Number)]
    public void Tokenize_NumbersAndParameters(string sql, SqlTokenKind kind)
    {
        Assert.Equal([Token(kind, sql)], Lex(sql));
    }

    [Fact]
    public void Tokenize_DollarDigit_IsParameterNotDollarQuote()
    {
        Assert.Equal(
            [Token(SqlTokenKind.Parameter, "$1"), Token(SqlTokenKind.Operator, "+"), Token(SqlTokenKind.Parameter, "$2")],
            Lex("$1+$2"));
    }

    [Fact]
    public void Tokenize_IntegerFollowedByDotDot_IsIntegerDotDotInteger()
    {
        Assert.Equal(
            [Token(SqlTokenKind.Number, "1"), Token(SqlTokenKind.Operator, ".."), Token(SqlTokenKind.Number, "2")],
            Lex("1..2"));
    }

    [Fact]
    public void Tokenize_ExponentWithoutDigits_EndsTheNumber()
    {
        Assert.Equal([Token(SqlTokenKind.Number, "1"), Token(SqlTokenKind.Identifier, "e")], Lex("1e"));
    }

    [Fact]
    public void Tokenize_LoneDollar_IsASingleCharacterToken()
    {
        Assert.Equal([Token(SqlTokenKind.Operator, "$"), Token(SqlTokenKind.Identifier, "abc")], Lex("$abc"));
    }

    [Fact]
    public void Tokenize_DollarQuoteCloses_OnlyOnItsOwnTag()
    {
        var tokens = Lex("$a$ $b$ inner; $b$ still $a$; x");

        Assert.Equal([Token(SqlTokenKind.String, "$a$ $b$ inner; $b$ still $a$"), Token(SqlTokenKind.Semicolon, ";"), Token(SqlTokenKind.Identifier, "x")], tokens);
    }

    [Fact]
    public void Tokenize_DollarQuoteTagIsCaseSensitive()
    {
        Assert.Equal([Token(SqlTokenKind.String, "$A$ $a$ $A$")], Lex("$A$ $a$ $A$"));
    }

    [Fact]
    public void Tokenize_DollarInsideIdentifier_DoesNotStartDollarQuote()
    {
        Assert.Equal([Token(SqlTokenKind.Identifier, "a$b$"), Token(SqlTokenKind.Identifier, "c")], Lex("a$b$ c"));
    }

    [Theory]
    [InlineData("->>")]
    [InlineData("@>")]
    [InlineData("<=")]
    [InlineData(">=")]
    [InlineData("!=")]
    [InlineData("<>")]
    [InlineData("||")]
    [InlineData("#-")]
    [InlineData("@-")]
    [InlineData("?|")]
    [InlineData("~~*")]
    [InlineData("=>")]
    [InlineData(":=")]
    public void Tokenize_MultiCharacterOperators_AreOneToken(string op)
    {
        Assert.Equal([Token(SqlTokenKind.Identifier, "a"), Token(SqlTokenKind.Operator, op), Token(SqlTokenKind.Identifier, "b")], Lex($"a{op}b"));
    }

    [Theory]
    [InlineData("a=-1", new[] { "a", "=", "-", "1" })]
    [InlineData("a<-1", new[] { "a", "<", "-", "1" })]
    [InlineData("a*-+1", new[] { "a", "*", "-", "+", "1" })]
    [InlineData("a-5", new[] { "a", "-", "5" })]
    [InlineData("-5", new[] { "-", "5" })]
    [InlineData("a@-1", new[] { "a", "@-", "1" })]
    [InlineData("a%-1", new[] { "a", "%-", "1" })]
    public void Tokenize_OperatorEndingInPlusOrMinus_IsSplitUnlessItHasAQualifyingCharacter(string sql, string[] texts)
    {
        Assert.Equal(texts, Lex(sql).Select(t => t.Text).ToArray());
    }

    [Fact]
    public void Tokenize_OperatorStopsAtEmbeddedComment()
    {
        Assert.Equal([Token(SqlTokenKind.Identifier, "a"), Token(SqlTokenKind.Operator, "+"), Token(SqlTokenKind.Identifier, "b")], Lex("a+/* c */b"));
        Assert.Equal([Token(SqlTokenKind.Identifier, "a"), Token(SqlTokenKind.Operator, "*"), Token(SqlTokenKind.Identifier, "b")], Lex("a*-- c\nb"));
    }

    [Fact]
    public void Tokenize_TypeCastAndSlices()
    {
        var tokens = Lex("x::int[1:2]");

        Assert.Equal(
        [
            Token(SqlTokenKind.Identifier, "x"), Token(SqlTokenKind.DoubleColon, "::"), Token(SqlTokenKind.Identifier, "int"),
            Token(SqlTokenKind.OpenBracket, "["), Token(SqlTokenKind.Number, "1"), Token(SqlTokenKind.Colon, ":"),
            Token(SqlTokenKind.Number, "2"), Token(SqlTokenKind.CloseBracket, "]"),
        ],
            tokens);
    }

    [Fact]
    public void Tokenize_NestedBlockComments_NeedEveryCloser()
    {
        Assert.Equal([Token(SqlTokenKind.Identifier, "a"), Token(SqlTokenKind.Identifier, "b")], Lex("a /* 1 /* 2 */ still 1 */ b"));
    }

    [Theory]
    [InlineData("SELECT 'abc", "'abc")]
    [InlineData("SELECT E'abc\\'", "E'abc\\'")]
    [InlineData("SELECT \"abc", "\"abc")]
    [InlineData("SELECT $$abc", "$$abc")]
    [InlineData("SELECT $x$abc$y$", "$x$abc$y$")]
    [InlineData("SELECT /* abc", "/* abc")]
    [InlineData("SELECT /* a /* b */", "/* a /* b */")]
    [InlineData("SELECT E'\\", "E'\\")]
    [InlineData("SELECT /*/", "/*/")]
    public void Tokenize_UnterminatedInput_EndsWithUnterminatedToken(string sql, string last)
    {
        var tokens = Lex(sql);

        Assert.Equal(Token(SqlTokenKind.Unterminated, last), tokens[^1]);
    }

    [Fact]
    public void Tokenize_OddCharacters_NeverThrow()
    {
        var sql = "\\ { } $ ` ? \0 \u0001 \uD83D\uDE00 ' ";

        var tokens = Lex(sql);

        Assert.Equal(SqlTokenKind.Unterminated, tokens[^1].Kind);
    }

    [Fact]
    public void Tokenize_RandomInput_NeverThrowsAndCoversTokensInOrder()
    {
        var random = new Random(1234);
        const string alphabet = "ab$1'\"eEuU&/*-+;:.()[]\\ \n_x09";
        var tokens = new List<SqlToken>();
        for (var round = 0; round < 2000; round++)
        {
            var chars = new char[random.Next(0, 40)];
            for (var i = 0; i < chars.Length; i++)
            {
                chars[i] = alphabet[random.Next(alphabet.Length)];
            }

            tokens.Clear();
            SqlLexer.Tokenize(chars, tokens);

            var end = 0;
            foreach (var token in tokens)
            {
                Assert.True(token.Start >= end && token.Length > 0 && token.End <= chars.Length, new string(chars));
                end = token.End;
            }
        }
    }

    [Fact]
    public void Tokenize_IntoWarmList_DoesNotAllocate()
    {
        const string sql = "/* c */ SELECT a, E'x\\'' AS \"B\", $$d$$, $1::int FROM s.t WHERE x ->> 'k' = 'v' -- end";
        var tokens = new List<SqlToken>(64);
        SqlLexer.Tokenize(sql, tokens);
        tokens.Clear();

        var before = GC.GetAllocatedBytesForCurrentThread();
        SqlLexer.Tokenize(sql, tokens);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(0, allocated);
        Assert.Equal(22, tokens.Count);
    }

    [Theory]
    [InlineData("SELECT", "select", true)]
    [InlineData("sElEcT", "select", true)]
    [InlineData("selects", "select", false)]
    [InlineData("\"select\"", "select", false)]
    [InlineData("ſelect", "select", false)]
    public void IsKeyword_MatchesUnquotedAsciiCaseInsensitively(string sql, string keyword, bool expected)
    {
        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(sql, tokens);

        Assert.Equal(expected, SqlLexer.IsKeyword(sql, tokens[0], keyword));
    }

    [Fact]
    public void EnumerateLeadingComments_ReportsCommentsBeforeTheFirstToken()
    {
        const string sql = "  /*REPLICATION*/ -- note\n /* a /* b */ */ SELECT /* not leading */ 1";
        var bodies = new List<string>();

        foreach (var comment in SqlLexer.EnumerateLeadingComments(sql))
        {
            bodies.Add(comment.GetBody(sql).ToString());
        }

        Assert.Equal(["REPLICATION", " note", " a /* b */ "], bodies);
    }

    [Fact]
    public void EnumerateLeadingComments_StopsAtUnterminatedComment()
    {
        var starts = new List<int>();
        foreach (var comment in SqlLexer.EnumerateLeadingComments("/* a */ /* b"))
        {
            starts.Add(comment.Start);
        }

        Assert.Equal([0], starts);
    }
}
