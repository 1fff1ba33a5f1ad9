using Microsoft.Extensions.DependencyInjection;
using PgPoolConsole.Proxy.Sessions;

namespace PgPoolConsole.Tests.Integration;

/// <summary>Pausing at transaction boundaries (attach, online recovery) with clients that keep sending.</summary>
[Collection(ProxyCollection.Name)]
public sealed class PauseTests(ProxyFixture proxy) : IAsyncLifetime
{
    public Task InitializeAsync() => proxy.HealAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    [Fact]
    public async Task ClientWhoseNextTransactionIsAlreadyBuffered_IsParkedAtTheBoundary_AndItsWorkRunsAfterTheResume()
    {
        var coordinator = proxy.Host.Services.GetRequiredService<SessionCoordinator>();
        await using var client = new RawClient(proxy.Host.Services.GetRequiredService<ProxyServer>());
        await client.ConnectAsync();
        await client.SendAsync(RawClient.Query("BEGIN"));
        await client.ReadUntilReadyAsync();

        var parked = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var pause = coordinator.RunPausedAsync(async (paused, _) =>
        {
            parked.TrySetResult(paused.SessionCount);
            await release.Task;
        }, TimeSpan.FromSeconds(20), PauseTimeoutAction.Abort, CancellationToken.None);

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
}
