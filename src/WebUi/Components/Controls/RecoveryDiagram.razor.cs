using Microsoft.AspNetCore.Components;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.WebUi.Components.Controls;

/// <summary>Where a recovery stage acts: it carries data from the main node to the target, or works on one of them.</summary>
public enum LaneDirection
{
    MainToTarget,
    AtMain,
    AtTarget,
}

/// <summary>How a stage is drawn: its direction and what it moves (empty when its name says nothing we know).</summary>
public sealed record StageLane(LaneDirection Direction, string Moves);

public partial class RecoveryDiagram
{
    private const double Width = 720;
    private const double BoxWidth = 150;
    private const double LaneTop = 40;
    private const double LaneHeight = 58;

    [Parameter, EditorRequired]
    public RecoveryProgress Progress { get; set; } = default!;

    /// <summary>The main node the data comes from (the current main node).</summary>
    [Parameter]
    public NodeState? Main { get; set; }

    [Parameter]
    public NodeState? Target { get; set; }

    private double HeightOf => Math.Max(96, LaneTop + (Progress.Stages.Length * LaneHeight));

    /// <summary>
    /// Reads a stage's name: the product's stages (<c>OnlineRecovery.StageNames</c>: checks,
    /// checkpoint, first stage, pause, second stage, remote start, wait for node, attach) and the
    /// way pgpool names its steps (CHECKPOINT, 1st stage = base backup while clients keep working,
    /// 2nd stage = the WAL written since with new transactions paused, remote start,
    /// failback/attach). A name we do not recognise is drawn as work on the target with no claim
    /// about what moves.
    /// </summary>
    public static StageLane Lane(RecoveryStageProgress stage)
    {
        var name = stage.Name.ToLowerInvariant();
        bool Has(params string[] words) => words.Any(w => name.Contains(w, StringComparison.Ordinal));
        if (name == "checks")
        {
            return new StageLane(LaneDirection.AtMain, "node down, main node answers, scripts present");
        }

        if (Has("wait for node", "until"))
        {
            return new StageLane(LaneDirection.AtTarget, "until the node accepts connections, read-write");
        }

        if (Has("checkpoint"))
        {
            return new StageLane(LaneDirection.AtMain, "CHECKPOINT on the main node");
        }

        if (Has("2nd", "second", "wal", "sync"))
        {
            return new StageLane(LaneDirection.MainToTarget, "sequence state and WAL since the backup; new transactions wait");
        }

        if (Has("1st", "first", "base", "backup", "copy"))
        {
            return new StageLane(LaneDirection.MainToTarget, "data directory (base backup); clients keep working");
        }

        if (Has("pause", "wait", "drain"))
        {
            return new StageLane(LaneDirection.AtMain, "new transactions paused at their boundaries");
        }

        if (Has("start"))
        {
            return new StageLane(LaneDirection.AtTarget, "PostgreSQL starts and replays the WAL");
        }

        if (Has("attach", "failback", "join"))
        {
            return new StageLane(LaneDirection.AtTarget, "sessions join the node, it is attached; traffic resumes");
        }

        return new StageLane(LaneDirection.AtTarget, "");
    }

    private static string StageClass(RecoveryStageProgress stage) => stage.Outcome switch
    {
        RecoveryStageOutcome.Running => "current",
        RecoveryStageOutcome.Succeeded => "done",
        RecoveryStageOutcome.Failed => "failed",
        RecoveryStageOutcome.Skipped => "skipped",
        _ => "pending",
    };

    private static string OutcomeText(RecoveryStageProgress stage) => stage.Outcome switch
    {
        RecoveryStageOutcome.Running => "running",
        RecoveryStageOutcome.Succeeded => "done",
        RecoveryStageOutcome.Failed => "failed",
        RecoveryStageOutcome.Skipped => "skipped",
        _ => "pending",
    };
}
