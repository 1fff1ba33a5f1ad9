using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Tests.ClusterState;

public sealed class ClusterStateStoreTests
{
    private static ClusterStateStore TwoNodes(NodeStatus second) => new(
    [
        new NodeState { Id = 0, Host = "127.0.0.1", Port = 5432, Status = NodeStatus.Up },
        new NodeState { Id = 1, Host = "127.0.0.1", Port = 5433, Status = second },
    ], TimeProvider.System);

    [Fact]
    public void SetStatus_OnlyFrom_ChangesANodeInThatStatus_AndLeavesAnyOtherAlone()
    {
        // A session marking its waiting node up races with a failover detaching it: the detach wins.
        var detached = TwoNodes(NodeStatus.Down);
        var version = detached.Current.Version;
        Assert.Null(detached.SetStatus(1, NodeStatus.Up, onlyFrom: NodeStatus.Waiting));
        Assert.Equal(NodeStatus.Down, detached.Current.Find(1)!.Status);
        Assert.Equal(version, detached.Current.Version);

        var waiting = TwoNodes(NodeStatus.Waiting);
        Assert.NotNull(waiting.SetStatus(1, NodeStatus.Up, onlyFrom: NodeStatus.Waiting));
        Assert.Equal(NodeStatus.Up, waiting.Current.Find(1)!.Status);
    }

    [Fact]
    public void SetStatus_ToDown_KeepsTheReason_AndBackUpClearsIt()
    {
        var store = TwoNodes(NodeStatus.Up);
        store.SetStatus(1, NodeStatus.Down, "health check failed");
        Assert.Equal("health check failed", store.Current.Find(1)!.DownReason);
        Assert.False(store.Current.Find(1)!.IsUsable);

        store.SetStatus(1, NodeStatus.Waiting);
        Assert.Null(store.Current.Find(1)!.DownReason);
        Assert.True(store.Current.Find(1)!.IsUsable);
    }
}
