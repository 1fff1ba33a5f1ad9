using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Tests.Replication;

/// <summary>Queries inside writes that pick or number rows get the table's key as their last ORDER BY items.</summary>
public sealed class RowOrderRewriteTests
{
    private static readonly TableInfo Jobs = new(16400, "jobs",
        [new ColumnInfo("id", "integer", ColumnDefault.Deterministic, null, null), new ColumnInfo("state", "text", ColumnDefault.Deterministic, null, null)])
    {
        Width = 2,
        PrimaryKey = ["id"],
    };

    private static readonly TableInfo Pairs = new(16401, "pairs",
        [new ColumnInfo("a", "integer", ColumnDefault.Deterministic, null, null), new ColumnInfo("\"B\"", "text", ColumnDefault.Deterministic, null, null)])
    {
        Width = 2,
        PrimaryKey = ["a", "\"B\""],
    };

    private static readonly TableInfo Archive = new(16402, "archive",
        [new ColumnInfo("n", "integer", ColumnDefault.Sequence, null, null), new ColumnInfo("state", "text", ColumnDefault.Deterministic, null, null)])
    {
        Width = 2,
    };

    private static readonly TableInfo NoKey = new(16403, "nokey", [new ColumnInfo("v", "text", ColumnDefault.Deterministic, null, null)]) { Width = 1 };

    private static string Rewritten(string sql)
    {
        var plan = new QueryRouter(new CatalogCache()).Plan(sql);
        TableInfo? Lookup(QualifiedName name) => name.Name switch { "jobs" => Jobs, "pairs" => Pairs, "archive" => Archive, "nokey" => NoKey, _ => null };
        var rewrite = WriteRewriter.Rewrite(sql, plan, Lookup, allowNondeterministic: false, insertLock: false);
        Assert.Null(rewrite.Refusal);
        return rewrite.Template?.RenderLiterals([]) ?? sql;
    }

    [Theory]
    [InlineData(
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = 'done' LIMIT 1000)",
        "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = 'done' ORDER BY jobs.id LIMIT 1000)")]
    [InlineData(
        "UPDATE jobs SET state = 'x' WHERE id = (SELECT j.id FROM public.jobs AS j WHERE state = 'new' LIMIT 1 FOR UPDATE SKIP LOCKED)",
        "UPDATE jobs SET state = 'x' WHERE id = (SELECT j.id FROM public.jobs AS j WHERE state = 'new' ORDER BY j.id LIMIT 1 FOR UPDATE SKIP LOCKED)")]
    [InlineData(
        "DELETE FROM jobs WHERE id IN (SELECT id FROM ONLY public.jobs OFFSET 10)",
        "DELETE FROM jobs WHERE id IN (SELECT id FROM ONLY public.jobs ORDER BY public.jobs.id OFFSET 10)")]
    [InlineData(
        "WITH batch AS (SELECT a, \"B\" FROM pairs p ORDER BY a DESC FETCH FIRST 5 ROWS ONLY) DELETE FROM pairs USING batch WHERE pairs.a = batch.a",
        "WITH batch AS (SELECT a, \"B\" FROM pairs p ORDER BY a DESC, p.a, p.\"B\" FETCH FIRST 5 ROWS ONLY) DELETE FROM pairs USING batch WHERE pairs.a = batch.a")]
    [InlineData(
        "INSERT INTO archive (state) SELECT state FROM jobs WHERE state = 'done'",
        "INSERT INTO archive (state) SELECT state FROM jobs WHERE state = 'done' ORDER BY jobs.id")]
    [InlineData(
        "INSERT INTO archive (state) SELECT state FROM jobs ORDER BY state RETURNING n",
        "INSERT INTO archive (state) SELECT state FROM jobs ORDER BY state, jobs.id RETURNING n")]
    [InlineData(
        "INSERT INTO archive (state) (SELECT state FROM jobs LIMIT 3) UNION ALL (SELECT state FROM jobs ORDER BY jobs.id LIMIT 3)",
        "INSERT INTO archive (state) (SELECT state FROM jobs ORDER BY jobs.id LIMIT 3) UNION ALL (SELECT state FROM jobs ORDER BY jobs.id LIMIT 3)")]
    public void OrderDependentQueries_GetTheKeyAsTheirLastOrderByItems(string sql, string expected) =>
        Assert.Equal(expected, Rewritten(sql));

    [Theory]
    [InlineData("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs ORDER BY id LIMIT 10)")] // already ends in the key
    [InlineData("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs ORDER BY state, jobs.id DESC LIMIT 10)")]
    [InlineData("DELETE FROM jobs WHERE id IN (SELECT max(id) FROM jobs LIMIT 1)")] // a call: maybe an aggregate
    [InlineData("DELETE FROM jobs WHERE id IN (SELECT DISTINCT id FROM jobs LIMIT 10)")]
    [InlineData("DELETE FROM jobs WHERE id IN (SELECT jobs.id FROM jobs JOIN pairs ON a = id LIMIT 10)")]
    [InlineData("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs, pairs LIMIT 10)")]
    [InlineData("DELETE FROM jobs WHERE id IN (SELECT id FROM jobs GROUP BY id LIMIT 10)")]
    [InlineData("DELETE FROM nokey WHERE v IN (SELECT v FROM nokey LIMIT 10)")] // no key to order by
    [InlineData("INSERT INTO jobs (id, state) SELECT id, state FROM pairs")] // no sequence in the target: order does not matter
    [InlineData("INSERT INTO archive (state) SELECT state FROM pairs UNION SELECT state FROM jobs")] // ORDER BY would apply to the union
    [InlineData("UPDATE jobs SET state = 'x' WHERE id IN (SELECT id FROM jobs WHERE state = 'a')")]
    [InlineData("DELETE FROM pairs WHERE EXISTS (SELECT 1 FROM jobs WHERE jobs.id = pairs.a LIMIT 1)")] // finds a row or not, whichever
    [InlineData("INSERT INTO jobs (id, state) VALUES (1, 'a') RETURNING ctid")] // only reports where the main node put it
    public void OtherQueries_AreLeftAsTheyAre(string sql) => Assert.Equal(sql, Rewritten(sql));

    [Theory]
    [InlineData("DELETE FROM jobs WHERE ctid = '(0,1)'")]
    [InlineData("UPDATE jobs SET state = 'x' WHERE \"ctid\" IN (SELECT ctid FROM jobs LIMIT 5)")]
    [InlineData("WITH d AS (SELECT min(CTID) AS c FROM jobs GROUP BY state) DELETE FROM jobs USING d WHERE jobs.ctid = d.c")]
    public void RowsChosenByCtid_AreRefused(string sql)
    {
        var rewrite = WriteRewriter.Rewrite(sql, new QueryRouter(new CatalogCache()).Plan(sql), _ => Jobs, allowNondeterministic: false, insertLock: false);
        Assert.StartsWith("ctid is where each node happens to store a row", rewrite.Refusal);
        Assert.Null(WriteRewriter.Rewrite(sql, new QueryRouter(new CatalogCache()).Plan(sql), _ => Jobs, allowNondeterministic: true, insertLock: false).Refusal);
    }
}
