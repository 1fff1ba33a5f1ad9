using Npgsql;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

/// <summary>Node 0 demands md5, node 1 SCRAM-SHA-256: the proxy asks the client once and logs in to each its own way.</summary>
public sealed class PasswordNodesFixture() : ProxyFixture(2, authMethods: [PostgresAuthMethod.Md5, PostgresAuthMethod.ScramSha256])
{
    // No pool_passwd: the proxy relays the client's password, which needs clear text from the client.
    protected override string ExtraConfiguration => "allow_clear_text_frontend_auth = on";
}

public sealed class AuthenticationTests(PasswordNodesFixture proxy) : IClassFixture<PasswordNodesFixture>
{
    private PsqlOptions Options(string? password) => proxy.PsqlOptions("postgres") with { Password = password };

    [Fact]
    public async Task Psql_WithPassword_LogsInToAnMd5NodeAndAScramNode()
    {
        var result = await Psql.RunAsync(Options(ProxyFixture.Password), ["CREATE TABLE IF NOT EXISTS auth_t (id int)", "INSERT INTO auth_t VALUES (1)", "SELECT count(*) FROM auth_t"]);

        Assert.True(result.Succeeded, result.Describe());
        foreach (var node in proxy.Nodes)
        {
            Assert.NotEmpty(await NodeComparer.ReadTableAsync(node, "postgres", "auth_t", "1"));
        }

        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, "postgres", "auth_t", "1");
    }

    [Fact]
    public async Task Psql_WrongPassword_IsRefusedWithPostgresMessage()
    {
        var result = await Psql.RunAsync(Options("wrong"), ["SELECT 1"]);

        Assert.False(result.Succeeded);
        Assert.Contains("password authentication failed for user \"postgres\"", result.StandardError);
    }

    [Fact]
    public async Task Psql_NoPassword_IsRefused()
    {
        var result = await Psql.RunAsync(Options(null), ["SELECT 1"]);

        Assert.False(result.Succeeded);
        Assert.Contains("password", result.StandardError);
    }

    [Fact]
    public async Task PooledConnection_IsOnlyReusedByAClientWithTheSamePassword()
    {
        // A first client leaves authenticated backend connections in the pool...
        await using (var first = new NpgsqlConnection(proxy.ConnectionString("postgres", password: ProxyFixture.Password)))
        {
            await first.OpenAsync();
            await using var command = new NpgsqlCommand("SELECT 1", first);
            await command.ExecuteScalarAsync();
        }

        await Eventually.TrueAsync(() => proxy.Host.Proxy.Pool.IdleCount > 0, TimeSpan.FromSeconds(5), "the first session returns its connections to the pool");

        // ...which a client with the wrong password must not get.
        await using var intruder = new NpgsqlConnection(proxy.ConnectionString("postgres", password: "guess"));
        var error = await Assert.ThrowsAsync<PostgresException>(() => intruder.OpenAsync());
        Assert.Equal("28P01", error.SqlState);

        await using var again = new NpgsqlConnection(proxy.ConnectionString("postgres", password: ProxyFixture.Password));
        await again.OpenAsync();
        await using var check = new NpgsqlCommand("SELECT current_user", again);
        Assert.Equal("postgres", await check.ExecuteScalarAsync());
    }
}
