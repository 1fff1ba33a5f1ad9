using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>What to do with transactions still open when a pause times out.</summary>
public enum PauseTimeoutAction
{
    /// <summary>Keep waiting (until the operation is cancelled).</summary>
    Wait,

    /// <summary>End the sessions whose transaction is still open (their transaction rolls back).</summary>
    Cancel,

    /// <summary>Give up: resume traffic and fail the operation.</summary>
    Abort,
}

/// <summary>A pause that could not be reached in time.</summary>
public sealed class PauseTimeoutException(string message) : Exception(message);

/// <summary>The sessions parked at a transaction boundary while the cluster is paused.</summary>
public sealed class PausedCluster
{
    private readonly List<ParkedSession> _sessions;

    internal PausedCluster(List<ParkedSession> sessions, TimeSpan waited)
    {
        _sessions = sessions;
        Waited = waited;
    }

    /// <summary>How long reaching the pause took.</summary>
    public TimeSpan Waited { get; }

    public int SessionCount => _sessions.Count;

    /// <summary>
    /// Connects every parked session to the node and replays its state. Sessions whose state
    /// cannot be replayed are ended with a message saying why; returns their ids.
    /// </summary>
    public async Task<IReadOnlyList<int>> JoinNodeAsync(NodeState node, CancellationToken cancellationToken)
    {
        // Each session joins on its own loop, so they all join at once: the pause lasts one join, not one per session.
        var outcomes = await Task.WhenAll(_sessions.Select(async parked =>
        {
            try
            {
                await parked.RunAsync((session, token) => session.JoinNodeAsync(node, token), cancellationToken);
                return (int?)null;
            }
            catch (SessionStateNotReplayableException e)
            {
                await parked.EndAsync($"terminating connection: node {node.Id} joined the cluster and {e.Message}, which cannot be copied to it", cancellationToken);
                return parked.Session.Id;
            }
            catch (ObjectDisposedException)
            {
                return null; // the session ended meanwhile
            }
        }));

        return [.. outcomes.OfType<int>()];
    }

    /// <summary>
    /// Connects every parked session ahead of time to a node that is still a read-only standby
    /// about to be promoted (see <see cref="ClientSession.PrepareJoinAsync"/>), so that
    /// <see cref="JoinNodeAsync"/> after the promotion only finishes. Never throws.
    /// </summary>
    public Task PrepareJoinAsync(NodeState node, CancellationToken cancellationToken) =>
        Task.WhenAll(_sessions.Select(async parked =>
        {
            try
            {
                await parked.RunAsync((session, token) => session.PrepareJoinAsync(node, token), cancellationToken);
            }
            catch (Exception e) when (e is ObjectDisposedException or OperationCanceledException)
            {
                // the session ended meanwhile, or the pause is over
            }
        }));

    internal IEnumerable<ParkedSession> Sessions => _sessions;
}

/// <summary>A session held at a transaction boundary by a posted command that runs instructions until released.</summary>
internal sealed class ParkedSession
{
    private readonly Channel<(Func<ClientSession, CancellationToken, Task>? Work, TaskCompletionSource Done)> _instructions = Channel.CreateUnbounded<(Func<ClientSession, CancellationToken, Task>?, TaskCompletionSource)>();
    private readonly TaskCompletionSource _arrived = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public ParkedSession(ClientSession session) => Session = session;

    public ClientSession Session { get; }

    public Task Arrived => _arrived.Task;

    /// <summary>
    /// The posted command: signals arrival, then runs instructions until released. A session that
    /// was waiting for its client leaves the park as soon as the client sends something: the
    /// closed gate still holds any transaction it would start, and a client may be blocked on
    /// work the pause allows (pgbench -C -M prepared opens a connection and prepares on it with
    /// blocking calls from the thread that drives its other clients, whose open transactions
    /// the pause waits for). Such a session joins a node at its next boundary instead.
    /// </summary>
    public Task Park(CancellationToken cancellationToken) => Session.RunAtBoundaryAsync(async (session, token) =>
    {
        _arrived.TrySetResult();
        var clientSpoke = session.ClientDataWhileIdle;
        while (true)
        {
            var instruction = _instructions.Reader.WaitToReadAsync(token).AsTask();
            if (clientSpoke is not null && !instruction.IsCompleted)
            {
                await Task.WhenAny(instruction, clientSpoke);
            }

            var leaving = clientSpoke is not null && !instruction.IsCompleted;
            if (leaving)
            {
                _instructions.Writer.TryComplete(); // from now on RunAsync says the session is no longer parked
            }
            else if (!await instruction)
            {
                return;
            }

            while (_instructions.Reader.TryRead(out var next))
            {
                if (!await RunInstructionAsync(session, next, token))
                {
                    return;
                }
            }

            if (leaving)
            {
                await session.DiscardPreparedJoinAsync(); // the session connects at its boundary instead
                return;
            }
        }
    }, cancellationToken);

