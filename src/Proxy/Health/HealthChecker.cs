using System.Diagnostics;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Proxy.Health;

/// <summary>
/// Checks every attached node every health_check_period seconds: connect as health_check_user
/// and run a trivial query within health_check_timeout (a hung node is caught by the timeout),
/// retrying health_check_max_retries times health_check_retry_delay apart. A node that still
/// fails is detached through the <see cref="FailoverController"/>. Settings are re-read each
/// round, so a reload takes effect without a restart.
/// </summary>
public sealed partial class HealthChecker : IAsyncDisposable
{
    private readonly ClusterStateStore _store;
    private readonly OptionsHolder _options;
    private readonly FailoverController _failover;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Dictionary<int, Task> _loops = [];
    private readonly object _gate = new();
    private int _disposed;

    public HealthChecker(ClusterStateStore store, OptionsHolder options, FailoverController failover, TimeProvider timeProvider, ILogger<HealthChecker> logger)
    {
        _store = store;
        _options = options;
        _failover = failover;
        _timeProvider = timeProvider;
        _logger = logger;
    }

    /// <summary>Starts a loop for every configured node that has none (call again after a reload adds nodes).</summary>
    public void Start()
    {
        lock (_gate)
        {
            foreach (var node in _store.Current.Nodes)
            {
                if (!_loops.ContainsKey(node.Id))
                {
                    var id = node.Id;
                    _loops[id] = Task.Run(() => LoopAsync(id, _stopping.Token));
                }
            }
        }
    }

    private HealthCheckOptions SettingsFor(int nodeId) =>
        _options.Current.Backends.FirstOrDefault(b => b.Id == nodeId)?.HealthCheck ?? _options.Current.HealthCheck;

    private async Task LoopAsync(int nodeId, CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            var settings = SettingsFor(nodeId);
            if (settings.Period <= 0)
            {
                // Off for this node; look again later (a reload may turn it on).
                await DelayAsync(TimeSpan.FromSeconds(1), cancellationToken);
                continue;
            }

            await DelayAsync(TimeSpan.FromSeconds(settings.Period), cancellationToken);
            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            try
            {
                await CheckAndActAsync(nodeId, cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
#pragma warning disable CA1031 // the loop must survive anything a single round throws
            catch (Exception e)
#pragma warning restore CA1031
            {
                LogRoundFailed(_logger, nodeId, e.Message);
            }
        }
    }

    /// <summary>One health check round for a node (with retries); detaches it when it fails. Returns true when healthy.</summary>
    public async Task<bool> CheckAndActAsync(int nodeId, CancellationToken cancellationToken)
    {
        var node = _store.Current.Find(nodeId);
        if (node is null)
        {
            return false;
        }

        var stats = _store.Statistics(nodeId);
        var settings = SettingsFor(nodeId);
        if (!node.IsUsable)
        {
            // Skipped as in pgpool-II; one connection attempt still tells pg_status whether the server is up.
            var answers = (await NodeProbe.ProbeAsync(node, settings, cancellationToken)).Answers;
            var skipped = _timeProvider.GetUtcNow();
            stats.UpdateHealth(h => h with { TotalCount = h.TotalCount + 1, SkipCount = h.SkipCount + 1, LastSkipHealthCheck = skipped, LastHealthCheck = skipped, AnswersWhileDetached = answers });
            return false;
        }

        var started = Stopwatch.GetTimestamp();
        string? failure = null;
        var retries = 0;
        ProbeResult probe;
        for (var attempt = 0; ; attempt++)
        {
            probe = await NodeProbe.ProbeAsync(node, settings, cancellationToken);
            failure = probe.Failure;
            if (failure is null || attempt >= settings.MaxRetries)
            {
                break;
            }

            retries++;
            LogRetry(_logger, nodeId, attempt + 1, settings.MaxRetries, failure);
            await DelayAsync(TimeSpan.FromSeconds(settings.RetryDelay), cancellationToken);
        }

        var duration = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var now = _timeProvider.GetUtcNow();
        stats.UpdateHealth(h => h with
        {
            TotalCount = h.TotalCount + 1,
            SuccessCount = h.SuccessCount + (failure is null ? 1 : 0),
            FailCount = h.FailCount + (failure is null ? 0 : 1),
            RetryCount = h.RetryCount + retries,
            MaxRetryCount = Math.Max(h.MaxRetryCount, retries),
            MaxDurationMs = Math.Max(h.MaxDurationMs, duration),
            MinDurationMs = h.TotalCount == 0 ? duration : Math.Min(h.MinDurationMs, duration),
            TotalDurationMs = h.TotalDurationMs + duration,
            LastDurationMs = duration,
            LastHealthCheck = now,
            LastSuccessfulHealthCheck = failure is null ? now : h.LastSuccessfulHealthCheck,
            LastFailedHealthCheck = failure is null ? h.LastFailedHealthCheck : now,
        });

        if (failure is null)
        {
            LogHealthy(_logger, nodeId, (int)node.Status);
            return true;
        }

        LogHealthCheckFailed(_logger, nodeId, settings.Timeout, failure);
        if (probe.RefusedLogin)
        {
            // The server answers; detaching it for a wrong health_check_user would be a self-inflicted outage.
            LogMisconfigured(_logger, nodeId, settings.User, failure);
            return false;
        }

        await _failover.DetachAsync(nodeId, $"health check failed: {failure}", DetachCause.HealthCheck, cancellationToken);
        return false;
    }

    private Task DelayAsync(TimeSpan delay, CancellationToken cancellationToken) =>
        Task.Delay(delay, _timeProvider, cancellationToken).ContinueWith(_ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        await _stopping.CancelAsync();
        Task[] loops;
        lock (_gate)
        {
            loops = [.. _loops.Values];
        }

        await Task.WhenAll(loops);
        _stopping.Dispose();
    }

    [LoggerMessage(EventId = 4001, Level = LogLevel.Error, Message = "health check failed on node {NodeId} (timeout:{Timeout}): {Reason}")]
    private static partial void LogHealthCheckFailed(ILogger logger, int nodeId, int timeout, string reason);

    [LoggerMessage(EventId = 4002, Level = LogLevel.Debug, Message = "health_check: {NodeId} the DB node status: {Status}")]
    private static partial void LogHealthy(ILogger logger, int nodeId, int status);

    [LoggerMessage(EventId = 4003, Level = LogLevel.Warning, Message = "health check retrying on node {NodeId} ({Attempt} of {MaxRetries}): {Reason}")]
    private static partial void LogRetry(ILogger logger, int nodeId, int attempt, int maxRetries, string reason);

    [LoggerMessage(EventId = 4005, Level = LogLevel.Error, Message = "node {NodeId} answers but refuses the health check as user \"{User}\" ({Reason}); not failing it over: check health_check_user, health_check_password and health_check_database")]
    private static partial void LogMisconfigured(ILogger logger, int nodeId, string user, string reason);

    [LoggerMessage(EventId = 4004, Level = LogLevel.Error, Message = "health check round for node {NodeId} failed unexpectedly: {Reason}")]
    private static partial void LogRoundFailed(ILogger logger, int nodeId, string reason);
}
