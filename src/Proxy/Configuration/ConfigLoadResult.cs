namespace PgPoolConsole.Proxy.Configuration;

/// <param name="Warnings">Things that are probably mistakes (unknown keys, settings that have no effect).</param>
/// <param name="Notes">Information: ignored pgpool-II keys, defaults chosen, overridden values.</param>
public sealed record ConfigLoadResult(
    PgPoolOptions Options, IReadOnlyList<ConfigMessage> Warnings, IReadOnlyList<ConfigMessage> Notes);
