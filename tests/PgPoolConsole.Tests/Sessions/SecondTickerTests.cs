using Microsoft.Extensions.Time.Testing;
using PgPoolConsole.Proxy.Sessions;

namespace PgPoolConsole.Tests.Sessions;

public sealed class SecondTickerTests
{
    private readonly FakeTimeProvider _time = new();

    [Fact]
    public async Task WorkThatEndsBeforeTheSecondTick_CompletesWithinASecond()
    {
        using var ticker = new SecondTicker(_time);
        var work = new TaskCompletionSource();
        var waiting = ticker.CompletesWithinASecondAsync(work.Task).AsTask();

        _time.Advance(TimeSpan.FromSeconds(1)); // the first tick may come at once: not yet a second
        work.SetResult();

        Assert.True(await waiting);
    }

    [Fact]
    public async Task WorkStillRunningAtTheSecondTick_DoesNot()
    {
        using var ticker = new SecondTicker(_time);
        var work = new TaskCompletionSource();
        var waiting = ticker.CompletesWithinASecondAsync(work.Task).AsTask();

        var ticks = 0;
        while (!waiting.IsCompleted && ticks < 10)
        {
            _time.Advance(TimeSpan.FromSeconds(1));
            ticks++;
            await Task.Delay(50); // the waiter resumes on the thread pool and waits for the next tick
        }

        Assert.False(await waiting);
        Assert.True(ticks >= 2, $"gave up after {ticks} tick(s)");
    }

    [Fact]
    public async Task FinishedWork_AnswersAtOnce()
    {
        using var ticker = new SecondTicker(_time);

        Assert.True(await ticker.CompletesWithinASecondAsync(Task.CompletedTask));
    }
}
