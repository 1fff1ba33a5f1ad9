namespace PgPoolConsole.Proxy.Cluster;

/// <summary>Per-node counters (SHOW POOL_BACKEND_STATS, select_cnt, health check statistics). Thread-safe.</summary>
public sealed class NodeStatistics
{
    private long _select;
    private long _insert;
    private long _update;
    private long _delete;
    private long _ddl;
    private long _other;
    private long _panic;
    private long _fatal;
    private long _error;
    private readonly object _healthGate = new();
    private HealthCheckStatistics _health = new();

    public long SelectCount => Interlocked.Read(ref _select);
    public long InsertCount => Interlocked.Read(ref _insert);
    public long UpdateCount => Interlocked.Read(ref _update);
    public long DeleteCount => Interlocked.Read(ref _delete);
    public long DdlCount => Interlocked.Read(ref _ddl);
    public long OtherCount => Interlocked.Read(ref _other);
    public long PanicCount => Interlocked.Read(ref _panic);
    public long FatalCount => Interlocked.Read(ref _fatal);
    public long ErrorCount => Interlocked.Read(ref _error);

    public void CountStatement(StatementCategory category)
    {
        switch (category)
        {
            case StatementCategory.Select: Interlocked.Increment(ref _select); break;
            case StatementCategory.Insert: Interlocked.Increment(ref _insert); break;
            case StatementCategory.Update: Interlocked.Increment(ref _update); break;
            case StatementCategory.Delete: Interlocked.Increment(ref _delete); break;
            case StatementCategory.Ddl: Interlocked.Increment(ref _ddl); break;
            default: Interlocked.Increment(ref _other); break;
        }
    }

    public void CountError(string severity)
    {
        switch (severity)
        {
            case "PANIC": Interlocked.Increment(ref _panic); break;
            case "FATAL": Interlocked.Increment(ref _fatal); break;
            default: Interlocked.Increment(ref _error); break;
        }
    }

    /// <summary>The latest health check statistics (an immutable value).</summary>
    public HealthCheckStatistics Health
    {
        get
        {
            lock (_healthGate)
            {
                return _health;
            }
        }
    }

    public void UpdateHealth(Func<HealthCheckStatistics, HealthCheckStatistics> change)
    {
        lock (_healthGate)
        {
            _health = change(_health);
        }
    }
}

/// <summary>Statement categories counted per node, as SHOW POOL_BACKEND_STATS reports them.</summary>
public enum StatementCategory
{
    Select,
    Insert,
    Update,
    Delete,
    Ddl,
    Other,
}

/// <summary>Health check statistics of one node (SHOW POOL_HEALTH_CHECK_STATS, pcp_health_check_stats).</summary>
public sealed record HealthCheckStatistics
{
    public long TotalCount { get; init; }
    public long SuccessCount { get; init; }
    public long FailCount { get; init; }
    public long SkipCount { get; init; }
    public long RetryCount { get; init; }
    public int MaxRetryCount { get; init; }
    public double MaxDurationMs { get; init; }
    public double MinDurationMs { get; init; }
    public double TotalDurationMs { get; init; }
    public DateTimeOffset? LastHealthCheck { get; init; }
    public DateTimeOffset? LastSuccessfulHealthCheck { get; init; }
    public DateTimeOffset? LastSkipHealthCheck { get; init; }
    public DateTimeOffset? LastFailedHealthCheck { get; init; }
    public double LastDurationMs { get; init; }

    /// <summary>
    /// Whether PostgreSQL answered the probe of the last skipped round (a detached node is not
    /// health checked, but pg_status shows whether the server itself is up); null before one.
    /// </summary>
    public bool? AnswersWhileDetached { get; init; }

    public double AverageDurationMs => TotalCount > 0 ? TotalDurationMs / TotalCount : 0;

    public double AverageRetryCount => TotalCount > 0 ? (double)RetryCount / TotalCount : 0;
}
