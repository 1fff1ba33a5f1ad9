using Microsoft.Playwright;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Tests.Browser;

/// <summary>The dashboard in a real Chromium against the real product on real PostgreSQL nodes.</summary>
[Collection(BrowserCollection.Name)]
public sealed class DashboardTests(BrowserFixture fixture) : IAsyncLifetime
{
    private static readonly LocatorAssertionsToHaveTextOptions Within30s = new() { Timeout = 30_000 };

    public Task InitializeAsync() => fixture.AttachAllAsync();

    public Task DisposeAsync() => fixture.AttachAllAsync();

    [Fact]
    public async Task LogIn_BothNodesUp_KilledBackendTurnsDownWithoutReload_AttachBringsItBack()
    {
        // A client session makes pgpool's "waiting" nodes "up".
        (await fixture.PsqlAsync("postgres", "SELECT 1")).EnsureSuccess();
        await using var session = await DashboardSession.OpenAsync(fixture);

        await session.LogInAsync();

        await Assertions.Expect(session.Page.Locator("h1")).ToHaveTextAsync("Cluster");
        await Assertions.Expect(session.NodeStatus(0)).ToHaveTextAsync("2 up", Within30s);
        await Assertions.Expect(session.NodeStatus(1)).ToHaveTextAsync("2 up", Within30s);
        await Assertions.Expect(session.NodeButton(1, "attach")).ToBeDisabledAsync();
        await Assertions.Expect(session.NodeButton(1, "detach")).ToBeEnabledAsync();
        await Assertions.Expect(session.NodeButton(1, "recover")).ToBeDisabledAsync();
        await session.ScreenshotAsync("cluster.png");

        await session.Page.EvaluateAsync("() => window.__notReloaded = true");
        await fixture.Nodes[1].KillAsync();

        await Assertions.Expect(session.NodeStatus(1)).ToHaveTextAsync("3 down", Within30s);
        Assert.True(await session.Page.EvaluateAsync<bool>("() => window.__notReloaded === true"), "the page reloaded");
        await Assertions.Expect(session.NodeButton(1, "attach")).ToBeEnabledAsync();
        await Assertions.Expect(session.NodeButton(1, "recover")).ToBeEnabledAsync();
        // Node 0 is now the last attached node: it cannot be detached.
        await Assertions.Expect(session.NodeButton(0, "detach")).ToBeDisabledAsync();
        await Assertions.Expect(session.Page.GetByTestId("attached-count")).ToHaveTextAsync("1 of 2 nodes attached");

        await fixture.Nodes[1].StartAsync();
        await session.NodeButton(1, "attach").ClickAsync();
        await Assertions.Expect(session.Page.GetByTestId("confirm-dialog")).ToBeVisibleAsync();
        await session.Page.GetByTestId("confirm-ok").ClickAsync();

        await Assertions.Expect(session.Page.GetByTestId("outcome")).ToContainTextAsync("node 1 attached", new() { Timeout = 60_000 });
        await Assertions.Expect(session.NodeStatus(1)).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^(1 waiting|2 up)$"), new() { Timeout = 30_000 });
        Assert.Empty(session.Errors);
    }

    [Fact]
    public async Task Detach_AsksForConfirmationAndCancelLeavesTheNodeAttached()
    {
        await using var session = await DashboardSession.OpenAsync(fixture);
        await session.LogInAsync();

        await session.NodeButton(1, "detach").ClickAsync();
        await Assertions.Expect(session.Page.GetByTestId("confirm-dialog")).ToContainTextAsync("Detach node 1");
        await session.Page.GetByTestId("confirm-cancel").ClickAsync();

        await Assertions.Expect(session.Page.GetByTestId("confirm-dialog")).ToHaveCountAsync(0);
        Assert.True(fixture.Host.Store.Current.Find(1)!.IsUsable);
        Assert.Empty(session.Errors);
    }

    [Fact]
    public async Task RecoverNode1_StagesCompleteLiveAndTheNodeIsUpAgain()
    {
        await using var session = await DashboardSession.OpenAsync(fixture);
        await session.LogInAsync();
        await fixture.Nodes[1].KillAsync();
        await Assertions.Expect(session.NodeStatus(1)).ToHaveTextAsync("3 down", Within30s);

        await session.NodeButton(1, "recover").ClickAsync();
        await Assertions.Expect(session.Page.GetByTestId("confirm-dialog")).ToContainTextAsync("Recover node 1");
        await session.Page.GetByTestId("confirm-ok").ClickAsync();

        var recovery = session.Page.GetByTestId("recovery");
        await Assertions.Expect(recovery).ToBeVisibleAsync(new() { Timeout = 30_000 });
        await Assertions.Expect(session.Page.GetByTestId("recovery-diagram")).ToBeVisibleAsync();
        await Assertions.Expect(recovery.Locator("[data-stage='2'][data-testid=recovery-stage]")).ToHaveAttributeAsync("data-outcome", "succeeded", new() { Timeout = 60_000 });
        await session.ScreenshotAsync("recovery.png");
        await Assertions.Expect(recovery).ToHaveAttributeAsync("data-outcome", "succeeded", new() { Timeout = 180_000 });
        var stages = session.Page.GetByTestId("recovery-stage");
        Assert.True(await stages.CountAsync() > 0);
        foreach (var stage in await stages.AllAsync())
        {
            await Assertions.Expect(stage).ToHaveAttributeAsync("data-outcome", new System.Text.RegularExpressions.Regex("^(succeeded|skipped)$"));
        }

        await Assertions.Expect(session.NodeStatus(1)).ToHaveTextAsync(new System.Text.RegularExpressions.Regex("^(1 waiting|2 up)$"), Within30s);
        Assert.Empty(session.Errors);
    }