    /// <summary>Runs one instruction; false once released (the null instruction).</summary>
    private static async Task<bool> RunInstructionAsync(ClientSession session, (Func<ClientSession, CancellationToken, Task>? Work, TaskCompletionSource Done) instruction, CancellationToken cancellationToken)
    {
        var (work, done) = instruction;
        if (work is null)
        {
            await session.DiscardPreparedJoinAsync(); // a join prepared for a recovery that failed
            done.TrySetResult();
            return false;
        }

        try
        {
            await work(session, cancellationToken);
            done.TrySetResult();
        }
        catch (SessionTerminatedException e)
        {
            done.TrySetResult();
            throw new SessionTerminatedException(e.SqlState, e.Message, e.Detail);
        }
        catch (Exception e)
        {
            done.TrySetException(e);
        }

        return true;
    }

    public async Task RunAsync(Func<ClientSession, CancellationToken, Task> work, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        if (!_instructions.Writer.TryWrite((work, done)))
        {
            throw new ObjectDisposedException("the session is no longer parked");
        }

        await done.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Ends the session with a FATAL message (its connections close, nothing is half-applied).</summary>
    public Task EndAsync(string message, CancellationToken cancellationToken) =>
        RunAsync((_, _) => throw new SessionTerminatedException("57P01", message), cancellationToken);

    public void Release()
    {
        _instructions.Writer.TryWrite((null, new TaskCompletionSource()));
        _instructions.Writer.TryComplete();
    }

    public void MarkGone() => _arrived.TrySetResult();
}

/// <summary>
/// Pauses the cluster at transaction boundaries: new transactions wait at the proxy, running
/// transactions finish, every session is held idle; then an action runs (join a node, detach
/// gracefully, the final sync of an online recovery) and traffic resumes. No client is
/// disconnected unless it must be (a session whose transaction outlives the timeout with
/// <see cref="PauseTimeoutAction.Cancel"/>, or one whose state cannot be replayed).
/// </summary>
public sealed partial class SessionCoordinator(ProxyContext context, ILogger<SessionCoordinator> logger)
{
    /// <summary>How often a wait for busy sessions before a pause says whom it waits for.</summary>
    private static readonly TimeSpan BusyReportInterval = TimeSpan.FromSeconds(5);

    private readonly SemaphoreSlim _serial = new(1, 1);

    public bool IsPaused => context.Gate.IsPaused;

    /// <summary>
    /// Before a node joins: while traffic still flows, waits up to <paramref name="timeout"/> for
    /// sessions holding state that cannot be copied to it (temporary tables, WITH HOLD cursors,
    /// session advisory locks) to release it or disconnect, asking each session at its next
    /// transaction boundary, once a second. Returns the sessions that still hold such state
    /// (they are ended when the node joins) with what they hold.
    /// </summary>
    public async Task<IReadOnlyList<(int SessionId, string State)>> WaitForCopyableStateAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.GetTimestamp() + (long)(timeout.TotalSeconds * Stopwatch.Frequency);
        while (true)
        {
            var remaining = TimeSpan.FromSeconds(Math.Max(0, (deadline - Stopwatch.GetTimestamp()) / (double)Stopwatch.Frequency));
            var holders = await FindUncopyableStateAsync(remaining < TimeSpan.FromSeconds(1) ? TimeSpan.FromSeconds(1) : remaining, cancellationToken);
            if (holders.Count == 0 || Stopwatch.GetTimestamp() >= deadline)
            {
                return holders;
            }

            LogWaitingForSessionState(logger, holders.Count, string.Join("; ", holders.Select(h => $"session {h.SessionId}: {h.State}")));
            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
        }
    }

