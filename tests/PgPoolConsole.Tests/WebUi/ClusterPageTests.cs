using Bunit;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.WebUi.Components.Pages;

namespace PgPoolConsole.Tests.WebUi;

public sealed class ClusterPageTests : DashboardTestContext
{
    [Fact]
    public void Render_TwoUpNodes_ShowsStatusCodeAndNameRolesAndOnlySensibleButtons()
    {
        var cut = Render<Cluster>();

        Assert.Equal(["2 up", "2 up"], cut.FindAll("[data-testid=status]").Select(e => e.TextContent));
        Assert.Equal(["main", "replica"], cut.FindAll("[data-testid=role]").Select(e => e.TextContent));
        Assert.True(cut.Find("tr[data-node-id='1'] [data-testid=attach]").HasAttribute("disabled"));
        Assert.False(cut.Find("tr[data-node-id='1'] [data-testid=detach]").HasAttribute("disabled"));
        Assert.True(cut.Find("tr[data-node-id='1'] [data-testid=recover]").HasAttribute("disabled"));
        Assert.Contains("2 of 2 nodes attached", cut.Find("[data-testid=summary]").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void StoreChange_NodeGoesDown_RowUpdatesLiveAndTheLastNodeCannotBeDetached()
    {
        var cut = Render<Cluster>();

        Store.SetStatus(1, NodeStatus.Down, "health check failed");

        cut.WaitForAssertion(() => Assert.Equal("3 down", cut.Find("tr[data-node-id='1'] [data-testid=status]").TextContent), Timeout);
        Assert.Equal("health check failed", cut.Find("tr[data-node-id='1'] [data-testid=status]").GetAttribute("title"));
        Assert.False(cut.Find("tr[data-node-id='1'] [data-testid=attach]").HasAttribute("disabled"));
        Assert.False(cut.Find("tr[data-node-id='1'] [data-testid=recover]").HasAttribute("disabled"));
        Assert.True(cut.Find("tr[data-node-id='0'] [data-testid=detach]").HasAttribute("disabled"));
        Assert.Equal("", cut.Find("tr[data-node-id='1'] [data-testid=role]").TextContent);
    }

    [Fact]
    public void Detach_ConfirmedInTheDialog_CallsTheAdministrationAndShowsTheOutcome()
    {
        Administration.Answer = AdminResult.Ok("node 1 detached");
        var cut = Render<Cluster>();

        cut.Find("tr[data-node-id='1'] [data-testid=detach]").Click();
        Assert.Contains("Detach node 1", cut.Find("[data-testid=confirm-dialog]").TextContent, StringComparison.Ordinal);
        Assert.Empty(Administration.Calls);
        cut.Find("[data-testid=confirm-ok]").Click();

        cut.WaitForAssertion(() => Assert.Contains("node 1 detached", cut.Find("[data-testid=outcome]").TextContent, StringComparison.Ordinal), Timeout);
        Assert.Equal(["detach 1"], Administration.Calls);
        Assert.Empty(cut.FindAll("[data-testid=confirm-dialog]"));
    }

    [Fact]
    public void Attach_DoneWithAWarning_IsShownAsAWarningNotAsSuccess()
    {
        Store.SetStatus(1, NodeStatus.Down);
        Administration.Answer = AdminResult.Ok("node 1 attached", "WARNING: node 1 could not be proved to be in sync with the main node");
        var cut = Render<Cluster>();

        cut.Find("tr[data-node-id='1'] [data-testid=attach]").Click();
        cut.Find("[data-testid=confirm-ok]").Click();

        cut.WaitForAssertion(() => Assert.Contains("warning", cut.Find("[data-testid=outcome]").ClassName, StringComparison.Ordinal), Timeout);
        Assert.DoesNotContain("ok", cut.Find("[data-testid=outcome]").ClassList);
        Assert.Contains("could not be proved to be in sync", cut.Find("[data-testid=outcome] .detail").TextContent, StringComparison.Ordinal);
    }

    [Fact]
    public void Detach_Cancelled_DoesNothing()
    {
        var cut = Render<Cluster>();

        cut.Find("tr[data-node-id='1'] [data-testid=detach]").Click();
        cut.Find("[data-testid=confirm-cancel]").Click();

        Assert.Empty(Administration.Calls);
        Assert.Empty(cut.FindAll("[data-testid=confirm-dialog]"));
    }

    [Fact]
    public void Recover_Refused_ShowsWhyAsAFailedOutcome()
    {
        Store.SetStatus(1, NodeStatus.Down);
        Administration.Answer = new AdminResult(AdminError.NotSupported, "online recovery is not available in this build");
        var cut = Render<Cluster>();

        cut.Find("tr[data-node-id='1'] [data-testid=recover]").Click();
        cut.Find("[data-testid=confirm-ok]").Click();

        cut.WaitForAssertion(() => Assert.Contains("failed", cut.Find("[data-testid=outcome]").ClassName, StringComparison.Ordinal), Timeout);
        Assert.Contains("online recovery is not available in this build", cut.Find("[data-testid=outcome]").TextContent, StringComparison.Ordinal);
        Assert.Equal(["recover 1"], Administration.Calls);
    }

    [Fact]
    public void Recover_Started_FollowsTheJobsProgressLiveAndDisablesAnotherRecoveryAndAttachingTheNode()
    {
        Store.SetStatus(1, NodeStatus.Down);
        Administration.Answer = AdminResult.Ok("recovery of node 1 started");
        Administration.JobId = "job-7";
        var cut = Render<Cluster>();
        cut.Find("tr[data-node-id='1'] [data-testid=recover]").Click();
        cut.Find("[data-testid=confirm-ok]").Click();
        var start = DateTimeOffset.UtcNow;

        Store.Recovery.Publish(new RecoveryProgress("job-7", 1, start, null, RecoveryOutcome.Running,
        [
            new RecoveryStageProgress(1, "1st stage", RecoveryStageOutcome.Succeeded, start, start.AddSeconds(1), "backup done", null),
            new RecoveryStageProgress(2, "2nd stage", RecoveryStageOutcome.Running, start.AddSeconds(1), null, "sending WAL", null),
        ], null));

        cut.WaitForAssertion(() => Assert.Equal("running", cut.Find("[data-testid=recovery]").GetAttribute("data-outcome")), Timeout);
        Assert.Contains("current", cut.Find("svg [data-stage='2']").ClassName, StringComparison.Ordinal);
        Assert.Contains("done", cut.Find("svg [data-stage='1']").ClassName, StringComparison.Ordinal);
        Assert.Equal(["backup done", "sending WAL"], cut.FindAll("[data-testid=stage-output]").Select(e => e.TextContent));
        Assert.True(cut.Find("tr[data-node-id='1'] [data-testid=recover]").HasAttribute("disabled"));
        Assert.True(cut.Find("tr[data-node-id='1'] [data-testid=attach]").HasAttribute("disabled"));

        Store.Recovery.Publish(new RecoveryProgress("job-7", 1, start, start.AddSeconds(3), RecoveryOutcome.Failed,
        [
            new RecoveryStageProgress(1, "1st stage", RecoveryStageOutcome.Succeeded, start, start.AddSeconds(1), "backup done", null),
            new RecoveryStageProgress(2, "2nd stage", RecoveryStageOutcome.Failed, start.AddSeconds(1), start.AddSeconds(3), "sending WAL", "exit status 1"),
        ], "2nd stage failed"));

        cut.WaitForAssertion(() => Assert.Equal("failed", cut.Find("[data-testid=recovery]").GetAttribute("data-outcome")), Timeout);
        Assert.Equal("2nd stage failed", cut.Find("[data-testid=recovery-error]").TextContent);
        Assert.False(cut.Find("tr[data-node-id='1'] [data-testid=recover]").HasAttribute("disabled"));
        Assert.False(cut.Find("tr[data-node-id='1'] [data-testid=attach]").HasAttribute("disabled"));
    }
}