    [Fact]
    public async Task RecoveryView_FollowsPublishedProgressStageByStage()
    {
        // Driven by progress values published into the store, as the recovery job publishes
        // them, so each stage can be held and looked at (a real recovery takes seconds).
        await using var session = await DashboardSession.OpenAsync(fixture);
        await session.LogInAsync("/recoveries");
        var store = fixture.Host.Store;
        var jobId = "view-" + Guid.NewGuid().ToString("N")[..8];
        var started = store.TimeProvider.GetUtcNow();
        string[] names = ["CHECKPOINT", "1st stage: base backup", "2nd stage: WAL since the backup", "start PostgreSQL on the node", "attach the node"];
        RecoveryProgress Progress(int running, string output) => new(jobId, 1, started, null, RecoveryOutcome.Running,
            [.. names.Select((name, i) => new RecoveryStageProgress(i + 1, name,
                i < running ? RecoveryStageOutcome.Succeeded : i == running ? RecoveryStageOutcome.Running : RecoveryStageOutcome.Pending,
                i <= running ? started.AddSeconds(i) : null, i < running ? started.AddSeconds(i + 1) : null, i == running ? output : i < running ? "done" : "", null))], null);

        store.Recovery.Publish(Progress(1, "pg_basebackup: copying data directory\n"));
        var panel = session.Page.Locator($"[data-job-id='{jobId}']");
        await Assertions.Expect(panel.Locator("[data-stage='2'][data-testid=recovery-stage]")).ToHaveAttributeAsync("data-outcome", "running", new() { Timeout = 30_000 });
        await Assertions.Expect(panel.Locator("svg [data-stage='2']")).ToHaveClassAsync(new System.Text.RegularExpressions.Regex("current"));
        await Assertions.Expect(panel.Locator("[data-stage='2'] [data-testid=stage-output]")).ToContainTextAsync("pg_basebackup");
        await session.ScreenshotAsync("recovery-view.png");

        store.Recovery.Publish(Progress(3, "waiting for the node to accept connections\n"));
        await Assertions.Expect(panel.Locator("[data-stage='4'][data-testid=recovery-stage]")).ToHaveAttributeAsync("data-outcome", "running", new() { Timeout = 30_000 });
        await Assertions.Expect(panel.Locator("[data-stage='2'][data-testid=recovery-stage]")).ToHaveAttributeAsync("data-outcome", "succeeded");

        var done = Progress(5, "") with { Outcome = RecoveryOutcome.Succeeded, FinishedAt = started.AddSeconds(6) };
        store.Recovery.Publish(done);
        await Assertions.Expect(panel).ToHaveAttributeAsync("data-outcome", "succeeded", new() { Timeout = 30_000 });
        await Assertions.Expect(panel.GetByTestId("recovery-outcome")).ToHaveTextAsync("succeeded");
        Assert.Empty(session.Errors);
    }

    [Fact]
    public async Task PhoneWidth_EveryPageFitsTheScreenWithoutConsoleErrors()
    {
        await using var session = await DashboardSession.OpenAsync(fixture, 390, 844);
        await session.LogInAsync();

        foreach (var path in new[] { "/", "/recoveries", "/log", "/sessions", "/health-checks", "/consistency", "/configuration" })
        {
            await session.Page.GotoAsync(path);
            await session.WaitForCircuitAsync();
            var overflow = await session.Page.EvaluateAsync<int>("() => document.documentElement.scrollWidth - window.innerWidth");
            Assert.True(overflow <= 0, $"{path} is {overflow} px wider than a phone screen");
            if (path == "/")
            {
                await session.ScreenshotAsync("cluster-phone.png");
            }
        }

        Assert.Empty(session.Errors);
    }

    [Fact]
    public async Task LogPage_TailsLiveFiltersPausesAndDownloads()
    {
        await using var session = await DashboardSession.OpenAsync(fixture);
        await session.LogInAsync("/log");
        var marker = "marker-" + Guid.NewGuid().ToString("N")[..8];

        await session.Page.GetByTestId("log-text").FillAsync(marker);
        await session.Page.GetByTestId("log-text").PressAsync("Enter");
        await Assertions.Expect(session.Page.Locator(".log-line")).ToHaveCountAsync(0, new() { Timeout = 30_000 });
        fixture.Host.Store.Log.Append(EventLevel.Warning, Environment.ProcessId, 1, "test", $"first {marker}");
        await Assertions.Expect(session.Page.Locator(".log-line")).ToHaveCountAsync(1, new() { Timeout = 30_000 });
        await Assertions.Expect(session.Page.Locator(".log-line").First).ToContainTextAsync($"WARNING:  first {marker}");

        await session.Page.GetByTestId("log-pause").ClickAsync();
        fixture.Host.Store.Log.Append(EventLevel.Log, Environment.ProcessId, null, "test", $"second {marker}");
        await Assertions.Expect(session.Page.GetByTestId("log-status")).ToContainTextAsync("1 new lines held", new() { Timeout = 30_000 });
        Assert.Equal(1, await session.Page.Locator(".log-line").CountAsync());
        await session.Page.GetByTestId("log-pause").ClickAsync();
        await Assertions.Expect(session.Page.Locator(".log-line")).ToHaveCountAsync(2, new() { Timeout = 30_000 });

        var download = await session.Page.RunAndWaitForDownloadAsync(() => session.Page.GetByTestId("log-download").ClickAsync());
        var path = await download.PathAsync();
        var lines = await File.ReadAllLinesAsync(path!);
        Assert.Equal([$"first {marker}", $"second {marker}"], lines.Select(l => l[(l.IndexOf(":  ", StringComparison.Ordinal) + 3)..]));
        Assert.Empty(session.Errors);
    }
}
