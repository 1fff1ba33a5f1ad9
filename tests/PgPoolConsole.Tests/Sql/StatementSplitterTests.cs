using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Tests.Sql;

public sealed class StatementSplitterTests
{
    private static string[] Split(string sql) =>
        StatementSplitter.Split(sql).Select(r => sql.Substring(r.Start, r.Length)).ToArray();

    [Theory]
    [InlineData("")]
    [InlineData("   ")]
    [InlineData(";")]
    [InlineData(" ; ;; ")]
    [InlineData("-- just a comment")]
    [InlineData("/* c */ ; -- d\n ;")]
    public void Split_NothingButSeparatorsAndComments_GivesNoStatements(string sql)
    {
        Assert.Empty(Split(sql));
    }

    [Fact]
    public void Split_TrimsWhitespaceAndDropsTheSemicolon()
    {
        Assert.Equal(["SELECT 1", "SELECT 2"], Split("  SELECT 1 ;\n\tSELECT 2;  "));
    }

    [Fact]
    public void Split_ReturnsRangesIntoTheOriginalString()
    {
        var ranges = StatementSplitter.Split("SELECT 1; SELECT 22");

        Assert.Equal([new StatementRange(0, 8), new StatementRange(10, 9)], ranges);
        Assert.Equal(19, ranges[1].End);
    }

    [Fact]
    public void Split_AppendsToCallerList()
    {
        var ranges = new List<StatementRange> { new(0, 0) };

        StatementSplitter.Split("a;b", ranges);

        Assert.Equal([new StatementRange(0, 0), new StatementRange(0, 1), new StatementRange(2, 1)], ranges);
    }

    [Fact]
    public void Split_EmptyStatementsBetweenSemicolons_AreDropped()
    {
        Assert.Equal(["SELECT 1", "SELECT 2"], Split(";;SELECT 1;;; SELECT 2;"));
    }

    [Theory]
    [InlineData("SELECT 'a;b'")]
    [InlineData("SELECT E'a\\';b'")]
    [InlineData("SELECT \"a;b\" FROM t")]
    [InlineData("SELECT $$a;b$$")]
    [InlineData("SELECT $x$ $$;$$ ; $x$")]
    [InlineData("SELECT 1 /* a; /* b; */ c; */")]
    [InlineData("SELECT 1 -- a; b")]
    [InlineData("SELECT 'a'\n';b'")]
    public void Split_SemicolonInsideStringsCommentsAndQuotes_DoesNotSplit(string sql)
    {
        Assert.Equal([sql], Split(sql));
    }

    [Fact]
    public void Split_LineCommentEndsAtNewline()
    {
        Assert.Equal(["SELECT 1 -- a; b", "SELECT 2"], Split("SELECT 1 -- a; b\n; SELECT 2"));
    }

    [Fact]
    public void Split_LeadingCommentStaysWithItsStatement()
    {
        Assert.Equal(["/*REPLICATION*/ SELECT 1", "/*NO INSERT LOCK*/ INSERT INTO t VALUES (1)"], Split("/*REPLICATION*/ SELECT 1; /*NO INSERT LOCK*/ INSERT INTO t VALUES (1)"));
    }

    [Fact]
    public void Split_BeginAtomicBody_IsOneStatement()
    {
        const string create = "CREATE PROCEDURE p(x int) LANGUAGE sql BEGIN ATOMIC INSERT INTO t VALUES (x); INSERT INTO t VALUES (x + 1); END";

        Assert.Equal([create, "CALL p(1)"], Split(create + "; CALL p(1);"));
    }

    [Fact]
    public void Split_BeginAtomicWithCase_CountsCaseEnd()
    {
        const string create = "create or replace function f(x int) returns text language sql begin atomic select case when x > 0 then 'p' else 'n' end; end";

        Assert.Equal([create, "select 1"], Split(create + ";select 1"));
    }

    [Fact]
    public void Split_TransactionBeginAndEnd_AreOrdinaryStatements()
    {
        Assert.Equal(["BEGIN", "UPDATE t SET a = 1", "END"], Split("BEGIN; UPDATE t SET a = 1; END;"));
    }

    [Fact]
    public void Split_BeginInsideNonRoutineStatement_DoesNotNest()
    {
        Assert.Equal(["CREATE TABLE begin (a int)", "SELECT 1"], Split("CREATE TABLE begin (a int); SELECT 1"));
    }

    [Fact]
    public void Split_DollarQuotedFunctionBody_IsOneStatement()
    {
        const string create = "CREATE FUNCTION f() RETURNS int AS $$ BEGIN RETURN 1; END; $$ LANGUAGE plpgsql";

        Assert.Equal([create, "SELECT f()"], Split(create + "; SELECT f()"));
    }

    [Fact]
    public void Split_RuleWithParenthesisedActions_IsOneStatement()
    {
        const string rule = "CREATE RULE r AS ON INSERT TO t DO ALSO (INSERT INTO a VALUES (1); INSERT INTO b VALUES (2))";

        Assert.Equal([rule, "SELECT 1"], Split(rule + "; SELECT 1"));
    }

    [Fact]
    public void Split_UnterminatedString_RunsToTheEnd()
    {
        Assert.Equal(["SELECT 1", "SELECT 'a; DELETE FROM t"], Split("SELECT 1; SELECT 'a; DELETE FROM t"));
    }

    [Fact]
    public void Split_UnterminatedComment_IsAStatement()
    {
        Assert.Equal(["SELECT 1", "/* open"], Split("SELECT 1; /* open"));
    }
}
