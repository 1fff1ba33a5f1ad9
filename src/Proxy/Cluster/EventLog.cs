namespace PgPoolConsole.Proxy.Cluster;

/// <summary>Severity names as pgpool prints them.</summary>
public enum EventLevel
{
    Debug = 0,
    Log = 1,
    Warning = 2,
    Error = 3,
    Fatal = 4,
}

/// <summary>One structured log event kept for the control plane.</summary>
public sealed record LogEntry(long Sequence, DateTimeOffset Timestamp, EventLevel Level, int Pid, int? NodeId, string Category, string Message)
{
    public string LevelName => Logging.PgpoolLogLine.LevelName(Level);

    /// <summary>The line as pgpool-II prints it with the given log_line_prefix (4.x default '%m: %a pid %p: ').</summary>
    public string ToPgpoolLine(string prefix = "%m: %a pid %p: ") => Logging.PgpoolLogLine.Format(prefix, Timestamp, Level, Pid, Message);
}

/// <summary>A bounded in-memory log (oldest entries are dropped) with a live feed.</summary>
public sealed class EventLog
{
    private readonly object _gate = new();
    private readonly LogEntry?[] _ring;
    private readonly TimeProvider _timeProvider;
    private long _sequence;

    public EventLog(int capacity, TimeProvider timeProvider)
    {
        _ring = new LogEntry?[Math.Max(16, capacity)];
        _timeProvider = timeProvider;
    }

    public ChangeFeed<LogEntry> Entries { get; } = new(2048);

    public int Capacity => _ring.Length;

    /// <summary>The sequence number of the newest entry (0 when empty).</summary>
    public long LastSequence => Interlocked.Read(ref _sequence);

    public LogEntry Append(EventLevel level, int pid, int? nodeId, string category, string message)
    {
        LogEntry entry;
        lock (_gate)
        {
            var sequence = ++_sequence;
            entry = new LogEntry(sequence, _timeProvider.GetUtcNow(), level, pid, nodeId, category, message);
            _ring[sequence % _ring.Length] = entry;

            // Published under the lock so subscribers see sequence numbers in order: a reader
            // that drops what it has already seen by sequence must never see 6 before 5.
            Entries.Publish(entry);
        }

        return entry;
    }

    /// <summary>Entries after <paramref name="afterSequence"/>, oldest first, filtered.</summary>
    public IReadOnlyList<LogEntry> Query(long afterSequence = 0, EventLevel minimumLevel = EventLevel.Debug, int? nodeId = null, string? text = null, int limit = 1000)
    {
        var result = new List<LogEntry>();
        lock (_gate)
        {
            var first = Math.Max(afterSequence + 1, _sequence - _ring.Length + 1);
            for (var sequence = Math.Max(1, first); sequence <= _sequence; sequence++)
            {
                var entry = _ring[sequence % _ring.Length];
                if (entry is null || entry.Level < minimumLevel || (nodeId is not null && entry.NodeId != nodeId))
                {
                    continue;
                }

                if (text is not null && !entry.Message.Contains(text, StringComparison.OrdinalIgnoreCase))
                {
                    continue;
                }

                result.Add(entry);
            }
        }

        return result.Count > limit ? result.GetRange(result.Count - limit, limit) : result;
    }
}
