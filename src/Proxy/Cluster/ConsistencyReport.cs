using System.Collections.Immutable;

namespace PgPoolConsole.Proxy.Cluster;

/// <summary>What a consistency check compares: databases (all when empty) and tables (all user tables when empty).</summary>
public sealed record ConsistencyRequest(IReadOnlyList<string> Databases, IReadOnlyList<string> Tables, int ChunkRows = 10000);

/// <summary>One table on one node: its row count and an order-independent checksum.</summary>
public sealed record TableDigest(int NodeId, long Rows, string Checksum);

/// <summary>The comparison of one table across the attached nodes.</summary>
public sealed record TableComparison(string Database, string Table, ImmutableArray<TableDigest> Nodes, bool Identical, string? Difference);

public enum ConsistencyCheckState
{
    Running,
    Completed,
    Failed,
}

/// <summary>A consistency check and its results so far (immutable; replaced as it progresses).</summary>
public sealed record ConsistencyCheck(string Id, DateTimeOffset StartedAt, DateTimeOffset? FinishedAt, ConsistencyCheckState State, ImmutableArray<TableComparison> Tables, string? Error)
{
    public bool AllIdentical => State == ConsistencyCheckState.Completed && Tables.All(t => t.Identical);

    public int DifferingTables => Tables.Count(t => !t.Identical);
}

/// <summary>The consistency checks this process ran (latest first), with a live feed.</summary>
public sealed class ConsistencyCheckHolder
{
    private readonly object _gate = new();
    private ImmutableList<ConsistencyCheck> _all = [];

    public ChangeFeed<ConsistencyCheck> Changes { get; } = new(256);

    public IReadOnlyList<ConsistencyCheck> All => Volatile.Read(ref _all);

    public ConsistencyCheck? Find(string id) => All.FirstOrDefault(c => c.Id == id);

    public void Publish(ConsistencyCheck check)
    {
        lock (_gate)
        {
            var index = _all.FindIndex(c => c.Id == check.Id);
            var next = index >= 0 ? _all.SetItem(index, check) : _all.Insert(0, check);
            if (next.Count > 50)
            {
                next = next.RemoveRange(50, next.Count - 50);
            }

            Volatile.Write(ref _all, next);
        }

        Changes.Publish(check);
    }
}
