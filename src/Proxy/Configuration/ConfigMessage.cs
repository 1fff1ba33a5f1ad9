namespace PgPoolConsole.Proxy.Configuration;

/// <summary>A warning, note or error about the configuration, pointing at where it comes from.</summary>
/// <param name="Source">File or section name ("pgpool.conf", "appsettings.json"); "" when not tied to one.</param>
/// <param name="Line">1-based line, or 0 when there is none.</param>
/// <param name="Key">The parameter concerned, if any.</param>
/// <param name="Text">What is wrong or worth knowing, without the location prefix.</param>
public sealed record ConfigMessage(string Source, int Line, string? Key, string Text)
{
    internal static ConfigMessage At(ConfigEntry entry, string text) => new(entry.Source, entry.Line, entry.Key, text);

    internal static string FormatLocation(string source, int line) => line > 0 ? $"{source}:{line}" : source;

    /// <summary>"pgpool.conf:12: text", "appsettings.json: text" or just the text.</summary>
    public override string ToString()
    {
        var location = FormatLocation(Source, Line);
        return location.Length == 0 ? Text : $"{location}: {Text}";
    }
}
