using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.WebUi.Components.Pages;

/// <summary>Start a consistency check and watch its results arrive.</summary>
public partial class Consistency : LiveComponentBase
{
    private List<ConsistencyCheck> _checks = [];
    private ActionOutcome? _outcome;

    private string Databases { get; set; } = "";

    private string Tables { get; set; } = "";

    protected override void OnInitialized()
    {
        var checks = Client.SubscribeConsistencyChecks();
        _checks = [.. checks.Snapshot];
        Follow(checks, batch =>
        {
            foreach (var check in batch)
            {
                var index = _checks.FindIndex(c => c.Id == check.Id);
                if (index >= 0)
                {
                    _checks[index] = check;
                }
                else
                {
                    _checks.Insert(0, check);
                }
            }
        });
    }

    private static string Verdict(ConsistencyCheck check) => check.State switch
    {
        ConsistencyCheckState.Running => $"running ({check.Tables.Length} tables so far)",
        ConsistencyCheckState.Failed => "failed",
        _ when check.AllIdentical => $"all {check.Tables.Length} tables identical",
        _ => $"{check.DifferingTables} of {check.Tables.Length} tables differ",
    };

    private async Task StartAsync()
    {
        _outcome = ActionOutcome.Started("Consistency check", "starting…");
        var request = new ConsistencyRequest(Split(Databases), Split(Tables));
        var (result, _) = await Client.StartConsistencyCheckAsync(request, await UserNameAsync(), Stopping);
        _outcome = ActionOutcome.Of("Consistency check", result);
    }

    private static string[] Split(string text) => text.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
