using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.WebUi.Model;

/// <summary>An action's progress and outcome as the dashboard shows it.</summary>
public sealed record ActionOutcome(string Action, bool Running, bool Succeeded, string Message, string? Detail)
{
    public static ActionOutcome Started(string action, string message) => new(action, true, false, message, null);

    public static ActionOutcome Of(string action, AdminResult result) =>
        new(action, false, result.Succeeded, result.Message, result.Detail);
}
