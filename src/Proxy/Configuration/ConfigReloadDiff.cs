namespace PgPoolConsole.Proxy.Configuration;

/// <summary>One setting that differs between the running and the reloaded configuration.</summary>
/// <param name="Name">Key, with the node number for per-node settings (backend_hostname2).</param>
/// <param name="OldValue">"" when the setting did not exist (a new backend); secrets are masked.</param>
/// <param name="NewValue">"" when the setting is gone (a removed backend); secrets are masked.</param>
/// <param name="NeedsRestart">The change takes effect only after a restart.</param>
public sealed record SettingChange(string Name, string OldValue, string NewValue, bool NeedsRestart);

/// <summary>What <c>reload</c> would change.</summary>
public sealed record ConfigReloadDiff(IReadOnlyList<SettingChange> Changes)
{
    /// <summary>At least one change takes effect only after a restart.</summary>
    public bool NeedsRestart => Changes.Any(c => c.NeedsRestart);

    /// <summary>The changes a reload cannot apply.</summary>
    public IReadOnlyList<SettingChange> RestartRequired => [.. Changes.Where(c => c.NeedsRestart)];
}
