using Bunit;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.WebUi.Components.Pages;

namespace PgPoolConsole.Tests.WebUi;

public sealed class LogPageTests : DashboardTestContext
{
    [Fact]
    public void Render_ShowsRecentEntriesInPgpoolsLineFormatThenNewOnesLive()
    {
        Store.Log.Append(EventLevel.Log, 42, 1, "test", "failover done. shutdown host 127.0.0.1(5433)");
        var cut = Render<Log>();

        Assert.Matches(@": .* pid 42: LOG:  failover done\. shutdown host 127\.0\.0\.1\(5433\)$", cut.Find(".log-line").TextContent);

        Store.Log.Append(EventLevel.Warning, 42, 0, "test", "health check failed on node 0");

        cut.WaitForAssertion(() => Assert.Equal(2, cut.FindAll(".log-line").Count), Timeout);
        Assert.Contains("level-warning", cut.FindAll(".log-line")[1].ClassName, StringComparison.Ordinal);
    }

    [Fact]
    public void LevelAndTextFilters_ShowOnlyMatchingEntries()
    {
        Store.Log.Append(EventLevel.Log, 1, null, "test", "alpha routine");
        Store.Log.Append(EventLevel.Error, 1, null, "test", "alpha broken");
        Store.Log.Append(EventLevel.Error, 1, null, "test", "beta broken");
        var cut = Render<Log>();

        cut.Find("[data-testid=log-level]").Change(EventLevel.Error.ToString());
        cut.Find("[data-testid=log-text]").Change("alpha");

        cut.WaitForAssertion(() => Assert.Equal(["alpha broken"], cut.FindAll(".log-line").Select(l => l.TextContent[(l.TextContent.IndexOf(":  ", StringComparison.Ordinal) + 3)..])), Timeout);
        Assert.Contains("level=ERROR", cut.Find("[data-testid=log-download]").GetAttribute("href"), StringComparison.Ordinal);
        Assert.Contains("text=alpha", cut.Find("[data-testid=log-download]").GetAttribute("href"), StringComparison.Ordinal);
    }

    [Fact]
    public void Pause_HoldsNewLinesUntilResume()
    {
        var cut = Render<Log>();
        var shown = cut.FindAll(".log-line").Count;

        cut.Find("[data-testid=log-pause]").Click();
        Store.Log.Append(EventLevel.Log, 1, null, "test", "while paused");

        cut.WaitForAssertion(() => Assert.Contains("1 new lines held", cut.Find("[data-testid=log-status]").TextContent, StringComparison.Ordinal), Timeout);
        Assert.Equal(shown, cut.FindAll(".log-line").Count);
        cut.Find("[data-testid=log-pause]").Click();
        cut.WaitForAssertion(() => Assert.Equal(shown + 1, cut.FindAll(".log-line").Count), Timeout);
    }
}
