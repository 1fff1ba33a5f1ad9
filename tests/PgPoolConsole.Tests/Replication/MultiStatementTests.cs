using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Replication;

/// <summary>
/// Query strings that end transactions run statement by statement through the proxy (so COMMIT
/// reaches the main node last) yet behave exactly as PostgreSQL runs them: the same output, the
/// same errors (positions included), the same rows. PostgreSQL itself, reached directly, is the oracle.
/// </summary>
[Collection(ProxyCollection.Name)]
public sealed class MultiStatementTests(ProxyFixture proxy) : IAsyncLifetime
{
    private string _database = "";
    private string _direct = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("multi");
        _direct = _database + "_direct";
        await proxy.Nodes[0].ExecuteAsync($"CREATE DATABASE {_direct}");
        foreach (var database in new[] { _database })
        {
            (await proxy.PsqlAsync(database, "CREATE TABLE m (id int PRIMARY KEY, v text)")).EnsureSuccess();
        }

        await proxy.Nodes[0].ExecuteAsync("CREATE TABLE m (id int PRIMARY KEY, v text)", _direct);
    }

    public async Task DisposeAsync() => await proxy.Nodes[0].ExecuteAsync($"DROP DATABASE IF EXISTS {_direct} WITH (FORCE)");

    private async Task<(ProcessResult Proxy, ProcessResult Direct)> RunBothAsync(string sql)
    {
        string[] args = ["--set=ON_ERROR_STOP=0", "--pset=tuples_only=off", "-c", sql];
        var throughProxy = await Psql.RunAsync(proxy.PsqlOptions(_database), args);
        var direct = await Psql.RunAsync(new PsqlOptions("127.0.0.1", proxy.Nodes[0].Port, "postgres", _direct), args);
        return (throughProxy, direct);
    }

    [Theory]
    [InlineData("BEGIN; INSERT INTO m VALUES (1, 'a'); UPDATE m SET v = 'b' WHERE id = 1; COMMIT")]
    [InlineData("INSERT INTO m VALUES (1, 'a'); COMMIT; INSERT INTO m VALUES (2, 'b')")]
    [InlineData("INSERT INTO m VALUES (1, 'a'); COMMIT; INSERT INTO m VALUES (1, 'dup'); INSERT INTO m VALUES (3, 'c')")]
    [InlineData("BEGIN; INSERT INTO m VALUES (1, 'a'); SELECT nosuchcolumn FROM m; COMMIT")]
    [InlineData("INSERT INTO m VALUES (5, 'x'); BEGIN; INSERT INTO m VALUES (6, 'y'); COMMIT; SELECT count(*) FROM m")]
    [InlineData("BEGIN; INSERT INTO m VALUES (7, 'z'); ROLLBACK; INSERT INTO m VALUES (8, 'w')")]
    public async Task QueryStringEndingTransactions_BehavesAsOnPostgres_AndNodesAgree(string sql)
    {
        var (throughProxy, direct) = await RunBothAsync(sql);

        Assert.Equal(direct.StandardOutput, throughProxy.StandardOutput);
        Assert.Equal(direct.StandardError.Replace(_direct, _database, StringComparison.Ordinal), throughProxy.StandardError);
        Assert.Equal(
            await NodeComparer.ReadTableAsync(proxy.Nodes[0], _direct, "m", "id"),
            await NodeComparer.ReadTableAsync(proxy.Nodes[0], _database, "m", "id"));
        await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "m", "id");
    }
}
