using Microsoft.Extensions.DependencyInjection;
using PgPoolConsole.Proxy.Sessions;

namespace PgPoolConsole.Tests.Integration;

/// <summary>Pausing at transaction boundaries (attach, online recovery) with clients that keep sending.</summary>
[Collection(ProxyCollection.Name)]
public sealed class PauseTests(ProxyFixture proxy) : IAsyncLifetime
{
    public Task InitializeAsync() => proxy.HealAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    /// <summary>Pauses the cluster until <c>Release</c> is set; <c>Parked</c> gives how many sessions the pause holds.</summary>
    private (Task Pause, TaskCompletionSource<int> Parked, TaskCompletionSource Release) HoldPause()
    {
        var parked = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pause = proxy.Host.Services.GetRequiredService<SessionCoordinator>().RunPausedAsync(async (paused, _) =>
        {
            parked.TrySetResult(paused.SessionCount);
            await release.Task;
        }, TimeSpan.FromSeconds(20), PauseTimeoutAction.Abort, CancellationToken.None);
        return (pause, parked, release);
    }

    [Fact]
    public async Task ClientWhoseNextTransactionIsAlreadyBuffered_IsParkedAtTheBoundary_AndItsWorkRunsAfterTheResume()
    {
        await using var client = new RawClient(proxy.Host.Services.GetRequiredService<ProxyServer>());
        await client.ConnectAsync();
        await client.SendAsync(RawClient.Query("BEGIN"));
        await client.ReadUntilReadyAsync();

        var (pause, parked, release) = HoldPause();

        // The transaction's end and the next transaction arrive together, as from a busy client:
        // the session must park after COMMIT, before starting the buffered work.
        await client.SendAsync([.. RawClient.Query("COMMIT"), .. RawClient.Query("SELECT 'after the pause'")]);
        var commit = await client.ReadUntilReadyAsync();
        Assert.Contains(commit, m => m.Type == 'C' && m.Text == "COMMIT");

        Assert.True(await parked.Task.WaitAsync(TimeSpan.FromSeconds(15)) >= 1, "the session was parked");
        release.SetResult();
        await pause;
        var after = await client.ReadUntilReadyAsync();
        Assert.Contains(after, m => m.Type == 'D' && m.Text.Contains("after the pause", StringComparison.Ordinal));
    }

    [Theory]
    // Connected before the pause and idle at it (so parked): pgbench -C -M prepared prepares on a
    // connection it has just opened with a blocking call, and the pause can start in between.
    [InlineData(true)]
    [InlineData(false)]
    public async Task ClientDuringThePause_PreparesAtOnce_ButItsExecuteWaitsForTheResume(bool connectedBefore)
    {
        await using var client = new RawClient(proxy.Host.Services.GetRequiredService<ProxyServer>());
        if (connectedBefore)
        {
            await client.ConnectAsync();
        }

        var (pause, parked, release) = HoldPause();
        Task<List<(char Type, string Text)>> executed;
        try
        {
            var parkedSessions = await parked.Task.WaitAsync(TimeSpan.FromSeconds(15));
            Assert.True(!connectedBefore || parkedSessions >= 1, "the idle session was parked");

            // pgbench 15 -M prepared: a blocking PQprepare (Parse, Sync) from the thread that drives
            // other clients, whose transactions the pause waits for. It must not wait for the resume.
            if (!connectedBefore)
            {
                await client.ConnectAsync();
            }

            await client.SendAsync([
                .. RawClient.Message('P', RawClient.CString("s1"), RawClient.CString("SELECT $1::int + 1"), RawClient.Int16(0)),
                .. RawClient.Message('D', [(byte)'S'], RawClient.CString("s1")),
                .. RawClient.Message('S')]);
            var prepared = await client.ReadUntilReadyAsync();
            Assert.Equal(['1', 't', 'T', 'Z'], prepared.Select(m => m.Type));

            await client.SendAsync([
                .. RawClient.Message('B', RawClient.CString(""), RawClient.CString("s1"), RawClient.Int16(0), RawClient.Int16(1), RawClient.Int32(1), [(byte)'4'], RawClient.Int16(0)),
                .. RawClient.Message('E', RawClient.CString(""), RawClient.Int32(0)),
                .. RawClient.Message('S')]);
            executed = client.ReadUntilReadyAsync();
            await Task.Delay(TimeSpan.FromMilliseconds(500));
            Assert.False(executed.IsCompleted, "the execution ran while the cluster was paused");
            Assert.False(pause.IsCompleted);
        }
        finally
        {
            release.TrySetResult(); // a failure above must not leave the cluster paused for the next test
        }

        await pause;
        Assert.Contains(await executed, m => m.Type == 'D' && m.Text.EndsWith('5'));
    }
}
