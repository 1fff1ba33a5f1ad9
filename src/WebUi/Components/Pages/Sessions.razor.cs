using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.WebUi.Components.Controls;

namespace PgPoolConsole.WebUi.Components.Pages;

/// <summary>Client sessions, their backend connections as pgpool's pool rows, and the session count over time.</summary>
public partial class Sessions : LiveComponentBase
{
    private IReadOnlyList<IProxySession> _sessions = [];
    private List<string[]> _pools = [];
    private IReadOnlyList<ChartSeries> _chart = [];

    protected override void OnInitialized()
    {
        Refresh();
        Follow(Client.SubscribeSessionCount(), _ => Refresh());
        var history = Client.SubscribeHistory();
        _chart = [new ChartSeries("sessions", history.Snapshot.Sessions)];
        Follow(history, batch => _chart = [new ChartSeries("sessions", batch[^1].Sessions)]);

        // Activity and backend connections change without a session starting or ending.
        Every(TimeSpan.FromSeconds(1), Refresh);
    }

    private void Refresh()
    {
        _sessions = Client.Sessions();
        _pools = [.. ClusterReports.PoolRows(_sessions, DateTimeOffset.UtcNow).Where(row => row[15] == "1")];
    }
}
