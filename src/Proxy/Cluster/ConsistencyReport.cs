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
public sealed class ConsistencyCheckHolder() : PublishedHistory<ConsistencyCheck>(check => check.Id, 50);
