using Bunit;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.WebUi.Components.Controls;
using PgPoolConsole.WebUi.Components.Pages;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.Tests.WebUi;

public sealed class ControlsTests : BunitContext
{
    [Fact]
    public void LineChart_TwoSeries_DrawsAPolylineEachWithLegendAndRoundMaximum()
    {
        var now = DateTimeOffset.UtcNow;
        ChartSeries[] series =
        [
            new("node 0", [new ChartPoint(now.AddSeconds(-2), 3), new ChartPoint(now.AddSeconds(-1), 7), new ChartPoint(now, 4)]),
            new("node 1", [new ChartPoint(now.AddSeconds(-1), 1), new ChartPoint(now, 2)]),
        ];

        var cut = Render<LineChart>(p => p.Add(c => c.Title, "Queries").Add(c => c.Unit, "q/s").Add(c => c.Series, series));

        var lines = cut.FindAll("polyline");
        Assert.Equal(2, lines.Count);
        Assert.Equal(3, lines[0].GetAttribute("points")!.Split(' ').Length);
        Assert.Equal("10", cut.FindAll("text.tick")[0].TextContent);
        Assert.Equal(["node 0 4 q/s", "node 1 2 q/s"], cut.FindAll(".legend li").Select(li => li.TextContent));
    }

    [Fact]
    public void LineChart_NoPoints_SaysSoInsteadOfDrawing()
    {
        var cut = Render<LineChart>(p => p.Add(c => c.Title, "Health").Add(c => c.EmptyText, "No health check has run").Add(c => c.Series, [new ChartSeries("node 0", [])]));

        Assert.Empty(cut.FindAll("svg"));
        Assert.Equal("No health check has run", cut.Find(".chart-empty").TextContent);
    }

    [Theory]
    [InlineData(0, 1)]
    [InlineData(0.4, 1)]
    [InlineData(7, 10)]
    [InlineData(12, 20)]
    [InlineData(180, 200)]
    [InlineData(201, 500)]
    public void NiceCeiling_IsOneTwoOrFiveTimesAPowerOfTen(double value, double expected)
    {
        Assert.Equal(expected, LineChart.NiceCeiling(value));
    }

    [Theory]
    [InlineData("CHECKPOINT", LaneDirection.AtMain)]
    [InlineData("1st stage: base backup", LaneDirection.MainToTarget)]
    [InlineData("recovery_1st_stage", LaneDirection.MainToTarget)]
    [InlineData("2nd stage: WAL since the backup", LaneDirection.MainToTarget)]
    [InlineData("pgpool_remote_start", LaneDirection.AtTarget)]
    [InlineData("attach the node", LaneDirection.AtTarget)]
    [InlineData("checks", LaneDirection.AtMain)]
    [InlineData("checkpoint", LaneDirection.AtMain)]
    [InlineData("first stage", LaneDirection.MainToTarget)]
    [InlineData("pause", LaneDirection.AtMain)]
    [InlineData("second stage", LaneDirection.MainToTarget)]
    [InlineData("remote start", LaneDirection.AtTarget)]
    [InlineData("wait for node", LaneDirection.AtTarget)]
    [InlineData("attach", LaneDirection.AtTarget)]
    public void RecoveryDiagram_StageNames_AreDrawnInTheirDirection(string name, LaneDirection direction)
    {
        Assert.Equal(direction, RecoveryDiagram.Lane(new RecoveryStageProgress(1, name, RecoveryStageOutcome.Pending, null, null, "", null)).Direction);
    }

    [Fact]
    public void RecoveryDiagram_EveryStageOfTheProductsRecovery_SaysWhatHappens()
    {
        Assert.All(PgPoolConsole.Proxy.Recovery.OnlineRecovery.StageNames, name =>
            Assert.NotEqual("", RecoveryDiagram.Lane(new RecoveryStageProgress(1, name, RecoveryStageOutcome.Pending, null, null, "", null)).Moves));
    }

    [Fact]
    public void RecoveryDiagram_UnknownStageName_ClaimsNothingAboutWhatMoves()
    {
        Assert.Equal("", RecoveryDiagram.Lane(new RecoveryStageProgress(1, "frobnicate", RecoveryStageOutcome.Pending, null, null, "", null)).Moves);
    }

    [Fact]
    public void RecoveryDiagram_DrawsBothNodesAndALanePerStageWithTheRunningOneHighlighted()
    {
        var now = DateTimeOffset.UtcNow;
        var progress = new RecoveryProgress("j", 1, now, null, RecoveryOutcome.Running,
        [
            new RecoveryStageProgress(1, "1st stage", RecoveryStageOutcome.Succeeded, now, now, "", null),
            new RecoveryStageProgress(2, "2nd stage", RecoveryStageOutcome.Running, now, null, "", null),
            new RecoveryStageProgress(3, "remote start", RecoveryStageOutcome.Pending, null, null, "", null),
        ], null);
        var main = new NodeState { Id = 0, Host = "db0", Port = 5432 };
        var target = new NodeState { Id = 1, Host = "db1", Port = 5433 };

        var cut = Render<RecoveryDiagram>(p => p.Add(c => c.Progress, progress).Add(c => c.Main, main).Add(c => c.Target, target));

        Assert.Contains("main node 0", cut.Markup, StringComparison.Ordinal);
        Assert.Contains("db1(5433)", cut.Markup, StringComparison.Ordinal);
        Assert.Equal(["stage done", "stage current", "stage pending"], cut.FindAll("g.stage").Select(g => g.ClassName));
        Assert.Equal(2, cut.FindAll("line.flow").Count);
        Assert.Single(cut.FindAll("circle.flow-dot"));
    }

    [Theory]
    [InlineData(null, "/")]
    [InlineData("/log", "/log")]
    [InlineData("//evil.example/x", "/")]
    [InlineData("/\\evil.example", "/")]
    [InlineData("https://evil.example/", "/")]
    public void Login_ReturnUrl_OnlyLocalPathsAreFollowed(string? returnUrl, string expected)
    {
        Assert.Equal(expected, Login.SafeReturnUrl(returnUrl));
    }
}
