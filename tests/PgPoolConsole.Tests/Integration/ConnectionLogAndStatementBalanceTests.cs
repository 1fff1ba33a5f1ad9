using System.Text.RegularExpressions;
using Npgsql;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

/// <summary>pgpool-II's connection logging (log_connections, log_disconnections, log_hostname) and statement_level_load_balance, on.</summary>
public sealed class ConnectionLogFixture() : ProxyFixture(2)
{
    protected override string ExtraConfiguration => "log_connections = on\nlog_disconnections = on\nlog_hostname = on\nstatement_level_load_balance = on\n";
}

public sealed partial class ConnectionLogAndStatementBalanceTests(ConnectionLogFixture proxy) : IClassFixture<ConnectionLogFixture>
{
    [Fact]
    public async Task ASession_IsLoggedAsPgpoolLogsIt_WithTheClientsHostName()
    {
        var database = await proxy.CreateDatabaseAsync("connlog");
        string port;
        await using (var connection = await proxy.OpenAsync(database))
        {
            port = proxy.Host.Store.Sessions.List().Single(s => s.Database == database).ClientAddress.Split(':')[1];
        }

        // The name the system's resolver gives 127.0.0.1 ("localhost" from /etc/hosts), as pgpool-II prints it.
        var host = (await System.Net.Dns.GetHostEntryAsync(System.Net.IPAddress.Loopback)).HostName;
        Assert.NotEqual("127.0.0.1", host);
        var expected = $"host={host} port={port}";
        await Eventually.TrueAsync(() => Lines().Any(m => m.StartsWith("frontend disconnection: ", StringComparison.Ordinal) && m.Contains(database, StringComparison.Ordinal)), TimeSpan.FromSeconds(10), "the disconnection is logged");
        var received = Assert.Single(Lines(), m => m.StartsWith("new connection received: ", StringComparison.Ordinal) && m.Contains(database, StringComparison.Ordinal));
        Assert.StartsWith($"new connection received: connecting {expected} user=postgres database={database}", received);
        var ended = Assert.Single(Lines(), m => m.StartsWith("frontend disconnection: ", StringComparison.Ordinal) && m.Contains(database, StringComparison.Ordinal));
        Assert.Matches(SessionTime(), ended);
        Assert.EndsWith($" user=postgres database={database} {expected}", ended);
    }

    [Fact]
    public async Task StatementLevelLoadBalance_SpreadsOneSessionsReads_ButATransactionReadsFromOneNode()
    {
        await using var connection = await proxy.OpenAsync("postgres");

        var autocommit = new HashSet<int>();
        for (var i = 0; i < 40; i++)
        {
            autocommit.Add(await ServerPortAsync(connection));
        }

        Assert.Equal(proxy.Nodes.Select(n => n.Port).Order(), autocommit.Order());

        var inTransaction = new HashSet<int>();
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            for (var i = 0; i < 20; i++)
            {
                inTransaction.Add(await ServerPortAsync(connection));
            }
        }

        Assert.Single(inTransaction);
    }

    private IEnumerable<string> Lines() => proxy.Host.Store.Log.Query().Select(e => e.Message);

    private static async Task<int> ServerPortAsync(NpgsqlConnection connection)
    {
        await using var command = new NpgsqlCommand("SELECT inet_server_port()", connection);
        return (int)(await command.ExecuteScalarAsync())!;
    }

    [GeneratedRegex(@"^frontend disconnection: session time: \d+:\d\d:\d\d\.\d\d\d user=")]
    private static partial Regex SessionTime();
}
