using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Proxy.Logging;

/// <summary>What a client session changed about its own log lines with PGPOOL SET.</summary>
public interface ISessionLogSettings
{
    /// <summary>The log_min_messages rank (<see cref="PgpoolLogLine.Rank"/>) the session set for its lines; null when it set none.</summary>
    int? LogMinimumRank { get; }

    /// <summary>Whether client_min_messages sends this session's lines of <paramref name="level"/> to its client.</summary>
    bool SendsToClient(EventLevel level);

    /// <summary>Queues a line for the client; it arrives as a notice before the next ReadyForQuery.</summary>
    void SendToClient(EventLevel level, string message);
}

/// <summary>
/// The session whose code is running, for the log providers: a session's own lines (category
/// <see cref="Category"/>) follow its PGPOOL SET log_min_messages and client_min_messages. Lines of
/// cluster events (failover, health checks, recovery) keep the configured levels even when a
/// session set them off, so only that category looks here.
/// </summary>
public static class SessionLogContext
{
    public const string Category = "PgPoolConsole.Proxy.Session";

    private static readonly AsyncLocal<ISessionLogSettings?> CurrentSession = new();

    /// <summary>Set once at the top of a session's run; flows into everything the session awaits.</summary>
    public static ISessionLogSettings? Current
    {
        get => CurrentSession.Value;
        set => CurrentSession.Value = value;
    }
}
