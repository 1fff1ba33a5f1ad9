using Microsoft.Extensions.DependencyInjection;
using PgPoolConsole.Proxy.Sessions;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

/// <summary>
/// What clients send that drivers never would, over in-memory pipes to the real proxy engine
/// with real backends: each case gets a clear error, and the proxy keeps serving.
/// </summary>
[Collection(ProxyCollection.Name)]
public sealed class ProtocolEdgeCaseTests(ProxyFixture proxy) : IAsyncLifetime
{
    private ProxyServer Server => proxy.Host.Services.GetRequiredService<ProxyServer>();

    public Task InitializeAsync() => proxy.HealAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task AssertProxyStillServesAsync()
    {
        await using var client = new RawClient(Server);
        await client.ConnectAsync();
        await client.SendAsync(RawClient.Query("SELECT 'still serving'"));
        var reply = await client.ReadUntilReadyAsync();
        Assert.Contains(reply, m => m.Type == 'D' && m.Text.Contains("still serving", StringComparison.Ordinal));
    }

    [Fact]
    public async Task MessageSplitIntoSingleBytes_IsAnsweredNormally()
    {
        await using var client = new RawClient(Server);
        var startup = await client.ConnectAsync();
        Assert.Equal('Z', startup[^1].Type);

        foreach (var b in RawClient.Query("SELECT 6 * 7"))
        {
            await client.SendAsync([b]);
            await Task.Yield();
        }

        var reply = await client.ReadUntilReadyAsync();
        Assert.Contains(reply, m => m.Type == 'D' && m.Text.EndsWith("42", StringComparison.Ordinal));
        Assert.Equal(('Z', "I"), reply[^1]);
    }

    [Fact]
    public async Task SeveralQueriesInOneWrite_AreAnsweredInOrder()
    {
        await using var client = new RawClient(Server);
        await client.ConnectAsync();
        await client.SendAsync([.. RawClient.Query("SELECT 'first'"), .. RawClient.Query("SELECT 'second'"), .. RawClient.Query("SELECT 'third'")]);

        foreach (var expected in new[] { "first", "second", "third" })
        {
            var reply = await client.ReadUntilReadyAsync();
            Assert.Contains(reply, m => m.Type == 'D' && m.Text.Contains(expected, StringComparison.Ordinal));
        }
    }

