using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.WebUi.Model;

/// <summary>Which log entries a reader wants: a minimum level, one node, text contained in the message.</summary>
public sealed record LogFilter(EventLevel MinimumLevel = EventLevel.Debug, int? NodeId = null, string? Text = null)
{
    public static LogFilter All { get; } = new();

    public bool Matches(LogEntry entry) =>
        entry.Level >= MinimumLevel
        && (NodeId is null || entry.NodeId == NodeId)
        && (string.IsNullOrEmpty(Text) || entry.Message.Contains(Text, StringComparison.OrdinalIgnoreCase));

    /// <summary>Parses a level name as pgpool prints it (DEBUG, LOG, WARNING, ERROR, FATAL), any case.</summary>
    public static bool TryParseLevel(string? text, out EventLevel level)
    {
        level = EventLevel.Debug;
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        foreach (var candidate in Enum.GetValues<EventLevel>())
        {
            if (string.Equals(Proxy.Logging.PgpoolLogLine.LevelName(candidate), text.Trim(), StringComparison.OrdinalIgnoreCase))
            {
                level = candidate;
                return true;
            }
        }

        return false;
    }
}
