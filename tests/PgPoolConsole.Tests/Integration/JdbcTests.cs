using Microsoft.Extensions.DependencyInjection;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Proxy.Sessions;
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

    /// <param name="options">Connection options: none, or autosave (a savepoint around every
    /// statement, sent as a simple Query before the extended batch's Sync) with batches rewritten
    /// into multi-row INSERTs.</param>
    [Theory]
    [InlineData("", 10)]
    [InlineData("autosave=always&reWriteBatchedInserts=true", 12)]
    public async Task EverydayJdbcUse_WorksAndLeavesEveryNodeIdentical(string options, int checks)
    {
        var source = Path.Combine(AppContext.BaseDirectory, "Integration", "Jdbc", "JdbcClient.java");
        var result = await ProcessRunner.RunAsync(
            "java",
            ["-cp", Driver, source, proxy.ProxyPort.ToString(System.Globalization.CultureInfo.InvariantCulture), _database, options],
            timeout: TimeSpan.FromMinutes(3));

        Assert.True(result.ExitCode == 0, $"the JDBC client reported failures:\n{result.StandardOutput}\n{result.StandardError}");
        Assert.Equal(checks, result.StandardOutput.Split('\n').Count(line => line.StartsWith("ok ", StringComparison.Ordinal)));
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "items", "id");
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "accounts", "id");
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "pg_largeobject", "loid, pageno");
    }

    /// <summary>
    /// pgjdbc's autosave, message by message: an extended BEGIN, then SAVEPOINT as a simple Query,
    /// then the statement and Sync. PostgreSQL runs them in order (the Query answers with its own
    /// ReadyForQuery); after an error before the Query it ignores the Query up to Sync.
    /// </summary>
    [Fact]
    public async Task SimpleQueryBeforeSync_RunsAfterTheMessagesBeforeIt_OrIsIgnoredAfterTheirError()
    {
        (await proxy.PsqlAsync(_database, "CREATE TABLE t (id int PRIMARY KEY)")).EnsureSuccess();
        await using var client = new RawClient(proxy.Host.Services.GetRequiredService<ProxyServer>());
        await client.ConnectAsync(_database);

        await client.SendAsync([.. RawClient.Execute("BEGIN"), .. RawClient.Query("SAVEPOINT autosave"), .. RawClient.Execute("INSERT INTO t VALUES (1)"), .. RawClient.Message('S')]);
        Assert.Equal(
            [('1', ""), ('2', ""), ('C', "BEGIN"), ('C', "SAVEPOINT"), ('Z', "T")],
            await client.ReadUntilReadyAsync());
        Assert.Equal([('1', ""), ('2', ""), ('C', "INSERT 0 1"), ('Z', "T")], await client.ReadUntilReadyAsync());
        await client.SendAsync(RawClient.Query("SAVEPOINT kept"));
        Assert.Equal([('C', "SAVEPOINT"), ('Z', "T")], await client.ReadUntilReadyAsync());

        await client.SendAsync([.. RawClient.Execute("INSERT INTO t VALUES (1)"), .. RawClient.Query("SAVEPOINT ignored"), .. RawClient.Execute("INSERT INTO t VALUES (2)"), .. RawClient.Message('S')]);
        var failed = await client.ReadUntilReadyAsync();
        Assert.Equal(['1', '2', 'E', 'Z'], failed.Select(m => m.Type));
        Assert.Contains("23505", failed[2].Text);
        Assert.Equal('E', failed[3].Text[0]);

        await client.SendAsync([.. RawClient.Query("ROLLBACK TO SAVEPOINT kept"), .. RawClient.Query("COMMIT")]);
        Assert.Equal([('C', "ROLLBACK"), ('Z', "T")], await client.ReadUntilReadyAsync());
        Assert.Equal([('C', "COMMIT"), ('Z', "I")], await client.ReadUntilReadyAsync());
        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(["1"], await NodeSql.ReadColumnAsync(node, _database, "SELECT id FROM t"));
        }
    }
}
