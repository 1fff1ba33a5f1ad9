using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.WebUi.Model;

/// <summary>
/// One node as the dashboard shows it: its state from a snapshot plus its counters and health
/// check statistics read from the store at the same moment. <see cref="CanDetach"/>: attached and
/// not the last attached node.
/// </summary>
public sealed record NodeView(
    NodeState Node,
    NodeRole? Role,
    double NormalizedWeight,
    string PgStatus,
    long SelectCount,
    long StatementCount,
    HealthCheckStatistics Health,
    bool CanDetach)
{
    public int Id => Node.Id;

    /// <summary>Attach makes sense for a detached node.</summary>
    public bool CanAttach => Node.Status == NodeStatus.Down;

    /// <summary>Recovery rebuilds a detached node from the main node.</summary>
    public bool CanRecover => Node.Status == NodeStatus.Down;

    public static NodeView Of(ClusterStateStore store, ClusterSnapshot snapshot, NodeState node)
    {
        var stats = store.Statistics(node.Id);
        return new NodeView(
            node,
            node.IsUsable ? snapshot.RoleOf(node.Id) : null,
            snapshot.NormalizedWeight(node.Id),
            ClusterReports.PgStatus(store, node),
            stats.SelectCount,
            stats.SelectCount + stats.InsertCount + stats.UpdateCount + stats.DeleteCount + stats.DdlCount + stats.OtherCount,
            stats.Health,
            node.IsUsable && snapshot.UsableCount > 1);
    }

    public static IReadOnlyList<NodeView> AllOf(ClusterStateStore store, ClusterSnapshot snapshot) =>
        [.. snapshot.Nodes.Select(node => Of(store, snapshot, node))];
}
