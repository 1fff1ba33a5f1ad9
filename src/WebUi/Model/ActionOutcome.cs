using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.WebUi.Model;

/// <summary>An action's progress and outcome as the dashboard shows it.</summary>
public sealed record ActionOutcome(string Action, bool Running, bool Succeeded, string Message, string? Detail)
{
    /// <summary>
    /// Done, but with a caveat the operator must see (the administration starts such a detail
    /// with "WARNING:", e.g. a node attached without proof that it is in sync).
    /// </summary>
    public bool Warning => Succeeded && Detail?.StartsWith("WARNING:", StringComparison.Ordinal) == true;

    /// <summary>The CSS class of the outcome: running, ok, warning or failed.</summary>
    public string State => Running ? "running" : Warning ? "warning" : Succeeded ? "ok" : "failed";

    public static ActionOutcome Started(string action, string message) => new(action, true, false, message, null);

    public static ActionOutcome Of(string action, AdminResult result) =>
        new(action, false, result.Succeeded, result.Message, result.Detail);
}
