using PgPoolConsole.Proxy.Replication;

namespace PgPoolConsole.Tests.Replication;

public sealed class QueryRouterTests
{
    [Fact]
    public void ATextIsCachedTheSecondTimeItIsSeen()
    {
        var router = new QueryRouter(new CatalogCache());
        const string sql = "UPDATE pgbench_tellers SET tbalance = tbalance + 5 WHERE tid = 7;";

        var first = router.Plan(sql);
        var second = router.Plan(sql);
        var third = router.Plan(sql);

        Assert.NotSame(first, second); // a text seen once (simple protocol, literals inlined) is not kept
        Assert.Same(second, third);
        Assert.Equal(first.Route, third.Route);
        Assert.Equal(QueryRoute.Write, third.Route);
    }

    [Fact]
    public void ALongText_IsNeverKept()
    {
        // A bulk INSERT with a large literal, sent again: the cache must not hold it alive.
        var router = new QueryRouter(new CatalogCache());
        var sql = "INSERT INTO big VALUES ('" + new string('x', 1024 * 1024) + "')";

        var plans = Enumerable.Range(0, 3).Select(_ => router.Plan(sql)).ToList();

        Assert.All(plans, plan => Assert.Equal(QueryRoute.Write, plan.Route));
        Assert.NotSame(plans[1], plans[2]);
    }

    [Fact]
    public void TextsSeenOnce_AreAllPlannedCorrectly()
    {
        var router = new QueryRouter(new CatalogCache());

        for (var aid = 0; aid < 50_000; aid++)
        {
            var plan = router.Plan($"SELECT abalance FROM pgbench_accounts WHERE aid = {aid};");
            Assert.Equal(QueryRoute.Read, plan.Route);
        }
    }
}
