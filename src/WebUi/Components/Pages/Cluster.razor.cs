using System.Globalization;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.WebUi.Components.Controls;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.WebUi.Components.Pages;

public enum NodeAction
{
    Attach,
    Detach,
    Recover,
}

/// <summary>
/// The cluster page: nodes with their status, role and counters, live; Attach / Detach / Recover
/// with confirmation (each enabled only when it makes sense), their progress and outcome; the
/// running or latest recovery with its diagram; charts of queries per second and health checks.
/// </summary>
public partial class Cluster : LiveComponentBase
{
    private ClusterSnapshot _snapshot = default!;
    private IReadOnlyList<NodeView> _nodes = [];
    private int _sessionCount;
    private List<RecoveryProgress> _recoveries = [];
    private string? _followedJobId;
    private IReadOnlyList<ChartSeries> _queryChart = [];
    private IReadOnlyList<ChartSeries> _healthChart = [];
    private ActionOutcome? _outcome;
    private PendingAction? _pending;

    private bool Busy => _outcome?.Running == true;

    private bool RecoveryRunning => _recoveries.Any(r => r.Outcome == RecoveryOutcome.Running);

    /// <summary>A node under recovery is attached by the recovery itself, at its end.</summary>
    private bool IsBeingRecovered(int nodeId) => _recoveries.Any(r => r.Outcome == RecoveryOutcome.Running && r.NodeId == nodeId);

    private DateTimeOffset Now => DateTimeOffset.UtcNow;

    /// <summary>The recovery this page started, else a running one, else none (finished ones are on the Recoveries page).</summary>
    private RecoveryProgress? ShownRecovery =>
        (_followedJobId is null ? null : _recoveries.FirstOrDefault(r => r.JobId == _followedJobId))
        ?? _recoveries.FirstOrDefault(r => r.Outcome == RecoveryOutcome.Running);

    private string PendingTitle => _pending is { } p ? $"{p.Action} node {p.Node.Id}" : "";

    private string PendingMessage => _pending is not { } p ? "" : p.Action switch
    {
        NodeAction.Attach => $"Attach node {p.Node.Id} ({p.Node.HostAndPort}) again? It must hold the same data as the other nodes; open sessions connect to it at their next transaction boundary.",
        NodeAction.Detach => $"Detach node {p.Node.Id} ({p.Node.HostAndPort})? It gets no more queries; sessions carry on with the other nodes.",
        _ => $"Recover node {p.Node.Id} ({p.Node.HostAndPort})? It is rebuilt from the main node's data while clients keep working, then attached.",
    };

    protected override void OnInitialized()
    {
        var cluster = Client.SubscribeCluster();
        Apply(cluster.Snapshot);
        Follow(cluster, batch => Apply(batch[^1]));

        var sessions = Client.SubscribeSessionCount();
        _sessionCount = sessions.Snapshot;
        Follow(sessions, batch => _sessionCount = batch[^1]);

        _recoveries = FollowRecoveries();

        var history = Client.SubscribeHistory();
        ApplyHistory(history.Snapshot);
        Follow(history, batch => ApplyHistory(batch[^1]));

        // Select counts and health statistics have no feed: read them every second.
        Every(TimeSpan.FromSeconds(1), () => _nodes = Client.Nodes(_snapshot));
    }

    private void Apply(ClusterSnapshot snapshot)
    {
        _snapshot = snapshot;
        _nodes = Client.Nodes(snapshot);
    }

    private void ApplyHistory(HistorySnapshot history)
    {
        _queryChart = [.. _snapshot.Nodes.Select(n => new ChartSeries($"node {n.Id}", history.QueriesPerSecond.GetValueOrDefault(n.Id, [])))];
        _healthChart = [.. _snapshot.Nodes.Select(n => new ChartSeries($"node {n.Id}", history.HealthCheckMs.GetValueOrDefault(n.Id, [])))];
    }

    private static string HealthText(HealthCheckStatistics health) =>
        health.LastHealthCheck is null
            ? "not checked"
            : string.Create(CultureInfo.InvariantCulture, $"{(health.LastFailedHealthCheck == health.LastHealthCheck ? "failed" : "ok")} · {health.LastDurationMs:0.#} ms");

    private static string HealthDetail(HealthCheckStatistics health) =>
        string.Create(CultureInfo.InvariantCulture, $"{health.TotalCount} checks, {health.FailCount} failed, average {health.AverageDurationMs:0.#} ms, longest {health.MaxDurationMs:0.#} ms");

    private void Ask(NodeAction action, NodeView view) => _pending = new PendingAction(action, view.Node);

    private async Task ConfirmAsync()
    {
        if (_pending is not { } pending)
        {
            return;
        }

        _pending = null;
        var id = pending.Node.Id;
        var title = $"{pending.Action} node {id}";
        _outcome = ActionOutcome.Started(title, pending.Action switch
        {
            NodeAction.Attach => $"attaching node {id}: checking it answers, then sessions join it…",
            NodeAction.Detach => $"detaching node {id}…",
            _ => $"starting the recovery of node {id}…",
        });
        StateHasChanged();
        var user = await UserNameAsync();
        try
        {
            switch (pending.Action)
            {
                case NodeAction.Attach:
                    _outcome = ActionOutcome.Of(title, await Client.AttachAsync(id, user, Stopping));
                    break;
                case NodeAction.Detach:
                    _outcome = ActionOutcome.Of(title, await Client.DetachAsync(id, graceful: false, user, Stopping));
                    break;
                default:
                    var (result, jobId) = await Client.StartRecoveryAsync(id, user, Stopping);
                    _followedJobId = jobId ?? _followedJobId;
                    _outcome = ActionOutcome.Of(title, result);
                    break;
            }
        }
        catch (OperationCanceledException)
        {
            _outcome = null;
        }
    }

    private sealed record PendingAction(NodeAction Action, NodeState Node);
}
