using System.Collections.Frozen;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Logging;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// The pgpool parameters a client changed for its own session with PGPOOL SET: those of pgpool-II
/// 4.3's session parameters that pgpoolconsole implements. A parameter the session did not change
/// reads pgpool.conf's current value, so a reload still reaches it.
/// </summary>
internal sealed class SessionSettings(OptionsHolder options, Action<EventLevel, string> sendToClient) : ISessionLogSettings
{
    public static readonly FrozenSet<string> Settable = FrozenSet.Create(
        StringComparer.Ordinal,
        "client_idle_limit", "client_idle_limit_in_recovery", "log_statement", "log_per_node_statement", "log_min_messages", "client_min_messages");

    /// <summary>pgpool-II's other session parameters: accepted in pgpool.conf, but what they control is not part of pgpoolconsole.</summary>
    public static readonly FrozenSet<string> WithoutEffect = FrozenSet.Create(
        StringComparer.Ordinal,
        "log_client_messages", "log_error_verbosity", "allow_sql_comments", "check_unlogged_table");

    // Replaced whole, never changed in place: a recovery's pause reads it from another thread.
    private volatile Dictionary<string, object> _changed = new(StringComparer.Ordinal);

    public int ClientIdleLimit => Get("client_idle_limit", static o => o.ClientIdleLimit);

    public int ClientIdleLimitInRecovery => Get("client_idle_limit_in_recovery", static o => o.ClientIdleLimitInRecovery);

    public bool LogStatement => Get("log_statement", static o => o.LogStatement);

    public bool LogPerNodeStatement => Get("log_per_node_statement", static o => o.LogPerNodeStatement);

    public int? LogMinimumRank => _changed.TryGetValue("log_min_messages", out var level) ? PgpoolLogLine.RankOfSetting((string)level) : null;

    /// <summary>
    /// client_min_messages in PostgreSQL's order for clients (debug &lt; log &lt; info &lt; notice &lt; warning &lt; error):
    /// the session's LOG and DEBUG lines reach its client only when it asks for them. Its warnings and errors
    /// reach it as its own error messages already.
    /// </summary>
    public bool SendsToClient(EventLevel level)
    {
        var minimum = Get("client_min_messages", static o => o.ClientMinMessages) switch
        {
            "debug5" or "debug4" or "debug3" or "debug2" or "debug1" or "debug" => 0,
            "log" => 1,
            _ => 2,
        };
        return level switch
        {
            EventLevel.Debug => minimum <= 0,
            EventLevel.Log => minimum <= 1,
            _ => false,
        };
    }

    public void SendToClient(EventLevel level, string message) => sendToClient(level, message);

    /// <summary>The session's value in display form, or null when the session did not change <paramref name="name"/>.</summary>
    public string? Changed(string name) =>
        _changed.TryGetValue(name, out var value) ? PgPoolSettings.Find(name)!.Display(value) : null;

    public void Set(string name, object value) => _changed = new(_changed, StringComparer.Ordinal) { [name] = value };

    public void Reset(string name)
    {
        var changed = new Dictionary<string, object>(_changed, StringComparer.Ordinal);
        changed.Remove(name);
        _changed = changed;
    }

    public void ResetAll() => _changed = new(StringComparer.Ordinal);

    private T Get<T>(string name, Func<PgPoolOptions, T> configured)
    {
        var changed = _changed;
        return changed.Count > 0 && changed.TryGetValue(name, out var value) ? (T)value : configured(options.Current);
    }
}
