using System.Collections.Immutable;

namespace PgPoolConsole.Proxy.Cluster;

public enum RecoveryStageOutcome
{
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
}

/// <summary>One stage of an online recovery with its timing, outcome and captured script output.</summary>
public sealed record RecoveryStageProgress(int Number, string Name, RecoveryStageOutcome Outcome, DateTimeOffset? StartedAt, DateTimeOffset? FinishedAt, string Output, string? Error);

public enum RecoveryOutcome
{
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// <summary>An online recovery (immutable; replaced on every stage change).</summary>
public sealed record RecoveryProgress(string JobId, int NodeId, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, RecoveryOutcome Outcome, ImmutableArray<RecoveryStageProgress> Stages, string? Error)
{
    public RecoveryStageProgress? CurrentStage => Stages.FirstOrDefault(s => s.Outcome == RecoveryStageOutcome.Running);
}

/// <summary>Holds the recoveries this process knows of (latest first) and publishes every change.</summary>
public sealed class RecoveryProgressHolder() : PublishedHistory<RecoveryProgress>(progress => progress.JobId, 100)
{
    public RecoveryProgress? Running => All.FirstOrDefault(r => r.Outcome == RecoveryOutcome.Running);
}
