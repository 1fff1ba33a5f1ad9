namespace PgPoolConsole.Api.ControlPlane;

/// <summary>
/// Counts failed logins per client address: after <c>max</c> failures within a minute the
/// address is refused for a minute without its passwords being checked. Thread-safe; bounded.
/// </summary>
public sealed class LoginThrottle(TimeProvider timeProvider)
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private const int MaxTrackedAddresses = 10_000;

    private readonly object _gate = new();
    private readonly Dictionary<string, AddressState> _addresses = new(StringComparer.Ordinal);

    public TimeSpan LockedOutFor(string address)
    {
        var now = timeProvider.GetUtcNow();
        lock (_gate)
        {
            return _addresses.TryGetValue(address, out var state) && state.LockedUntil > now ? state.LockedUntil - now : TimeSpan.Zero;
        }
    }

    /// <summary>Records a failure; returns the failures counted in the window and whether the address is now locked out.</summary>
    public (int Failures, bool LockedOut) RecordFailure(string address, int max)
    {
        var now = timeProvider.GetUtcNow();
        lock (_gate)
        {
            if (!_addresses.TryGetValue(address, out var state))
            {
                Prune(now);
                _addresses[address] = state = new AddressState();
            }

            state.Failures.Enqueue(now);
            while (state.Failures.Peek() <= now - Window)
            {
                state.Failures.Dequeue();
            }

            var count = state.Failures.Count;
            if (count >= max)
            {
                state.LockedUntil = now + Window;
                state.Failures.Clear();
                return (count, true);
            }

            return (count, false);
        }
    }

    public void RecordSuccess(string address)
    {
        lock (_gate)
        {
            _addresses.Remove(address);
        }
    }

    private void Prune(DateTimeOffset now)
    {
        if (_addresses.Count < MaxTrackedAddresses)
        {
            return;
        }

        foreach (var (address, state) in _addresses.ToList())
        {
            if (state.LockedUntil <= now && (state.Failures.Count == 0 || state.Failures.Last() <= now - Window))
            {
                _addresses.Remove(address);
            }
        }
    }

    private sealed class AddressState
    {
        public Queue<DateTimeOffset> Failures { get; } = new();

        public DateTimeOffset LockedUntil { get; set; }
    }
}
