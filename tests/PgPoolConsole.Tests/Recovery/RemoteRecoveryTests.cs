using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Api.Recovery;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Integration;
using Xunit.Abstractions;

namespace PgPoolConsole.Tests.Recovery;

/// <summary>
/// Node 0 on this host, node 1 on a "remote host" (a network namespace with its own address and
/// an sshd): the product reaches node 1 over the veth link only, and the default recovery scripts
/// reach it over ssh, exactly as they would reach another machine.
/// </summary>
public sealed class RemoteRecoveryFixture() : ProxyFixture(2)
{
    public RemoteHost Remote { get; private set; } = null!;

    protected override string ExtraConfiguration =>
        "health_check_period = 1\nhealth_check_timeout = 2\nhealth_check_max_retries = 0\n" +
        DefaultRecoverySettings;

    protected override string BackendHostname(int index) => index == 0 ? Remote.LocalAddress : Remote.Address;

    protected override async Task PrepareNodesAsync()
    {
        Remote = await RemoteHost.CreateAsync(Path.Combine(Directory, "remote"));
        var main = Nodes[0];
        await File.AppendAllTextAsync(Path.Combine(main.DataDirectory, "postgresql.conf"), $"listen_addresses = '127.0.0.1,{Remote.LocalAddress}'\n");
        await File.AppendAllTextAsync(Path.Combine(main.DataDirectory, "pg_hba.conf"), $"host all all {Remote.Subnet} trust\nhost replication all {Remote.Subnet} trust\n");
        await main.RestartAsync();
        await RecoveryScripts.InstallAsync(main.DataDirectory);
        var settings = Path.Combine(main.DataDirectory, "pgpoolconsole_recovery.conf");
        await File.WriteAllTextAsync(settings, $"SSH_OPTIONS=\"{Remote.SshOptions}\"\n");
        await OsUser.ChownToPostgresAsync(settings, recursive: false);

        // Node 1 lives on the remote host from now on: it listens only on the namespace's address.
        var target = Nodes[1];
        await target.StopAsync();
        await File.AppendAllTextAsync(Path.Combine(target.DataDirectory, "postgresql.conf"), $"listen_addresses = '{Remote.Address}'\n");
        await File.AppendAllTextAsync(Path.Combine(target.DataDirectory, "pg_hba.conf"), $"host all all {Remote.Subnet} trust\n");
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await Remote.DisposeAsync();
    }
}

public sealed class RemoteRecoveryTests(RemoteRecoveryFixture proxy, ITestOutputHelper output) : IClassFixture<RemoteRecoveryFixture>
{
    [Fact]
    public async Task NodeOnAnotherHost_IsRecoveredOverSsh_AndServesTrafficThroughTheLink()
    {
        var store = proxy.Host.Store;
        await Eventually.TrueAsync(() => store.Current.Find(1)?.Status == NodeStatus.Down, TimeSpan.FromSeconds(30), "node 1 (not running) is detached");
        var database = await proxy.CreateDatabaseAsync("remote");
        (await proxy.PsqlAsync(database, "CREATE TABLE t (id serial PRIMARY KEY, v text)", "INSERT INTO t (v) SELECT 'before ' || i FROM generate_series(1, 1000) i")).EnsureSuccess();

        var watch = Stopwatch.StartNew();
        var result = await proxy.Host.Services.GetRequiredService<IClusterAdministration>().RecoverAsync(1, default);
        var progress = store.Recovery.All[0];
        foreach (var stage in progress.Stages)
        {
            output.WriteLine($"{stage.Number} {stage.Name}: {stage.Outcome} {(stage.FinishedAt - stage.StartedAt)?.TotalMilliseconds:0} ms {stage.Error}\n    {stage.Output.Replace("\n", "\n    ", StringComparison.Ordinal)}");
        }

        output.WriteLine($"remote recovery took {watch.Elapsed.TotalSeconds:0.00} s");
        Assert.True(result.Succeeded, result.Message + "\n" + result.Detail);
        Assert.Equal(proxy.Remote.Address, store.Current.Find(1)!.Host);
        Assert.True(store.Current.Find(1)!.IsUsable);
        (await proxy.PsqlAsync(database, "INSERT INTO t (v) SELECT 'after ' || i FROM generate_series(1, 100) i")).EnsureSuccess();
        var onMain = await NodeComparer.ReadTableAsync(proxy.Nodes[0], database, "t", "id");
        var onRemote = await ReadRemoteAsync(database, "SELECT t::text FROM t ORDER BY id");
        Assert.Equal(1100, onMain.Count);
        Assert.Equal(onMain, onRemote);

        // The recovered server runs inside the namespace and answers on the link's address.
        Assert.Equal([proxy.Remote.Address], await ReadRemoteAsync(database, "SELECT host(inet_server_addr())"));
    }

    private async Task<List<string>> ReadRemoteAsync(string database, string sql)
    {
        var builder = new Npgsql.NpgsqlConnectionStringBuilder(proxy.Nodes[1].ConnectionString(database)) { Host = proxy.Remote.Address };
        await using var connection = new Npgsql.NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync();
        var rows = new List<string>();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }
}
