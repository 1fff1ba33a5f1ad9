using System.Collections.Immutable;

namespace PgPoolConsole.Proxy.Cluster;

/// <summary>
/// The cluster as it is at one moment: every configured node with its status. Immutable; a new
/// snapshot with a higher <see cref="Version"/> replaces it on every change.
/// </summary>
public sealed record ClusterSnapshot
{
    public required long Version { get; init; }
    public required ImmutableArray<NodeState> Nodes { get; init; }

    /// <summary>The main node: the lowest-numbered usable node, or -1 when none is usable.</summary>
    public int MainNodeId
    {
        get
        {
            foreach (var node in Nodes)
            {
                if (node.IsUsable)
                {
                    return node.Id;
                }
            }

            return -1;
        }
    }

    public NodeState? Find(int nodeId)
    {
        foreach (var node in Nodes)
        {
            if (node.Id == nodeId)
            {
                return node;
            }
        }

        return null;
    }

    public int UsableCount
    {
        get
        {
            var count = 0;
            foreach (var node in Nodes)
            {
                if (node.IsUsable)
                {
                    count++;
                }
            }

            return count;
        }
    }

    public NodeRole RoleOf(int nodeId) => nodeId == MainNodeId ? NodeRole.Main : NodeRole.Replica;

    /// <summary>Weight normalised over all configured nodes, as pgpool's lb_weight (0.5 for 1:1).</summary>
    public double NormalizedWeight(int nodeId)
    {
        double total = 0;
        double own = 0;
        foreach (var node in Nodes)
        {
            total += node.Weight;
            if (node.Id == nodeId)
            {
                own = node.Weight;
            }
        }

        return total > 0 ? own / total : 0;
    }

    /// <summary>Returns a snapshot with one node replaced (the version is set by the store).</summary>
    public ClusterSnapshot WithNode(NodeState node) =>
        this with { Nodes = Nodes.Select(n => n.Id == node.Id ? node : n).ToImmutableArray() };
}
