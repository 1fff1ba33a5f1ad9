using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using PgPoolConsole.Proxy.Pcp;

namespace PgPoolConsole.Tests.Pcp;

/// <summary>
/// Bad input on the PCP port over raw TCP: wrong lengths, unknown packet types, requests before
/// authentication, garbage, silent and slow clients. Each gets a clear error and a closed
/// connection (or, where pgpool keeps it, an error and a working connection), and afterwards the
/// product still answers the stock pcp_node_info.
/// </summary>
[Collection(PcpCollection.Name)]
public sealed class PcpRobustnessTests(PcpFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan ShortIdleTimeout = TimeSpan.FromSeconds(2);

    private PcpServer Server => fixture.Host.Services.GetRequiredService<PcpServer>();

    public async Task InitializeAsync()
    {
        await fixture.HealAsync();
        Server.IdleTimeout = ShortIdleTimeout;
    }

    /// <summary>After every case: the stock pcp_node_info still gets its answer, and every node is still attached.</summary>
    public async Task DisposeAsync()
    {
        Server.IdleTimeout = PcpServer.DefaultIdleTimeout;
        await AssertProductUnharmedAsync();
    }

    private Task<RawPcpConnection> OpenAsync() => RawPcpConnection.OpenAsync(fixture.PcpPort);

    private async Task<RawPcpConnection> OpenAuthenticatedAsync()
    {
        var connection = await OpenAsync();
        var reply = await connection.AuthenticateAsync(PcpFixture.User, PcpFixture.PcpPassword);
        Assert.NotNull(reply);
        Assert.Equal('r', reply.Type);
        Assert.Equal(["AuthenticationOK"], reply.Strings());
        return connection;
    }

    private async Task AssertProductUnharmedAsync()
    {
        var result = await fixture.ToolAsync("pcp_node_info", "-n", "0");
        Assert.Equal("", result.StandardError);
        Assert.Matches(@"^127\.0\.0\.1 \d+ [12] 0\.500000 ", result.StandardOutput);
        Assert.All(fixture.Host.Store.Current.Nodes, node => Assert.True(node.IsUsable));
    }

    private static void AssertError(PcpError error, string severity, string message, string? detail)
    {
        Assert.Equal(severity, error.Severity);
        Assert.Equal(message, error.Message);
        Assert.Equal(detail, error.Detail);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(3)]
    [InlineData(260)]
    [InlineData(100_000)]
    [InlineData(int.MaxValue)]
    public async Task WrongLength_IsRefusedAndTheConnectionClosed(int length)
    {
        await using var connection = await OpenAsync();

        await connection.SendAsync(RawPcpConnection.Header('M', length));

        AssertError(await connection.ReadErrorAsync(), "FATAL", "invalid PCP packet", $"incorrect packet length ({length})");
        await connection.AssertClosedAsync();
    }

    [Fact]
    public async Task WrongLength_AfterAuthentication_IsRefusedToo()
    {
        await using var connection = await OpenAuthenticatedAsync();

        await connection.SendAsync(RawPcpConnection.Header('I', 4096));

        AssertError(await connection.ReadErrorAsync(), "FATAL", "invalid PCP packet", "incorrect packet length (4096)");
        await connection.AssertClosedAsync();
    }

    [Fact]
    public async Task LongestAllowedPacket_IsRead()
    {
        await using var connection = await OpenAuthenticatedAsync();

        // 259 is the largest length pgpool accepts: a node id of 254 characters is read, then refused as an id.
        var id = new string('9', 254);
        await connection.SendAsync(RawPcpConnection.Packet('I', RawPcpConnection.Text(id)));

        AssertError(await connection.ReadErrorAsync(), "ERROR", "informing node info failed", $"invalid node ID : {id}");
        await connection.SendAsync(RawPcpConnection.Packet('L'));
        var count = await connection.ReadAsync();
        Assert.Equal(["CommandComplete", "2"], count!.Strings());
    }

    [Theory]
    [InlineData('Q')]
    [InlineData('A')]
    [InlineData('\0')]
    [InlineData('\xff')]
    public async Task UnknownPacketType_AfterAuthentication_IsRefusedAndTheConnectionClosed(char type)
    {
        await using var connection = await OpenAuthenticatedAsync();

        await connection.SendAsync(RawPcpConnection.Packet(type, RawPcpConnection.Text("1")));

        var printable = type is >= ' ' and < (char)0x7f ? type.ToString() : $"\\x{(int)type:x2}";
        AssertError(await connection.ReadErrorAsync(), "FATAL", "PCP processing request", $"unknown PCP packet type \"{printable}\"");
        await connection.AssertClosedAsync();
    }

    [Theory]
    [InlineData('L')]
    [InlineData('I')]
    [InlineData('T')]
    [InlineData('O')]
    [InlineData('Q')]
    public async Task RequestBeforeAuthentication_IsRefusedAndTheConnectionClosed(char type)
    {
        await using var connection = await OpenAsync();

        await connection.SendAsync(RawPcpConnection.Packet(type, RawPcpConnection.Text(type == 'T' ? "f" : "0")));

        AssertError(await connection.ReadErrorAsync(), "FATAL", "authentication failed for new PCP connection", "connection not authorized");
        await connection.AssertClosedAsync();
    }

    [Fact]
    public async Task AuthenticationWithoutSaltRequest_IsRefused()
    {
        await using var connection = await OpenAsync();

        await connection.SendAsync(RawPcpConnection.Packet('R', RawPcpConnection.AuthenticationPayload("postgres", "postgres", [1, 2, 3, 4])));

        AssertError(await connection.ReadErrorAsync(), "FATAL", "authentication failed", "username and/or password does not match");
        await connection.AssertClosedAsync();
    }

    [Fact]
    public async Task Salt_IsSingleUse()
    {
        await using var connection = await OpenAsync();
        await connection.SendAsync(RawPcpConnection.Packet('M'));
        var salt = (await connection.ReadAsync())!.Payload;
        var response = RawPcpConnection.Packet('R', RawPcpConnection.AuthenticationPayload("postgres", "postgres", salt));

        await connection.SendAsync(response);
        Assert.Equal('r', (await connection.ReadAsync())!.Type);
        await connection.SendAsync(response);

        AssertError(await connection.ReadErrorAsync(), "FATAL", "authentication failed", "username and/or password does not match");
        await connection.AssertClosedAsync();
    }

    [Fact]
    public async Task MalformedAuthenticationPacket_IsRefused()
    {
        await using var connection = await OpenAsync();
        await connection.SendAsync(RawPcpConnection.Packet('M'));
        Assert.Equal('m', (await connection.ReadAsync())!.Type);

        await connection.SendAsync(RawPcpConnection.Packet('R', "postgres"u8.ToArray())); // no NUL, no response

        AssertError(await connection.ReadErrorAsync(), "FATAL", "failed to authenticate PCP user", "error while reading authentication packet");
        await connection.AssertClosedAsync();
    }

    [Fact]
    public async Task Garbage_IsRefusedAndTheConnectionClosed()
    {
        await using var connection = await OpenAsync();
        var garbage = new byte[4096];
        new Random(7).NextBytes(garbage);
        garbage[0] = (byte)'G';

        await connection.SendAsync(garbage);

        var error = await connection.ReadErrorAsync();
        Assert.Equal("FATAL", error.Severity);
        await connection.AssertClosedAsync();
    }

    [Fact]
    public async Task HttpRequest_IsRefusedAndTheConnectionClosed()
    {
        await using var connection = await OpenAsync();

        await connection.SendAsync("GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"u8.ToArray());

        // 'G' then the length word "ET /" = 0x4554202F: far too long.
        AssertError(await connection.ReadErrorAsync(), "FATAL", "invalid PCP packet", $"incorrect packet length ({0x4554202F})");
        await connection.AssertClosedAsync();
    }

    [Fact]
    public async Task SilentClient_IsToldItTimedOutAndDisconnected()
    {
        await using var connection = await OpenAsync();
        var watch = Stopwatch.StartNew();

        var error = await connection.ReadErrorAsync();

        AssertError(error, "FATAL", "PCP connection timed out", "no complete request received within 2 seconds");
        await connection.AssertClosedAsync();
        Assert.InRange(watch.Elapsed, ShortIdleTimeout - TimeSpan.FromMilliseconds(100), ShortIdleTimeout + TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task SilentClient_AfterAuthentication_IsDisconnectedToo()
    {
        await using var connection = await OpenAuthenticatedAsync();

        AssertError(await connection.ReadErrorAsync(), "FATAL", "PCP connection timed out", "no complete request received within 2 seconds");
        await connection.AssertClosedAsync();
    }

    [Fact]
    public async Task ManySilentClients_AreAllDisconnected_WhileOthersAreServed()
    {
        var connections = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => OpenAsync()));
        try
        {
            await AssertProductUnharmedAsync(); // while all 50 wait for their timeout
            foreach (var connection in connections)
            {
                Assert.Equal("PCP connection timed out", (await connection.ReadErrorAsync()).Message);
                await connection.AssertClosedAsync();
            }
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task SlowClient_SendingByteByByte_IsServed()
    {
        // Every packet arrives in one-byte pieces; the 47-byte 'R' takes about 1 s at this pace, more on
        // a loaded machine, so this case gets a limit that only a stuck server would reach.
        Server.IdleTimeout = TimeSpan.FromSeconds(30);
        await using var connection = await OpenAsync();
        var gap = TimeSpan.FromMilliseconds(20);

        await connection.TrickleAsync(RawPcpConnection.Packet('M'), gap);
        var salt = await connection.ReadAsync();
        await connection.TrickleAsync(RawPcpConnection.Packet('R', RawPcpConnection.AuthenticationPayload("postgres", "postgres", salt!.Payload)), gap);
        Assert.Equal('r', (await connection.ReadAsync())!.Type);
        await connection.TrickleAsync(RawPcpConnection.Packet('I', RawPcpConnection.Text("1")), gap);

        Assert.Equal(["ArraySize", "1"], (await connection.ReadAsync())!.Strings());
        var node = (await connection.ReadAsync())!.Strings();
        Assert.Equal("NodeInfo", node[0]);
        Assert.Equal(fixture.Nodes[1].Port.ToString(System.Globalization.CultureInfo.InvariantCulture), node[2]);
        Assert.Equal(["CommandComplete"], (await connection.ReadAsync())!.Strings());
        await connection.TrickleAsync(RawPcpConnection.Packet('X'), gap);
        await connection.AssertClosedAsync();
    }

    [Fact]
    public async Task TricklingClient_SlowerThanTheLimit_IsDisconnected()
    {
        await using var connection = await OpenAuthenticatedAsync();
        var packet = RawPcpConnection.Packet('I', RawPcpConnection.Text("-1"));

        // One byte every 700 ms: the 8-byte packet would take 5.6 s, the limit for a packet is 2 s.
        var sending = connection.TrickleAsync(packet, TimeSpan.FromMilliseconds(700));

        AssertError(await connection.ReadErrorAsync(), "FATAL", "PCP connection timed out", "no complete request received within 2 seconds");
        await connection.AssertClosedAsync();
        try
        {
            await sending;
        }
        catch (IOException)
        {
            // the server closed the connection under the trickle
        }
    }

    [Fact]
    public async Task ClientThatNeverReadsItsReplies_IsDisconnected()
    {
        await using var connection = await OpenAuthenticatedAsync();
        var burst = Enumerable.Repeat(RawPcpConnection.Packet('B'), 1000).SelectMany(p => p).ToArray(); // each reply is kilobytes

        // The replies back up, the server stops reading while it waits for them to go, gives up after
        // the 2 s limit and aborts the connection: our writes fail. Were the connection left open they
        // would block until the token cancels them, which fails the test (not an IOException).
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await Assert.ThrowsAnyAsync<IOException>(async () =>
        {
            while (true)
            {
                await connection.SendAsync(burst, limit.Token);
            }
        });
    }

    [Fact]
    public async Task ClientClosingMidPacket_LeavesTheProductUnharmed()
    {
        var connection = await OpenAuthenticatedAsync();
        await connection.SendAsync([.. RawPcpConnection.Header('I', 7), (byte)'-']);

        await connection.DisposeAsync(); // DisposeAsync of the test then checks the product
    }

    [Fact]
    public async Task InvalidShutdownMode_IsAnErrorAndTheConnectionStaysUsable()
    {
        await using var connection = await OpenAuthenticatedAsync();

        await connection.SendAsync(RawPcpConnection.Packet('T', (byte)'x'));
        AssertError(await connection.ReadErrorAsync(), "ERROR", "PCP: error while processing shutdown request", "invalid shutdown mode \"x\"");
        await connection.SendAsync(RawPcpConnection.Packet('T'));
        AssertError(await connection.ReadErrorAsync(), "ERROR", "PCP: error while processing shutdown request", "invalid shutdown mode \"\"");

        await connection.SendAsync(RawPcpConnection.Packet('L'));
        Assert.Equal(["CommandComplete", "2"], (await connection.ReadAsync())!.Strings());
        Assert.False(fixture.Host.App.Lifetime.ApplicationStopping.IsCancellationRequested);
    }

    [Fact]
    public async Task StopRecoveryRequest_GetsNoReply_AndTheNextRequestIsAnswered()
    {
        await using var connection = await OpenAuthenticatedAsync();

        await connection.SendAsync([.. RawPcpConnection.Packet('F'), .. RawPcpConnection.Packet('L')]);

        Assert.Equal(["CommandComplete", "2"], (await connection.ReadAsync())!.Strings());
    }

    [Fact]
    public async Task SeveralRequestsInOneWrite_AreAnsweredInOrder()
    {
        await using var connection = await OpenAuthenticatedAsync();

        await connection.SendAsync([.. RawPcpConnection.Packet('L'), .. RawPcpConnection.Packet('H', RawPcpConnection.Text("0")), .. RawPcpConnection.Packet('W', RawPcpConnection.Text("-1"))]);

        Assert.Equal('l', (await connection.ReadAsync())!.Type);
        var health = (await connection.ReadAsync())!;
        Assert.Equal('h', health.Type);
        Assert.Equal(21, health.Strings().Count);
        AssertError(await connection.ReadErrorAsync(), "ERROR", "PCP: informing watchdog info failed", "watchdog is not enabled");
    }
}
