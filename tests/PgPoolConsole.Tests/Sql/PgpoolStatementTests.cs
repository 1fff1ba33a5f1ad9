using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Tests.Sql;

public sealed class PgpoolStatementTests
{
    [Theory]
    [InlineData("PGPOOL SET client_idle_limit = 350", "client_idle_limit", "350")]
    [InlineData("pgpool set Client_Idle_Limit to 5;", "client_idle_limit", "5")]
    [InlineData("PGPOOL SET client_idle_limit TO '10min'", "client_idle_limit", "10min")]
    [InlineData("PGPOOL SET log_min_messages TO INFO", "log_min_messages", "info")]
    [InlineData("PGPOOL SET client_idle_limit_in_recovery = -1", "client_idle_limit_in_recovery", "-1")]
    [InlineData("PGPOOL SET client_idle_limit_in_recovery=-1", "client_idle_limit_in_recovery", "-1")]
    [InlineData("PGPOOL SET log_statement = 'it''s'", "log_statement", "it's")]
    [InlineData("PGPOOL SET \"Odd\" = on", "Odd", "on")]
    [InlineData("/* why */ PGPOOL SET log_statement = on", "log_statement", "on")]
    public void Set_ReadsNameAndValue(string sql, string name, string value)
    {
        var statement = PgpoolStatement.Parse(sql, PoolCommand.PgpoolSet);

        Assert.Equal(new PgpoolStatement(PoolCommand.PgpoolSet, name, value), statement);
    }

    [Theory]
    [InlineData("PGPOOL SET client_idle_limit TO DEFAULT")]
    [InlineData("PGPOOL SET client_idle_limit = default;")]
    public void SetToDefault_HasNoValue(string sql) =>
        Assert.Equal(new PgpoolStatement(PoolCommand.PgpoolSet, "client_idle_limit", null), PgpoolStatement.Parse(sql, PoolCommand.PgpoolSet));

    [Theory]
    [InlineData("PGPOOL SHOW ALL", PoolCommand.PgpoolShow, null)]
    [InlineData("PGPOOL SHOW backend_weight0;", PoolCommand.PgpoolShow, "backend_weight0")]
    [InlineData("PGPOOL SHOW \"all\"", PoolCommand.PgpoolShow, "all")]
    [InlineData("PGPOOL RESET all", PoolCommand.PgpoolReset, null)]
    [InlineData("PGPOOL RESET log_statement", PoolCommand.PgpoolReset, "log_statement")]
    public void ShowAndReset_ReadNameOrAll(string sql, PoolCommand command, string? name) =>
        Assert.Equal(new PgpoolStatement(command, name, null), PgpoolStatement.Parse(sql, command));

    [Theory]
    [InlineData("PGPOOL SET", PoolCommand.PgpoolSet)]
    [InlineData("PGPOOL SET client_idle_limit", PoolCommand.PgpoolSet)]
    [InlineData("PGPOOL SET client_idle_limit =", PoolCommand.PgpoolSet)]
    [InlineData("PGPOOL SET client_idle_limit = 1 2", PoolCommand.PgpoolSet)]
    [InlineData("PGPOOL SET client_idle_limit := 1", PoolCommand.PgpoolSet)]
    [InlineData("PGPOOL SET ALL = 1", PoolCommand.PgpoolSet)]
    [InlineData("PGPOOL SET 'x' = 1", PoolCommand.PgpoolSet)]
    [InlineData("PGPOOL SET client_idle_limit = $$5$$", PoolCommand.PgpoolSet)]
    [InlineData("PGPOOL SHOW", PoolCommand.PgpoolShow)]
    [InlineData("PGPOOL SHOW a b", PoolCommand.PgpoolShow)]
    [InlineData("PGPOOL RESET", PoolCommand.PgpoolReset)]
    [InlineData("PGPOOL RESET a; PGPOOL RESET b", PoolCommand.PgpoolReset)]
    public void Malformed_IsNull(string sql, PoolCommand command) => Assert.Null(PgpoolStatement.Parse(sql, command));
}
