using Bunit;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.Tests.WebUi;

/// <summary>
/// bUnit with the dashboard's real client over a real cluster state store (two nodes), a logged-in
/// user, and an administration that records what the components ask for.
/// </summary>
public abstract class DashboardTestContext : BunitContext
{
    protected DashboardTestContext()
    {
        var now = DateTimeOffset.UtcNow;
        Store = new ClusterStateStore(
        [
            new NodeState { Id = 0, Host = "127.0.0.1", Port = 5432, Status = NodeStatus.Up, LastStatusChange = now },
            new NodeState { Id = 1, Host = "127.0.0.1", Port = 5433, Status = NodeStatus.Up, LastStatusChange = now },
        ], TimeProvider.System);
        History = new ClusterHistory(Store);
        Services.AddSingleton(Store);
        Services.AddSingleton(Administration);
        Client = new DashboardClient(Store, new OptionsHolder(new PgPoolOptions()), Administration, History, NullLogger<DashboardClient>.Instance);
        Services.AddSingleton(Client);
        AddAuthorization().SetAuthorized("operator");
    }

    protected ClusterStateStore Store { get; }

    protected ClusterHistory History { get; }

    protected IDashboardClient Client { get; }

    protected RecordingAdministration Administration { get; } = new();

    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(10);
}

/// <summary>Records the actions components ask for and answers with <see cref="Answer"/>.</summary>
public sealed class RecordingAdministration : IClusterAdministration
{
    public List<string> Calls { get; } = [];

    public AdminResult Answer { get; set; } = AdminResult.Ok("done");

    public string? JobId { get; set; }

    public Task<AdminResult> AttachAsync(int nodeId, CancellationToken cancellationToken) => Record($"attach {nodeId}");

    public Task<AdminResult> DetachAsync(int nodeId, bool graceful, CancellationToken cancellationToken) => Record($"detach {nodeId}");

    public async Task<(AdminResult Result, string? JobId)> StartRecoveryAsync(int nodeId, CancellationToken cancellationToken) => (await Record($"recover {nodeId}"), JobId);

    public Task<AdminResult> RecoverAsync(int nodeId, CancellationToken cancellationToken) => Record($"recover-and-wait {nodeId}");

    public Task<AdminResult> CancelRecoveryAsync(string recoveryId, CancellationToken cancellationToken) => Record($"cancel {recoveryId}");

    public Task<AdminResult> ReloadAsync(CancellationToken cancellationToken) => Record("reload");

    public async Task<(AdminResult Result, string? CheckId)> StartConsistencyCheckAsync(ConsistencyRequest request, CancellationToken cancellationToken) =>
        (await Record($"check {string.Join(',', request.Databases)}"), "check-1");

    public Task<AdminResult> StopAsync(ShutdownMode mode, CancellationToken cancellationToken) => Record($"stop {mode}");

    private Task<AdminResult> Record(string call)
    {
        lock (Calls)
        {
            Calls.Add(call);
        }

        return Task.FromResult(Answer);
    }
}