    /// <summary>Asks every session (at its next boundary, within <paramref name="answerWithin"/>) what it holds that cannot be copied.</summary>
    private async Task<List<(int SessionId, string State)>> FindUncopyableStateAsync(TimeSpan answerWithin, CancellationToken cancellationToken)
    {
        var sessions = context.Store.Sessions.List().OfType<ClientSession>().Where(s => s.HasBackends).ToList();
        var questions = sessions.Select(async session =>
        {
            string? state = null;
            try
            {
                await session.RunAtBoundaryAsync(async (s, token) => state = await s.FindUnreplayableStateAsync(token), cancellationToken).WaitAsync(answerWithin, cancellationToken);
            }
            catch (Exception e) when (e is TimeoutException or ObjectDisposedException or SessionTerminatedException)
            {
                // busy in a long transaction, or gone: the pause deals with it
            }

            return (session.Id, state);
        });
        var asked = questions.ToList();
        var answering = Task.WhenAll(asked);
        while (await Task.WhenAny(answering, Task.Delay(BusyReportInterval, context.TimeProvider, cancellationToken)) != answering)
        {
            cancellationToken.ThrowIfCancellationRequested(); // a cancelled delay ends at once: do not spin
            // A long statement or transaction delays the recovery: say whose, so the wait is not silent.
            var now = context.TimeProvider.GetUtcNow();
            var busy = sessions.Where((_, i) => !asked[i].IsCompleted).ToList();
            LogWaitingForBusySessions(logger, busy.Count, string.Join("; ", busy.Select(b =>
                $"session {b.Id} ({b.User}@{b.Database}, {(b.Activity == SessionActivity.IdleInTransaction ? "idle in transaction" : "running")} for {(now - b.LastActivity).TotalSeconds:0} s)")));
        }

        var answers = await answering;
        return [.. answers.Where(a => a.state is not null).Select(a => (a.Id, a.state!))];
    }


