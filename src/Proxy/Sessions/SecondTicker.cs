namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// One shared tick a second for "has this taken about a second yet?" on hot paths. A timer of
/// its own per replicated write (Task.Delay) cost the write two futex calls and a wake of the
/// runtime's timer thread, for a check that almost never fires.
/// </summary>
public sealed class SecondTicker : IDisposable
{
    private static readonly Lazy<SecondTicker> SystemTicker = new(() => new SecondTicker(TimeProvider.System));

    private readonly ITimer _timer;
    private TaskCompletionSource _next = NewTick();

    public SecondTicker(TimeProvider timeProvider)
    {
        _timer = timeProvider.CreateTimer(_ => Tick(), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
    }

    /// <summary>The process-wide ticker on the system clock (its timer lives as long as the process).</summary>
    public static SecondTicker System => SystemTicker.Value;

    /// <summary>Completes at the next tick: anywhere from now to one second from now.</summary>
    public Task NextTick => Volatile.Read(ref _next).Task;

    /// <summary>
    /// Completes when <paramref name="work"/> does (true) or once at least one whole second has
    /// passed (false): it waits for the tick after the next one.
    /// </summary>
    public async ValueTask<bool> CompletesWithinASecondAsync(Task work)
    {
        if (work.IsCompleted)
        {
            return true;
        }

        for (var ticks = 0; ticks < 2; ticks++)
        {
            if (await Task.WhenAny(work, NextTick) == work)
            {
                return true;
            }
        }

        return false;
    }

    // Waiters resume on the thread pool, not on the timer's thread.
    private static TaskCompletionSource NewTick() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private void Tick() => Interlocked.Exchange(ref _next, NewTick()).TrySetResult();

    /// <summary>Stops the ticks (the process-wide one is never stopped).</summary>
    public void Dispose() => _timer.Dispose();
}
