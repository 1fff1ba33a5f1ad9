using Npgsql;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

/// <summary>Two session slots, a 2 s client idle limit and 1 s pooled connection life time.</summary>
public sealed class SmallPoolFixture() : ProxyFixture(2)
{
    protected override string ExtraConfiguration => "num_init_children = 2\nclient_idle_limit = 2\nconnection_life_time = 1\n";
}

public sealed class PoolSettingsTests(SmallPoolFixture proxy) : IClassFixture<SmallPoolFixture>
{
    private async Task<NpgsqlConnection> OpenAsync(CancellationToken cancellationToken = default)
    {
        var connection = new NpgsqlConnection(proxy.ConnectionString("postgres"));
        await connection.OpenAsync(cancellationToken);
        return connection;
    }

    [Fact]
    public async Task NumInitChildren_ExtraClientWaitsForAFreeSlot()
    {
        await using var first = await OpenAsync();
        await using var second = await OpenAsync();

        var third = OpenAsync();
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(third.IsCompleted, "a third client must wait while both slots are taken");
        Assert.Contains(proxy.Host.Store.Log.Query(text: "session slots"), e => e.Message == "all 2 session slots (num_init_children) are in use: new clients wait for a session to end (raise num_init_children, or set reserved_connections to refuse them instead)");

        await first.CloseAsync();
        await using var connected = await third.WaitAsync(TimeSpan.FromSeconds(10));
        await using var command = new NpgsqlCommand("SELECT 1", connected);
        Assert.Equal(1, await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task ClientIdleLimit_DisconnectsAnIdleClientWithAClearMessage()
    {
        await using var connection = await OpenAsync();
        await Task.Delay(TimeSpan.FromSeconds(3.5));

        await using var command = new NpgsqlCommand("SELECT 1", connection);
        var error = await Assert.ThrowsAnyAsync<Exception>(() => command.ExecuteScalarAsync());
        Assert.Contains("client_idle_limit", error.ToString());
    }

    [Fact]
    public async Task ConnectionLifeTime_ClosesPooledConnections()
    {
        await using (var connection = await OpenAsync())
        {
            await using var command = new NpgsqlCommand("SELECT 1", connection);
            await command.ExecuteScalarAsync();
        }

        await Eventually.TrueAsync(() => proxy.Host.Proxy.Pool.IdleCount > 0, TimeSpan.FromSeconds(5), "the session's connections are pooled");
        await Eventually.TrueAsync(() => proxy.Host.Proxy.Pool.IdleCount == 0, TimeSpan.FromSeconds(10), "connection_life_time (1 s) closes them");
    }
}
