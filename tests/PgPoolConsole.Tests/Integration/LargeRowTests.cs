using System.IO.Pipelines;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PgPoolConsole.Proxy.Sessions;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

/// <summary>
/// Rows of many megabytes (PostgreSQL allows a field up to 1 GB) flow through the proxy as the
/// node sends them, so the proxy's memory does not grow by the size of the largest row.
/// </summary>
[Collection(ProxyCollection.Name)]
public sealed class LargeRowTests(ProxyFixture proxy) : IAsyncLifetime
{
    private const int RowBytes = 64 << 20;
    private string _database = "";

    private ProxyServer Server => proxy.Host.Services.GetRequiredService<ProxyServer>();

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("largerow");
        await using var connection = await proxy.OpenAsync(_database);
        await using var create = new NpgsqlCommand($"CREATE TABLE big (id int PRIMARY KEY, v text); INSERT INTO big SELECT 1, repeat('x', {RowBytes})", connection);
        await create.ExecuteNonQueryAsync();
    }

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task ALargeRow_ReachesASlowClientAsTheNodeSendsIt_InsteadOfBeingHeldInTheProxy()
    {
        await using var client = new RawClient(Server, unreadLimit: 64 * 1024);
        await client.ConnectAsync(_database);
        await client.SendAsync(RawClient.Query("SELECT v FROM big /* slow client */"));

        Assert.Equal('T', (await client.Reader.ReadAsync(1 << 20, CancellationToken.None)).TypeChar);
        var row = await client.Reader.ReadAsync(1 << 20, CancellationToken.None);
        Assert.Equal('D', row.TypeChar);
        Assert.Equal(2 + 4 + RowBytes, client.Reader.PendingBody);

        // The client has read nothing of the row: the node waits to send the rest of it (a proxy
        // holding rows whole would have taken all 64 MB off it by now).
        await Eventually.TrueAsync(
            async () => (await NodesWaitingOnTheProxyAsync("slow client")) == 1,
            TimeSpan.FromSeconds(20),
            "one node waits in ClientWrite while the client does not read");

        var body = await ReadBodyAsync(client);
        Assert.Equal(2 + 4 + RowBytes, body.Length);
        Assert.All(body[6..], b => Assert.Equal((byte)'x', b));
        var rest = await client.ReadUntilReadyAsync();
        Assert.Equal(new List<(char Type, string Text)> { ('C', "SELECT 1"), ('Z', "I") }, rest);
    }

    [Fact]
    public async Task ANodeLostInTheMiddleOfALargeRow_ClosesTheClientsConnection_WithNothingAfterTheCutRow()
    {
        await using var client = new RawClient(Server, unreadLimit: 64 * 1024);
        await client.ConnectAsync(_database);
        await client.SendAsync(RawClient.Query("SELECT v FROM big /* cut row */"));
        await client.Reader.ReadAsync(1 << 20, CancellationToken.None);
        Assert.Equal('D', (await client.Reader.ReadAsync(1 << 20, CancellationToken.None)).TypeChar);
        await Eventually.TrueAsync(
            async () => (await NodesWaitingOnTheProxyAsync("cut row")) == 1,
            TimeSpan.FromSeconds(20),
            "one node waits in ClientWrite while the client does not read");

        foreach (var node in proxy.Nodes)
        {
            await node.ExecuteAsync("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%cut row%' AND pid <> pg_backend_pid()");
        }

        // An error message after the cut row would be read as the row's rest: the connection
        // just ends, and every byte the client got is the row's.
        var received = new MemoryStream();
        var error = await Assert.ThrowsAsync<Proxy.Protocol.PgConnectionClosedException>(() => PassBodyAsync(client, received));
        Assert.True(error.MidMessage);
        Assert.True(received.Length < 2 + 4 + RowBytes, $"the row was cut ({received.Length} bytes arrived)");
        Assert.All(received.ToArray()[6..], b => Assert.Equal((byte)'x', b));
        await client.ServerTask.WaitAsync(TimeSpan.FromSeconds(20));

        await using var connection = await proxy.OpenAsync(_database);
        await using var read = new NpgsqlCommand("SELECT length(v) FROM big", connection);
        Assert.Equal(RowBytes, await read.ExecuteScalarAsync());
    }

    [Fact]
    public async Task LargeValues_ComeThroughWhole_InEveryProtocolAndWay()
    {
        await using var connection = await proxy.OpenAsync(_database);
        await using (var write = new NpgsqlCommand("INSERT INTO big VALUES (2, $1) RETURNING v", connection))
        {
            write.Parameters.AddWithValue(new string('y', 3 << 20) + "end");
            Assert.Equal(new string('y', 3 << 20) + "end", await write.ExecuteScalarAsync());
        }

        await using (var read = new NpgsqlCommand("SELECT v FROM big WHERE id = $1", connection))
        {
            read.Parameters.AddWithValue(2);
            Assert.Equal(new string('y', 3 << 20) + "end", await read.ExecuteScalarAsync());
        }

        var notice = new TaskCompletionSource<string>();
        connection.Notice += (_, e) => notice.TrySetResult(e.Notice.MessageText);
        await using (var raise = new NpgsqlCommand("DO $$ BEGIN RAISE NOTICE '%', repeat('n', 2 << 20); END $$", connection))
        {
            await raise.ExecuteNonQueryAsync();
        }

        Assert.Equal(new string('n', 2 << 20), await notice.Task.WaitAsync(TimeSpan.FromSeconds(10)));

        // A query string of megabytes (psql -c would meet the OS's limit for one argument).
        await using (var client = new RawClient(Server))
        {
            await client.ConnectAsync(_database);
            await client.SendAsync(RawClient.Query($"INSERT INTO big VALUES (3, '{new string('w', 2 << 20)}')"));
            Assert.Contains(("C", "INSERT 0 1"), (await client.ReadUntilReadyAsync()).Select(m => (m.Type.ToString(), m.Text)));
        }

        var simple = await proxy.PsqlAsync(_database, "UPDATE big SET v = v || 'z' WHERE id = 2 RETURNING md5(v) || '|' || length(v)");
        var copy = await proxy.PsqlAsync(_database, "COPY (SELECT v FROM big WHERE id = 2) TO STDOUT");
        Assert.Equal(new string('y', 3 << 20) + "endz", copy.EnsureSuccess().StandardOutput.TrimEnd('\n'));
        foreach (var node in proxy.Nodes)
        {
            var direct = await NodeSql.ReadColumnAsync(node, _database, "SELECT md5(v) || '|' || length(v) FROM big WHERE id = 2");
            Assert.Equal(simple.EnsureSuccess().StandardOutput.Split('\n')[0], Assert.Single(direct)); // then the UPDATE 1 tag
            Assert.Equal([$"{2 << 20}"], await NodeSql.ReadColumnAsync(node, _database, "SELECT length(v) FROM big WHERE id = 3 AND v = repeat('w', 2 << 20)"));
        }
    }

    private async Task<int> NodesWaitingOnTheProxyAsync(string marker)
    {
        var waiting = 0;
        foreach (var node in proxy.Nodes)
        {
            var rows = await NodeSql.ReadColumnAsync(node, "postgres", $"SELECT count(*)::text FROM pg_stat_activity WHERE query LIKE '%{marker}%' AND wait_event = 'ClientWrite'");
            waiting += int.Parse(Assert.Single(rows), System.Globalization.CultureInfo.InvariantCulture);
        }

        return waiting;
    }

    private static async Task<byte[]> ReadBodyAsync(RawClient client)
    {
        var received = new MemoryStream();
        await PassBodyAsync(client, received);
        return received.ToArray();
    }

    private static async Task PassBodyAsync(RawClient client, MemoryStream into)
    {
        var pipe = new Pipe();
        var draining = pipe.Reader.CopyToAsync(into);
        try
        {
            await client.Reader.PassBodyAsync(pipe.Writer, CancellationToken.None).AsTask().WaitAsync(TimeSpan.FromSeconds(60));
        }
        finally
        {
            await pipe.Writer.CompleteAsync();
            await draining;
        }
    }
}
