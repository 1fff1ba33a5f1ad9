using System.Diagnostics;
using Npgsql;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

/// <summary>Node 0 configured as pgpool users write it for a local server: its Unix-socket directory; node 1 over TCP.</summary>
public sealed class UnixSocketBackendFixture() : ProxyFixture(2)
{
    protected override string BackendHostname(int index) => index == 0 ? Nodes[0].SocketDirectory : base.BackendHostname(index);
}

public sealed class UnixSocketBackendTests(UnixSocketBackendFixture proxy) : IClassFixture<UnixSocketBackendFixture>, IAsyncLifetime
{
    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("unix");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task WritesReachTheNodeBehindTheSocketDirectory_AndPoolNodesShowsIt()
    {
        await using var connection = await proxy.OpenAsync(_database);
        await using (var create = new NpgsqlCommand("CREATE TABLE u (id int PRIMARY KEY, at timestamptz DEFAULT now())", connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        await using (var insert = new NpgsqlCommand("INSERT INTO u (id) SELECT generate_series(1, 100)", connection))
        {
            await insert.ExecuteNonQueryAsync();
        }

        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "u", "id");
        Assert.Equal(["100"], await NodeSql.ReadColumnAsync(proxy.Nodes[0], _database, "SELECT count(*)::text FROM u"));
        // The node's own view: the proxy's connections came in over the socket (no client address).
        var local = await NodeSql.ReadColumnAsync(proxy.Nodes[0], _database,
            "SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() AND client_addr IS NULL AND backend_type = 'client backend'");
        Assert.True(int.Parse(Assert.Single(local)!, System.Globalization.CultureInfo.InvariantCulture) >= 1);

        var nodes = await proxy.PsqlAsync(_database, "SHOW pool_nodes");
        Assert.True(nodes.ExitCode == 0, nodes.Describe());
        Assert.Contains($"|{proxy.Nodes[0].SocketDirectory}|", nodes.StandardOutput);
    }

    [Fact]
    public async Task ACancelledWrite_IsCancelledOnTheNodeBehindTheSocket()
    {
        await using var connection = await proxy.OpenAsync(_database);
        await using (var create = new NpgsqlCommand("CREATE TABLE c (id int)", connection))
        {
            await create.ExecuteNonQueryAsync();
        }

        using var cancel = new CancellationTokenSource(TimeSpan.FromSeconds(1));
        await using var slow = new NpgsqlCommand("INSERT INTO c SELECT 1 FROM pg_sleep(60)", connection);
        var watch = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => slow.ExecuteNonQueryAsync(cancel.Token));

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(15), $"cancel took {watch.Elapsed}");
        Assert.Empty(await NodeSql.ReadColumnAsync(proxy.Nodes[0], _database, "SELECT pid::text FROM pg_stat_activity WHERE query LIKE 'INSERT INTO c SELECT 1 FROM pg_sleep%'"));
        foreach (var node in proxy.Nodes)
        {
            Assert.Empty(await NodeSql.ReadColumnAsync(node, _database, "SELECT id::text FROM c"));
        }
    }
}
