namespace PgPoolConsole.Proxy.Configuration;

internal static class ConfigLines
{
    /// <summary>The lines of a configuration file with 1-based numbers; a BOM and CR line ends are dropped.</summary>
    public static IEnumerable<(int Number, string Text)> Split(string text) =>
        text.TrimStart('\uFEFF').Split('\n').Select((line, index) => (index + 1, line.TrimEnd('\r')));
}
