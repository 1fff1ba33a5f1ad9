namespace PgPoolConsole.Proxy.Configuration;

/// <summary>A setting and the value in effect.</summary>
/// <param name="Name">Key as in pgpool.conf, with the node number for per-node settings (backend_port1).</param>
/// <param name="Value">Canonical text (on/off, plain numbers); "*****" for a secret that is set.</param>
/// <param name="Source">"pgpool.conf:12", "appsettings.json" or "default".</param>
/// <param name="IsDefault">True when no configuration entry set it (for a per-node value: neither the node nor the global key).</param>
public sealed record EffectiveSetting(
    string Name, string Value, string Source, bool IsSecret, bool IsDefault, bool NeedsRestart, string Description);
