using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.WebUi.Components.Controls;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.WebUi.Components.Pages;

/// <summary>Health check statistics per node (the rows pgpool reports) and each check's duration over time.</summary>
public partial class HealthChecks : LiveComponentBase
{
    private ClusterSnapshot _snapshot = default!;
    private List<string[]> _rows = [];
    private IReadOnlyList<ChartSeries> _chart = [];

    protected override void OnInitialized()
    {
        var cluster = Client.SubscribeCluster();
        _snapshot = cluster.Snapshot;
        Follow(cluster, batch =>
        {
            _snapshot = batch[^1];
            Refresh();
        });
        var history = Client.SubscribeHistory();
        Chart(history.Snapshot);
        Follow(history, batch =>
        {
            Chart(batch[^1]);
            Refresh();
        });
        Refresh();
    }

    private void Refresh() => _rows = [.. Client.HealthCheckRows(_snapshot)];

    private void Chart(HistorySnapshot history) =>
        _chart = [.. _snapshot.Nodes.Select(n => new ChartSeries($"node {n.Id}", history.HealthCheckMs.GetValueOrDefault(n.Id, [])))];
}
