using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Tests.Replication;

/// <summary>Column defaults that give each node its own value: found in pg_get_expr's text, refused unless allow_nondeterministic_writes is on.</summary>
public sealed class NodeSpecificDefaultRewriteTests
{
    private static readonly TableInfo Audit = new(16500, "audit",
    [
        new ColumnInfo("id", "integer", ColumnDefault.Deterministic, null, null),
        new ColumnInfo("xid", "bigint", ColumnDefault.NodeSpecific, "txid_current()", null) { NodeSpecificCall = "txid_current()" },
    ])
    {
        Width = 2,
    };

    [Theory]
    [InlineData("txid_current()", "txid_current()")]
    [InlineData("('n'::text || pg_backend_pid())", "pg_backend_pid()")]
    [InlineData("current_setting('port'::text)", "current_setting('port')")]
    [InlineData("(inet_server_addr())::text", "inet_server_addr()")]
    [InlineData("encode(gen_random_bytes(length(current_user::text)), 'hex'::text)", "gen_random_bytes()")]
    [InlineData("encode(gen_random_bytes(16), 'hex'::text)", null)]
    [InlineData("gen_salt('bf'::text)", null)]
    [InlineData("now()", null)]
    [InlineData("current_setting('app.tenant'::text)", null)]
    [InlineData("'txid_current()'::text", null)]
    public void NodeSpecificCall_IsFoundInADefaultExpression(string expression, string? expected) =>
        Assert.Equal(expected, NondeterministicFunctions.NodeSpecificCall(expression));

    [Theory]
    [InlineData("INSERT INTO audit (id) VALUES (1)", true)]
    [InlineData("INSERT INTO audit (id, xid) VALUES (1, 2)", false)]
    [InlineData("INSERT INTO audit VALUES (1, DEFAULT)", true)]
    [InlineData("UPDATE audit SET xid = DEFAULT", true)]
    [InlineData("UPDATE audit SET id = 2", false)]
    public void ARowTakingTheDefault_IsRefused_UnlessAllowed(string sql, bool refused)
    {
        var plan = new QueryRouter(new CatalogCache()).Plan(sql);
        TableInfo? Lookup(QualifiedName name) => name.Name == "audit" ? Audit : null;

        var strict = WriteRewriter.Rewrite(sql, plan, Lookup, allowNondeterministic: false, insertLock: false);
        var allowed = WriteRewriter.Rewrite(sql, plan, Lookup, allowNondeterministic: true, insertLock: false);

        Assert.Equal(refused, strict.Refusal is not null);
        if (refused)
        {
            Assert.Contains("column xid would take its default, txid_current()", strict.Refusal);
        }

        // Allowed, the statement is left as written: each node computes its own default.
        Assert.Null(allowed.Refusal);
        Assert.Null(allowed.Template);
    }
}
