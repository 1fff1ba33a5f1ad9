namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// Commands posted to a session from outside (recovery, attach) that the session runs on its own
/// loop at a transaction boundary. Posting wakes the loop if it is waiting for the client.
/// </summary>
internal sealed class SessionCommands
{
    private readonly object _gate = new();
    private readonly Queue<PostedCommand> _queue = new();
    private TaskCompletionSource _signal = NewSignal();
    private bool _closed;

    public bool HasPending
    {
        get
        {
            lock (_gate)
            {
                return _queue.Count > 0;
            }
        }
    }

    /// <summary>Completes when a command is posted (or the queue is closed).</summary>
    public Task WaitAsync()
    {
        lock (_gate)
        {
            if (_queue.Count > 0 || _closed)
            {
                return Task.CompletedTask;
            }

            if (_signal.Task.IsCompleted)
            {
                _signal = NewSignal();
            }

            return _signal.Task;
        }
    }

    public Task Post(Func<ClientSession, CancellationToken, Task> action, CancellationToken cancellationToken)
    {
        var command = new PostedCommand(action, cancellationToken);
        lock (_gate)
        {
            if (_closed)
            {
                return Task.FromException(new ObjectDisposedException("the session has ended"));
            }

            _queue.Enqueue(command);
            _signal.TrySetResult();
        }

        return command.Completion;
    }

    public bool TryTake(out PostedCommand command)
    {
        lock (_gate)
        {
            return _queue.TryDequeue(out command!);
        }
    }

    /// <summary>Fails every queued command: the session ended before it could run them.</summary>
    public void Close()
    {
        List<PostedCommand> pending;
        lock (_gate)
        {
            _closed = true;
            pending = [.. _queue];
            _queue.Clear();
            _signal.TrySetResult();
        }

        foreach (var command in pending)
        {
            command.Abandon();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

internal sealed class PostedCommand(Func<ClientSession, CancellationToken, Task> action, CancellationToken cancellationToken)
{
    private readonly TaskCompletionSource _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public Task Completion => _completion.Task;

    public async Task RunAsync(ClientSession session, CancellationToken sessionToken)
    {
        if (cancellationToken.IsCancellationRequested)
        {
            _completion.TrySetCanceled(cancellationToken);
            return;
        }

        using var linked = CancellationTokenSource.CreateLinkedTokenSource(sessionToken, cancellationToken);
        try
        {
            await action(session, linked.Token);
            _completion.TrySetResult();
        }
        catch (Exception e)
        {
            _completion.TrySetException(e);
            if (e is SessionTerminatedException)
            {
                throw;
            }
        }
    }

    public void Abandon() => _completion.TrySetException(new ObjectDisposedException("the session ended before the command could run"));
}
