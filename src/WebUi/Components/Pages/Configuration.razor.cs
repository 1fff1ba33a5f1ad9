using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.WebUi.Components.Pages;

/// <summary>The effective configuration with a filter, and Reload with its outcome.</summary>
public partial class Configuration : LiveComponentBase
{
    private IReadOnlyList<EffectiveSetting> _settings = [];
    private ActionOutcome? _outcome;
    private bool _confirmReload;

    private string FilterText { get; set; } = "";

    private bool OnlyChanged { get; set; }

    private IEnumerable<EffectiveSetting> Shown => _settings.Where(s =>
        (!OnlyChanged || !s.IsDefault)
        && (FilterText.Length == 0
            || s.Name.Contains(FilterText, StringComparison.OrdinalIgnoreCase)
            || s.Value.Contains(FilterText, StringComparison.OrdinalIgnoreCase)
            || s.Description.Contains(FilterText, StringComparison.OrdinalIgnoreCase)));

    protected override void OnInitialized() => _settings = Client.Configuration();

    private async Task ReloadAsync()
    {
        _confirmReload = false;
        _outcome = ActionOutcome.Started("Reload", "re-reading the configuration…");
        StateHasChanged();
        _outcome = ActionOutcome.Of("Reload", await Client.ReloadAsync(await UserNameAsync(), Stopping));
        _settings = Client.Configuration();
    }
}