    [Fact]
    public async Task PipelinedExtendedQueries_AreAnsweredInOrder()
    {
        await using var client = new RawClient(Server);
        await client.ConnectAsync();
        var batch = new List<byte>();
        for (var i = 1; i <= 3; i++)
        {
            batch.AddRange(RawClient.Message('P', RawClient.CString(""), RawClient.CString($"SELECT {i} * $1::int"), RawClient.Int16(0)));
            batch.AddRange(RawClient.Message('B', RawClient.CString(""), RawClient.CString(""), RawClient.Int16(0), RawClient.Int16(1), RawClient.Int32(2), [.. "10"u8], RawClient.Int16(0)));
            batch.AddRange(RawClient.Message('E', RawClient.CString(""), RawClient.Int32(0)));
            batch.AddRange(RawClient.Message('S'));
        }

        await client.SendAsync([.. batch]);
        foreach (var expected in new[] { "10", "20", "30" })
        {
            var reply = await client.ReadUntilReadyAsync();
            Assert.Equal(['1', '2', 'D', 'C', 'Z'], reply.Select(m => m.Type));
            Assert.EndsWith(expected, reply[2].Text, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task OversizedLengthField_GetsFatalProtocolError_AndTheProxyKeepsServing()
    {
        await using (var client = new RawClient(Server))
        {
            await client.ConnectAsync();
            await client.SendAsync([(byte)'Q', 0x7f, 0xff, 0xff, 0xff]);

            var reply = await client.ReadUntilReadyAsync();
            var error = Assert.Single(reply);
            Assert.Equal('E', error.Type);
            Assert.StartsWith("FATAL 08P01 message of type \"Q\" from client is 2147483647 bytes long", error.Text);
            await client.ServerTask.WaitAsync(TimeSpan.FromSeconds(10));
        }

        await AssertProxyStillServesAsync();
    }

    [Fact]
    public async Task UnknownMessageType_GetsFatalProtocolError()
    {
        await using var client = new RawClient(Server);
        await client.ConnectAsync();
        await client.SendAsync(RawClient.Message('@', RawClient.CString("?")));

        var reply = await client.ReadUntilReadyAsync();
        Assert.Equal(('E', "FATAL 08P01 invalid frontend message type @"), Assert.Single(reply));
        await client.ServerTask.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task ClientDisconnectingMidMessage_EndsOnlyItsSession()
    {
        var before = proxy.Host.Store.Sessions.Count;
        await using (var client = new RawClient(Server))
        {
            await client.ConnectAsync();
            Assert.Equal(before + 1, proxy.Host.Store.Sessions.Count);
            var query = RawClient.Query("SELECT 'never finished'");
            await client.SendAsync(query[..7]);
            client.CloseSending();
            await client.ServerTask.WaitAsync(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(before, proxy.Host.Store.Sessions.Count);
        await AssertProxyStillServesAsync();
    }

    /// <summary>Connects to <paramref name="database"/>, starts something, then leaves as <paramref name="leave"/> says; returns the session's pid.</summary>
    private async Task<int> LeaveMidwayAsync(string database, Func<RawClient, Task> start, Action<RawClient> leave)
    {
        await using var client = new RawClient(Server);
        await client.ConnectAsync(database);
        var pid = proxy.Host.Store.Sessions.List().Single(s => s.Database == database).Id;
        await start(client);
        leave(client);
        await client.ServerTask.WaitAsync(TimeSpan.FromSeconds(10));
        return pid;
    }

    private static Func<RawClient, Task> OpenTransactionAsync(int id) => async client =>
    {
        await client.SendAsync(RawClient.Query($"BEGIN; INSERT INTO t VALUES ({id})"));
        Assert.Equal("T", (await client.ReadUntilReadyAsync())[^1].Text);
    };

    [Fact]
    public async Task ClientGoneMidCopyOrMidTransaction_NothingOfItIsKept_AndTheLogSaysSo()
    {
        var database = await proxy.CreateDatabaseAsync("clientgone");
        (await proxy.PsqlAsync(database, "CREATE TABLE t (id int)")).EnsureSuccess();
        var copyPid = await LeaveMidwayAsync(database, async client =>
        {
            await client.SendAsync(RawClient.Query("COPY t FROM STDIN"));
            Assert.Equal('G', Assert.Single(await client.ReadUntilAsync('G')).Type);
            await client.SendAsync(RawClient.Message('d', [.. "1\n2\n"u8]));
        }, client => client.CloseSending());
        var transactionPid = await LeaveMidwayAsync(database, OpenTransactionAsync(3), client => client.CloseSending());
        var resetPid = await LeaveMidwayAsync(database, OpenTransactionAsync(4), client => client.Reset());

        var log = proxy.Host.Store.Log.Query(text: "disconnected");
        Assert.Contains(log, e => e.Pid == resetPid && e.Message == "client disconnected (Connection reset by peer) with an open transaction; it is rolled back on every node");
        Assert.Contains(log, e => e.Pid == copyPid && e.Message == "client disconnected during COPY FROM STDIN; the COPY is aborted on every node");
        Assert.Contains(log, e => e.Pid == transactionPid && e.Message == "client disconnected without Terminate with an open transaction; it is rolled back on every node");
        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(["0"], await NodeSql.ReadColumnAsync(node, database, "SELECT count(*)::text FROM t"));
        }

        await AssertProxyStillServesAsync();
    }

    [Fact]
    public async Task QueryWithoutItsTerminatingZero_GetsFatalErrorNamingIt_AndTheProxyKeepsServing()
    {
        await using (var client = new RawClient(Server))
        {
            await client.ConnectAsync();
            await client.SendAsync(RawClient.Message('Q', [.. "SELECT 1"u8]));

            var reply = await client.ReadUntilReadyAsync();
            Assert.Equal("FATAL 08P01 invalid \"Q\" message: unterminated string", Assert.Single(reply).Text);
        }

        await AssertProxyStillServesAsync();
    }

    [Fact]
    public async Task GarbageInsteadOfStartupPacket_GetsFatalError()
    {
        await using var client = new RawClient(Server);
        await client.SendAsync([0x47, 0x45, 0x54, 0x20, 0x2f, 0x20, 0x48, 0x54]); // "GET / HT"

        var reply = await client.ReadUntilReadyAsync();
        var error = Assert.Single(reply);
        Assert.StartsWith("FATAL 08P01 invalid length of startup packet", error.Text);
    }

    [Fact]
    public async Task UnknownDatabase_IsRefusedWithThePostgresError()
    {
        await using var client = new RawClient(Server);
        var reply = await client.ConnectAsync("no_such_database");

        Assert.Equal(('E', "FATAL 3D000 database \"no_such_database\" does not exist"), Assert.Single(reply));
    }

    [Fact]
    public async Task EmptyQuery_GetsEmptyQueryResponse()
    {
        await using var client = new RawClient(Server);
        await client.ConnectAsync();
        await client.SendAsync(RawClient.Query("  ;  "));

        var reply = await client.ReadUntilReadyAsync();
        Assert.Equal(['I', 'Z'], reply.Select(m => m.Type));
    }
}
