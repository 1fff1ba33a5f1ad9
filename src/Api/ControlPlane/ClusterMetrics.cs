using System.Globalization;
using Prometheus;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.Api.ControlPlane;

/// <summary>
/// /metrics in Prometheus' text format, from a registry of this host's own (several hosts may
/// share a process in tests). Counters the store keeps (statements, errors, health checks) are
/// read at scrape time; events the store only announces (failovers, failbacks, finished
/// recoveries and their stage durations) are counted by following its feeds from start-up.
/// </summary>
public sealed class ClusterMetrics : BackgroundService
{
    private static readonly (StatementCategory Category, string Label)[] Kinds =
    [
        (StatementCategory.Select, "select"), (StatementCategory.Insert, "insert"), (StatementCategory.Update, "update"),
        (StatementCategory.Delete, "delete"), (StatementCategory.Ddl, "ddl"), (StatementCategory.Other, "other"),
    ];

    private readonly ClusterStateStore _store;
    private readonly IDashboardClient _client;
    private readonly Gauge _sessions;
    private readonly Gauge _backendConnections;
    private readonly Gauge _nodeStatus;
    private readonly Gauge _nodeUp;
    private readonly Counter _queries;
    private readonly Counter _errors;
    private readonly Counter _failovers;
    private readonly Counter _failbacks;
    private readonly Counter _healthChecks;
    private readonly Gauge _healthLastMs;
    private readonly Gauge _healthAverageMs;
    private readonly Gauge _healthMaxMs;
    private readonly Counter _recoveries;
    private readonly Histogram _recoveryStageSeconds;
    private readonly HashSet<(string JobId, int Stage)> _observedStages = [];
    private readonly HashSet<string> _finishedRecoveries = [];

