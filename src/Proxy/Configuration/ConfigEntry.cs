namespace PgPoolConsole.Proxy.Configuration;

/// <summary>
/// One <c>key = value</c> setting as read from pgpool.conf (Line &gt; 0) or from the <c>PgPool</c>
/// section of appsettings.json (Line 0). Key is lower case; Value has quotes and escapes removed.
/// </summary>
public sealed record ConfigEntry(string Key, string Value, string Source, int Line)
{
    /// <summary>"pgpool.conf:12", or just the source when there is no line.</summary>
    internal string Location => ConfigMessage.FormatLocation(Source, Line);
}
