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
public sealed class RecoveryProgressHolder
{
    private readonly object _gate = new();
    private ImmutableList<RecoveryProgress> _all = [];

    public ChangeFeed<RecoveryProgress> Changes { get; } = new(256);

    public IReadOnlyList<RecoveryProgress> All => Volatile.Read(ref _all);

    public RecoveryProgress? Find(string jobId) => All.FirstOrDefault(r => r.JobId == jobId);

    public RecoveryProgress? Running => All.FirstOrDefault(r => r.Outcome == RecoveryOutcome.Running);

    public void Publish(RecoveryProgress progress)
    {
        lock (_gate)
        {
            var index = _all.FindIndex(r => r.JobId == progress.JobId);
            var next = index >= 0 ? _all.SetItem(index, progress) : _all.Insert(0, progress);
            if (next.Count > 100)
            {
                next = next.RemoveRange(100, next.Count - 100);
            }

            Volatile.Write(ref _all, next);
        }

        Changes.Publish(progress);
    }
}