    public ClusterMetrics(ClusterStateStore store, IDashboardClient client)
    {
        _store = store;
        _client = client;
        Registry = Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        _sessions = factory.CreateGauge("pgpool_sessions", "Client sessions connected to the proxy");
        _backendConnections = factory.CreateGauge("pgpool_backend_connections", "Backend connections held by client sessions, per node", "node");
        _nodeStatus = factory.CreateGauge("pgpool_node_status", "Node status code: 0 unused, 1 waiting, 2 up, 3 down", "node", "host", "port");
        _nodeUp = factory.CreateGauge("pgpool_node_up", "1 when the node is attached (up or waiting), 0 when detached", "node");
        _queries = factory.CreateCounter("pgpool_queries_total", "Statements sent to a node, by kind (SHOW POOL_BACKEND_STATS)", "node", "kind");
        _errors = factory.CreateCounter("pgpool_backend_errors_total", "Errors a node returned, by severity", "node", "severity");
        _failovers = factory.CreateCounter("pgpool_failovers_total", "Times a node was detached (health check, backend error, mismatch or request) since start", "node");
        _failbacks = factory.CreateCounter("pgpool_failbacks_total", "Times a node was attached again since start", "node");
        _healthChecks = factory.CreateCounter("pgpool_health_checks_total", "Health checks, by result", "node", "result");
        _healthLastMs = factory.CreateGauge("pgpool_health_check_last_duration_ms", "Duration of the latest health check", "node");
        _healthAverageMs = factory.CreateGauge("pgpool_health_check_average_duration_ms", "Average health check duration", "node");
        _healthMaxMs = factory.CreateGauge("pgpool_health_check_max_duration_ms", "Longest health check", "node");
        _recoveries = factory.CreateCounter("pgpool_recoveries_total", "Online recoveries finished since start, by outcome", "outcome");
        _recoveryStageSeconds = factory.CreateHistogram("pgpool_recovery_stage_duration_seconds", "Duration of each finished online recovery stage", ["stage"],
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.05, 2, 14) });
        Registry.AddBeforeCollectCallback(Collect);
    }

    public CollectorRegistry Registry { get; }

    /// <summary>Reads the store's counters into the registry (before every scrape).</summary>
    private void Collect()
    {
        var snapshot = _store.Current;
        var sessions = _store.Sessions.List();
        _sessions.Set(sessions.Count);
        foreach (var node in snapshot.Nodes)
        {
            var id = Label(node.Id);
            var stats = _store.Statistics(node.Id);
            _nodeStatus.WithLabels(id, node.Host, Label(node.Port)).Set((int)node.Status);
            _nodeUp.WithLabels(id).Set(node.IsUsable ? 1 : 0);
            _backendConnections.WithLabels(id).Set(sessions.Sum(s => s.Backends.Count(b => b.NodeId == node.Id)));
            foreach (var (category, label) in Kinds)
            {
                _queries.WithLabels(id, label).IncTo(category switch
                {
                    StatementCategory.Select => stats.SelectCount,
                    StatementCategory.Insert => stats.InsertCount,
                    StatementCategory.Update => stats.UpdateCount,
                    StatementCategory.Delete => stats.DeleteCount,
                    StatementCategory.Ddl => stats.DdlCount,
                    _ => stats.OtherCount,
                });
            }

            _errors.WithLabels(id, "error").IncTo(stats.ErrorCount);
            _errors.WithLabels(id, "fatal").IncTo(stats.FatalCount);
            _errors.WithLabels(id, "panic").IncTo(stats.PanicCount);
            var health = stats.Health;
            _healthChecks.WithLabels(id, "success").IncTo(health.SuccessCount);
            _healthChecks.WithLabels(id, "fail").IncTo(health.FailCount);
            _healthChecks.WithLabels(id, "skip").IncTo(health.SkipCount);
            _healthLastMs.WithLabels(id).Set(health.LastDurationMs);
            _healthAverageMs.WithLabels(id).Set(health.AverageDurationMs);
            _healthMaxMs.WithLabels(id).Set(health.MaxDurationMs);
            _failovers.WithLabels(id);
            _failbacks.WithLabels(id);
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken) =>
        Task.WhenAll(FollowNodesAsync(stoppingToken), FollowRecoveriesAsync(stoppingToken));

    private async Task FollowNodesAsync(CancellationToken cancellationToken)
    {
        using var subscription = _client.SubscribeCluster();
        var previous = subscription.Snapshot;
        try
        {
            await foreach (var snapshot in subscription.ReadAllAsync(cancellationToken))
            {
                foreach (var node in snapshot.Nodes)
                {
                    if (previous.Find(node.Id) is not { } before)
                    {
                        continue;
                    }

                    if (before.IsUsable && node.Status == NodeStatus.Down)
                    {
                        _failovers.WithLabels(Label(node.Id)).Inc();
                    }
                    else if (before.Status == NodeStatus.Down && node.IsUsable)
                    {
                        _failbacks.WithLabels(Label(node.Id)).Inc();
                    }
                }

                previous = snapshot;
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task FollowRecoveriesAsync(CancellationToken cancellationToken)
    {
        using var subscription = _client.SubscribeRecoveries();
        foreach (var known in subscription.Snapshot)
        {
            // Recoveries finished before we started are not counted; their stages are not observed either.
            _finishedRecoveries.Add(known.JobId);
            foreach (var stage in known.Stages)
            {
                _observedStages.Add((known.JobId, stage.Number));
            }
        }

        try
        {
            await foreach (var progress in subscription.ReadAllAsync(cancellationToken))
            {
                foreach (var stage in progress.Stages)
                {
                    if (stage is { StartedAt: { } start, FinishedAt: { } end, Outcome: RecoveryStageOutcome.Succeeded or RecoveryStageOutcome.Failed }
                        && _observedStages.Add((progress.JobId, stage.Number)))
                    {
                        _recoveryStageSeconds.WithLabels(stage.Name).Observe((end - start).TotalSeconds);
                    }
                }

                if (progress.Outcome != RecoveryOutcome.Running && _finishedRecoveries.Add(progress.JobId))
                {
                    _recoveries.WithLabels(progress.Outcome.ToString().ToLowerInvariant()).Inc();
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private static string Label(int value) => value.ToString(CultureInfo.InvariantCulture);
}