    public async Task RunPausedAsync(Func<PausedCluster, CancellationToken, Task> action, TimeSpan timeout, PauseTimeoutAction onTimeout, CancellationToken cancellationToken)
    {
        await _serial.WaitAsync(cancellationToken);
        var parked = new List<ParkedSession>();
        var parkTasks = new List<Task>();
        var started = Stopwatch.GetTimestamp();
        context.Gate.Pause();
        LogPausing(logger, context.Store.Sessions.Count);
        try
        {
            foreach (var session in context.Store.Sessions.List().OfType<ClientSession>().Where(s => s.HasBackends))
            {
                var holder = new ParkedSession(session);
                parked.Add(holder);
                var park = holder.Park(cancellationToken);
                parkTasks.Add(park);
                _ = park.ContinueWith(_ => holder.MarkGone(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            }

            await WaitForArrivalsAsync(parked, timeout, onTimeout, cancellationToken);
            var live = parked.Where(p => !p.Arrived.IsFaulted && parkTasks[parked.IndexOf(p)] is { IsCompleted: false }).ToList();
            var waited = Stopwatch.GetElapsedTime(started);
            LogPaused(logger, live.Count, waited.TotalMilliseconds);
            await action(new PausedCluster(live, waited), cancellationToken);
        }
        finally
        {
            foreach (var holder in parked)
            {
                holder.Release();
            }

            context.Gate.Resume();
            LogResumed(logger, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            _serial.Release();
        }
    }

    /// <summary>
    /// For an online recovery's wait for open transactions: until disposed, ends each session whose
    /// transaction has been idle longer than its client_idle_limit_in_recovery (-1: at once, 0: never),
    /// as pgpool-II ends idle clients in a recovery's second stage. Sessions idle outside a transaction
    /// do not hold a recovery up and stay connected.
    /// </summary>
    internal IAsyncDisposable EndIdleTransactions()
    {
        var stop = new CancellationTokenSource();
        var loop = EndIdleTransactionsAsync(stop.Token);
        return new AsyncStop(stop, loop);
    }

    private async Task EndIdleTransactionsAsync(CancellationToken cancellationToken)
    {
        var ended = new HashSet<int>();
        try
        {
            while (true)
            {
                var now = context.TimeProvider.GetUtcNow();
                foreach (var session in context.Store.Sessions.List().OfType<ClientSession>().Where(s => !ended.Contains(s.Id)))
                {
                    var limit = session.Settings.ClientIdleLimitInRecovery;
                    if (limit == 0 || session.Activity != SessionActivity.IdleInTransaction || now - session.LastActivity < TimeSpan.FromSeconds(Math.Max(limit, 0)))
                    {
                        continue;
                    }

                    ended.Add(session.Id);
                    LogEndingIdleTransaction(logger, session.Id, limit);
                    await session.TerminateAsync(
                        $"terminating connection due to client_idle_limit_in_recovery ({limit} s): its transaction was idle while online recovery waited for every transaction to end; the transaction is rolled back",
                        cancellationToken);
                }

                await Task.Delay(TimeSpan.FromMilliseconds(250), context.TimeProvider, cancellationToken);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // the recovery is past its wait
        }
    }

    private sealed class AsyncStop(CancellationTokenSource stop, Task loop) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await stop.CancelAsync();
            await loop;
            stop.Dispose();
        }
    }

    private async Task WaitForArrivalsAsync(List<ParkedSession> parked, TimeSpan timeout, PauseTimeoutAction onTimeout, CancellationToken cancellationToken)
    {
        var all = Task.WhenAll(parked.Select(p => p.Arrived));
        if (timeout <= TimeSpan.Zero || onTimeout == PauseTimeoutAction.Wait)
        {
            await all.WaitAsync(cancellationToken);
            return;
        }

        try
        {
            await all.WaitAsync(timeout, cancellationToken);
            return;
        }
        catch (TimeoutException)
        {
            // handled below
        }

        var laggards = parked.Where(p => !p.Arrived.IsCompleted).ToList();
        var ids = string.Join(", ", laggards.Select(p => p.Session.Id));
        if (onTimeout == PauseTimeoutAction.Abort)
        {
            throw new PauseTimeoutException($"{laggards.Count} session(s) ({ids}) did not reach a transaction boundary within {timeout.TotalSeconds:0} s");
        }

        LogEndingLaggards(logger, laggards.Count, ids);
        foreach (var laggard in laggards)
        {
            await laggard.Session.TerminateAsync("terminating connection: its transaction stayed open past recovery_timeout while the cluster was paused", cancellationToken);
        }

        await all.WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
    }

    [LoggerMessage(EventId = 7001, Level = LogLevel.Information, Message = "pausing: new transactions wait; waiting for {Sessions} session(s) to reach a transaction boundary")]
    private static partial void LogPausing(ILogger logger, int sessions);

    [LoggerMessage(EventId = 7002, Level = LogLevel.Information, Message = "paused: {Sessions} session(s) held at a transaction boundary after {Milliseconds:0} ms")]
    private static partial void LogPaused(ILogger logger, int sessions, double milliseconds);

    [LoggerMessage(EventId = 7003, Level = LogLevel.Information, Message = "resumed traffic after a pause of {Milliseconds:0} ms")]
    private static partial void LogResumed(ILogger logger, double milliseconds);

    [LoggerMessage(EventId = 7006, Level = LogLevel.Warning, Message = "ending session {Id}: its transaction was idle longer than client_idle_limit_in_recovery ({Limit} s) while online recovery waited for it")]
    private static partial void LogEndingIdleTransaction(ILogger logger, int id, int limit);

    [LoggerMessage(EventId = 7005, Level = LogLevel.Information, Message = "waiting for {Count} session(s) to release state that cannot be copied to a joining node: {Sessions}")]
    private static partial void LogWaitingForSessionState(ILogger logger, int count, string sessions);

    [LoggerMessage(EventId = 7007, Level = LogLevel.Information, Message = "waiting for {Count} session(s) to reach a transaction boundary before traffic is paused: {Sessions}")]
    private static partial void LogWaitingForBusySessions(ILogger logger, int count, string sessions);

    [LoggerMessage(EventId = 7004, Level = LogLevel.Warning, Message = "ending {Count} session(s) whose transaction outlived the pause timeout: {Ids}")]
    private static partial void LogEndingLaggards(ILogger logger, int count, string ids);
}
