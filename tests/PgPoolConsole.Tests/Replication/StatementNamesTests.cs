using PgPoolConsole.Proxy.Replication;

namespace PgPoolConsole.Tests.Replication;

public sealed class StatementNamesTests
{
    [Theory]
    [InlineData("DEALLOCATE Ins", "ins")]
    [InlineData("DEALLOCATE PREPARE \"My \"\"Stmt\"\"\"", "My \"Stmt\"")]
    [InlineData("DEALLOCATE ALL", null)]
    [InlineData("DEALLOCATE PREPARE ALL", null)]
    public void DeallocateTarget_FoldsNamesAsPostgreSqlDoes(string sql, string? expected) =>
        Assert.Equal(expected, StatementNames.DeallocateTarget(sql));

    [Theory]
    [InlineData("PREPARE ins AS INSERT INTO t VALUES ($1)", "ins", 0, "INSERT INTO t VALUES ($1)")]
    [InlineData("prepare \"Ins 2\" (int, numeric(10, 2), text[]) as UPDATE t SET a = $2", "Ins 2", 3, "UPDATE t SET a = $2")]
    [InlineData("PREPARE p() AS SELECT 1", "p", 0, "SELECT 1")]
    public void PrepareParts_GiveTheNameTheDeclaredTypesAndTheBody(string sql, string name, int declared, string body)
    {
        var parts = StatementNames.PrepareParts(sql);

        Assert.NotNull(parts);
        Assert.Equal(name, parts.Value.Name);
        Assert.Equal(declared, parts.Value.DeclaredTypes);
        Assert.Equal(body, sql[parts.Value.BodyStart..]);
    }

    [Theory]
    [InlineData("PREPARE TRANSACTION 'x'")]
    [InlineData("PREPARE p (int)")]
    [InlineData("PREPARE 'p' AS SELECT 1")]
    public void PrepareParts_IsNullForWhatIsNotAPreparedStatement(string sql) => Assert.Null(StatementNames.PrepareParts(sql));

    [Theory]
    [InlineData("EXECUTE ins", "ins", -1)]
    [InlineData("EXECUTE ins(1, f(2))", "ins", 19)]
    [InlineData("execute \"Ins 2\" ( 'a' ) ;", "Ins 2", 22)]
    public void ExecuteParts_GiveTheNameAndTheClosingParenthesis(string sql, string name, int closeParen) =>
        Assert.Equal((name, closeParen), StatementNames.ExecuteParts(sql));

    [Theory]
    [InlineData("EXECUTE ins(1) extra")]
    [InlineData("EXECUTE 42")]
    public void ExecuteParts_IsNullForWhatItCannotRead(string sql) => Assert.Null(StatementNames.ExecuteParts(sql));
}
