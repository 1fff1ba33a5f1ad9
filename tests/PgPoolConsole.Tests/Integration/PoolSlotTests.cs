using Npgsql;

namespace PgPoolConsole.Tests.Integration;

/// <summary>A node with no connection slot left while the pool holds idle connections to it.</summary>
[Collection(ProxyCollection.Name)]
public sealed class PoolSlotTests(ProxyFixture proxy)
{
    [Fact]
    public async Task LoginRefusedForTooManyConnections_ClosesIdlePooledConnections_AndSucceeds()
    {
        // The role may hold two connections per node; two finished sessions leave both pooled.
        var role = $"limited_{Guid.NewGuid():N}"[..24];
        (await proxy.PsqlAsync("postgres", $"CREATE ROLE {role} LOGIN CONNECTION LIMIT 2")).EnsureSuccess();
        string[] databases = [await proxy.CreateDatabaseAsync("slots"), await proxy.CreateDatabaseAsync("slots"), await proxy.CreateDatabaseAsync("slots")];
        foreach (var database in databases[..2])
        {
            await using var connection = await proxy.OpenAsync(database, role);
            await using var query = new NpgsqlCommand("SELECT 1", connection);
            Assert.Equal(1, await query.ExecuteScalarAsync());
        }

        await using var third = await proxy.OpenAsync(databases[2], role);
        await using var who = new NpgsqlCommand("SELECT current_user", third);
        Assert.Equal(role, await who.ExecuteScalarAsync());
        Assert.Contains(proxy.Host.Store.Log.Query(text: "closed them and tried again"), e => e.Message.Contains($"too many connections for role \"{role}\"", StringComparison.Ordinal));
    }
}
