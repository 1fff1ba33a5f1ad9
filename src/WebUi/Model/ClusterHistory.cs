using System.Collections.Immutable;
using Microsoft.Extensions.Hosting;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.WebUi.Model;

/// <summary>One point of a chart series: when, and the measured value.</summary>
public readonly record struct ChartPoint(DateTimeOffset Time, double Value);

/// <summary>The recent history of the cluster for the charts (immutable; replaced every sample).</summary>
/// <param name="QueriesPerSecond">Per node: statements counted per second between two samples.</param>
/// <param name="HealthCheckMs">Per node: the duration of each health check that ran (a point per check, none when checks are off).</param>
/// <param name="Sessions">Client sessions at each sample.</param>
public sealed record HistorySnapshot(
    long Version,
    ImmutableDictionary<int, ImmutableArray<ChartPoint>> QueriesPerSecond,
    ImmutableDictionary<int, ImmutableArray<ChartPoint>> HealthCheckMs,
    ImmutableArray<ChartPoint> Sessions)
{
    public static HistorySnapshot Empty { get; } = new(0, ImmutableDictionary<int, ImmutableArray<ChartPoint>>.Empty, ImmutableDictionary<int, ImmutableArray<ChartPoint>>.Empty, []);
}

/// <summary>
/// Samples the store's counters every second and keeps the last few minutes, so a chart opened
/// now already has a history. Health-check points are the checks that really ran (their own
/// time and duration), never interpolated.
/// </summary>
public sealed class ClusterHistory : BackgroundService
{
    private readonly ClusterStateStore _store;
    private readonly TimeSpan _interval;
    private readonly int _keep;
    private readonly Dictionary<int, long> _lastCounts = [];
    private readonly Dictionary<int, DateTimeOffset?> _lastHealthCheck = [];
    private DateTimeOffset _lastSample;
    private HistorySnapshot _current = HistorySnapshot.Empty;

    public ClusterHistory(ClusterStateStore store)
        : this(store, TimeSpan.FromSeconds(1), 300)
    {
    }

    public ClusterHistory(ClusterStateStore store, TimeSpan interval, int keep)
    {
        _store = store;
        _interval = interval;
        _keep = keep;
    }

    public HistorySnapshot Current => Volatile.Read(ref _current);

    public ChangeFeed<HistorySnapshot> Changes { get; } = new(16);

    /// <summary>Takes one sample now (the background loop calls this every interval).</summary>
    public void Sample()
    {
        var now = _store.TimeProvider.GetUtcNow();
        var previous = Current;
        var queries = previous.QueriesPerSecond;
        var health = previous.HealthCheckMs;
        var elapsed = (now - _lastSample).TotalSeconds;
        foreach (var node in _store.Current.Nodes)
        {
            var view = NodeView.Of(_store, _store.Current, node);
            if (_lastCounts.TryGetValue(node.Id, out var last) && elapsed > 0)
            {
                var rate = Math.Max(0, view.StatementCount - last) / elapsed;
                queries = queries.SetItem(node.Id, Append(queries.GetValueOrDefault(node.Id, []), new ChartPoint(now, rate)));
            }

            _lastCounts[node.Id] = view.StatementCount;
            var checkedAt = view.Health.LastHealthCheck;
            if (checkedAt is { } at && _lastHealthCheck.GetValueOrDefault(node.Id) != at)
            {
                health = health.SetItem(node.Id, Append(health.GetValueOrDefault(node.Id, []), new ChartPoint(at, view.Health.LastDurationMs)));
            }

            _lastHealthCheck[node.Id] = checkedAt;
        }

        _lastSample = now;
        var next = new HistorySnapshot(previous.Version + 1, queries, health, Append(previous.Sessions, new ChartPoint(now, _store.Sessions.Count)));
        Volatile.Write(ref _current, next);
        Changes.Publish(next);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(_interval, _store.TimeProvider);
        Sample();
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                Sample();
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping, also when the host failed to start (the host would log this as a failure then).
        }
    }

    private ImmutableArray<ChartPoint> Append(ImmutableArray<ChartPoint> series, ChartPoint point)
    {
        var added = series.IsDefault ? [point] : series.Add(point);
        return added.Length > _keep ? added.RemoveRange(0, added.Length - _keep) : added;
    }
}
