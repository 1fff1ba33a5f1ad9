using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

/// <summary>
/// pgjdbc (Debian's libpostgresql-jdbc-java) through the proxy: the driver pipelines batches,
/// switches to named server-side statements, suspends portals for fetch sizes and cancels on
/// query timeouts; see Jdbc/JdbcClient.java for each check.
/// </summary>
[Collection(ProxyCollection.Name)]
public sealed class JdbcTests(ProxyFixture proxy) : IAsyncLifetime
{
    private const string Driver = "/usr/share/java/postgresql.jar";

    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("jdbc");
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task EverydayJdbcUse_WorksAndLeavesEveryNodeIdentical()
    {
        var source = Path.Combine(AppContext.BaseDirectory, "Integration", "Jdbc", "JdbcClient.java");
        var result = await ProcessRunner.RunAsync(
            "java",
            ["-cp", Driver, source, proxy.ProxyPort.ToString(System.Globalization.CultureInfo.InvariantCulture), _database],
            timeout: TimeSpan.FromMinutes(3));

        Assert.True(result.ExitCode == 0, $"the JDBC client reported failures:\n{result.StandardOutput}\n{result.StandardError}");
        Assert.Equal(10, result.StandardOutput.Split('\n').Count(line => line.StartsWith("ok ", StringComparison.Ordinal)));
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "items", "id");
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "accounts", "id");
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "pg_largeobject", "loid, pageno");
    }
}
