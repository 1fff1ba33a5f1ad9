using Microsoft.Extensions.DependencyInjection;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Integration;
using Xunit.Abstractions;

namespace PgPoolConsole.Tests.Recovery;

/// <summary>
/// Two nodes plus a third PostgreSQL outside the cluster that holds Hangfire's job store
/// (hangfire_connection_string), the way a job store must live to survive the node it recovers.
/// </summary>
public sealed class PostgreSqlJobStoreFixture : ProxyFixture
{
    private TestDirectory? _jobsDirectory;

    public PostgreSqlJobStoreFixture()
        : base(2)
    {
    }

    public PostgresInstance Jobs { get; private set; } = null!;

    protected override string ExtraConfiguration =>
        DefaultRecoverySettings + $"hangfire_connection_string = 'Host=127.0.0.1;Port={Jobs.Port};Username=postgres;Database=postgres'\n";

    protected override async Task PrepareNodesAsync()
    {
        await InstallRecoveryScriptsAsync();
        _jobsDirectory = await TestDirectory.CreateAsync();
        Jobs = await PostgresInstance.CreateAsync(new PostgresInstanceOptions { BaseDirectory = _jobsDirectory.Path, Name = "jobs", FastUnsafe = true });
    }

    public override async Task DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        finally
        {
            if (Jobs is not null)
            {
                await Jobs.DisposeAsync();
            }

            if (_jobsDirectory is not null)
            {
                await _jobsDirectory.DisposeAsync();
            }
        }
    }
}

public sealed class PostgreSqlJobStoreTests(PostgreSqlJobStoreFixture proxy, ITestOutputHelper output) : IClassFixture<PostgreSqlJobStoreFixture>, IAsyncLifetime
{
    public async Task InitializeAsync()
    {
        await proxy.Jobs.StartAsync();
        await proxy.HealAsync();
    }

    public Task DisposeAsync() => proxy.HealAsync();

    private IClusterAdministration Administration => proxy.Host.Services.GetRequiredService<IClusterAdministration>();

    private async Task KillAndWaitDownAsync(int nodeId)
    {
        await proxy.Nodes[nodeId].KillAsync();
        var detached = await Administration.DetachAsync(nodeId, graceful: false, default);
        Assert.True(detached.Succeeded || proxy.Host.Store.Current.Find(nodeId)?.Status == NodeStatus.Down, detached.Message);
    }

    [Fact]
    public async Task Recovery_RunsAsAJobStoredInPostgreSql_AndSucceeds()
    {
        var database = await proxy.CreateDatabaseAsync("jobstore");
        (await proxy.PsqlAsync(database, "CREATE TABLE t (id int PRIMARY KEY)", "INSERT INTO t VALUES (1)")).EnsureSuccess();
        await KillAndWaitDownAsync(1);

        var result = await Administration.RecoverAsync(1, default);

        Assert.True(result.Succeeded, result.Message + "\n" + result.Detail);
        Assert.True(proxy.Host.Store.Current.Find(1)!.IsUsable);
        var jobs = await NodeSql.ReadColumnAsync(proxy.Jobs, "postgres",
            "SELECT statename || ' ' || (invocationdata::json->>'Method') FROM pgpoolconsole_hangfire.job ORDER BY id");
        output.WriteLine(string.Join("\n", jobs));
        Assert.Contains("Succeeded RunAsync", jobs);
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, database, "t", "id");
    }

    [Fact]
    public async Task JobStoreDown_RecoveryIsRefusedWithTheReason_AndNotLeftRunning_AndWorksOnceTheStoreIsBack()
    {
        await KillAndWaitDownAsync(1);
        await proxy.Jobs.StopAsync();

        var (refused, id) = await Administration.StartRecoveryAsync(1, default);

        output.WriteLine(refused.Message);
        Assert.False(refused.Succeeded);
        Assert.Null(id);
        Assert.Equal(AdminError.Failed, refused.Error);
        Assert.StartsWith("could not queue the recovery of node 1: the job store refused it:", refused.Message, StringComparison.Ordinal);
        Assert.Null(proxy.Host.Store.Recovery.Running); // a later request is not refused as "already running"
        var failed = proxy.Host.Store.Recovery.All[0];
        Assert.Equal(RecoveryOutcome.Failed, failed.Outcome);
        Assert.Equal(refused.Message, failed.Error);
        Assert.All(failed.Stages, stage => Assert.Equal(RecoveryStageOutcome.Skipped, stage.Outcome));

        await proxy.Jobs.StartAsync();
        var result = await Administration.RecoverAsync(1, default);
        Assert.True(result.Succeeded, result.Message + "\n" + result.Detail);
        Assert.True(proxy.Host.Store.Current.Find(1)!.IsUsable);
    }
}
