using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.WebUi.Components.Pages;

/// <summary>Every recovery this process knows of, live.</summary>
public partial class Recoveries : LiveComponentBase
{
    private List<RecoveryProgress> _recoveries = [];
    private ClusterSnapshot _snapshot = default!;

    protected override void OnInitialized()
    {
        var cluster = Client.SubscribeCluster();
        _snapshot = cluster.Snapshot;
        Follow(cluster, batch => _snapshot = batch[^1]);

        _recoveries = FollowRecoveries();

        // Running stages show their elapsed time.
        Every(TimeSpan.FromSeconds(1), () => { });
    }
}
