using Npgsql;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.InfrastructureTests;

public sealed class AuthModeTests : OwnInstancesTestBase
{
    [Theory]
    [InlineData(PostgresAuthMethod.Md5, "md5")]
    [InlineData(PostgresAuthMethod.ScramSha256, "SCRAM-SHA-256$")]
    public async Task PasswordAuth_HostConnectionsDemandThePassword(PostgresAuthMethod method, string storedPrefix)
    {
        await using var node = await PostgresInstance.CreateAsync(
            Options(method.ToString().ToLowerInvariant()) with { AuthMethod = method, Password = "s3cret'pw" });

        // No password: Npgsql refuses before sending anything, because the server asked for one.
        var none = await Assert.ThrowsAnyAsync<NpgsqlException>(() => OpenAsync(node.ConnectionString()));
        Assert.Contains("password", none.Message, StringComparison.OrdinalIgnoreCase);
        var wrong = await Assert.ThrowsAsync<PostgresException>(() => OpenAsync(node.ConnectionString(password: "wrong")));
        Assert.Equal(PostgresErrorCodes.InvalidPassword, wrong.SqlState);
        await OpenAsync(node.ConnectionString(password: "s3cret'pw"));

        // The helpers authenticate with the password from the options; it is stored in the mode's format.
        var stored = await node.QueryScalarAsync<string>("SELECT rolpassword FROM pg_authid WHERE rolname = 'postgres'");
        Assert.StartsWith(storedPrefix, stored, StringComparison.Ordinal);

        // psql over TCP is refused without the password and admitted with it.
        var refused = await Psql.RunAsync(node.Host, node.Port, "postgres", "postgres", "SELECT 1");
        Assert.False(refused.Succeeded);
        var admitted = await Psql.RunAsync(new PsqlOptions(node.Host, node.Port, "postgres", "postgres") { Password = "s3cret'pw" }, ["SELECT 1"]);
        Assert.Equal("1", admitted.EnsureSuccess().StandardOutput.Trim());
    }

    private static async Task OpenAsync(string connectionString)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync();
    }
}
