namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// Lets the cluster pause new work at transaction boundaries (online recovery, attaching a node).
/// Sessions call <see cref="WaitWhilePausedAsync"/> before starting work outside a transaction;
/// running transactions are not affected.
/// </summary>
public sealed class SessionGate
{
    private readonly object _gate = new();
    private TaskCompletionSource? _paused;

    public bool IsPaused
    {
        get
        {
            lock (_gate)
            {
                return _paused is not null;
            }
        }
    }

    /// <summary>Closes the gate; returns false when it was already closed.</summary>
    public bool Pause()
    {
        lock (_gate)
        {
            if (_paused is not null)
            {
                return false;
            }

            _paused = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return true;
        }
    }

    public void Resume()
    {
        TaskCompletionSource? paused;
        lock (_gate)
        {
            paused = _paused;
            _paused = null;
        }

        paused?.TrySetResult();
    }

    /// <summary>Completes at once when open; otherwise when <see cref="Resume"/> is called.</summary>
    public Task WaitWhilePausedAsync(CancellationToken cancellationToken)
    {
        Task? wait;
        lock (_gate)
        {
            wait = _paused?.Task;
        }

        return wait is null ? Task.CompletedTask : wait.WaitAsync(cancellationToken);
    }
}
