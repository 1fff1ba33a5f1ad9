using System.Runtime.CompilerServices;
using System.Threading.Channels;

namespace PgPoolConsole.WebUi.Model;

/// <summary>
/// A snapshot of some state plus the changes after it, as in the Aspire dashboard's
/// subscriptions. The feed is subscribed to before the snapshot is read, so nothing published
/// in between is missed; changes the snapshot already contains are dropped by
/// <c>isNew</c> (by version or sequence number). Dispose to unsubscribe.
/// </summary>
public sealed class LiveSubscription<TSnapshot, TChange> : IDisposable
{
    private readonly IDisposable _subscription;
    private readonly ChannelReader<TChange> _reader;
    private readonly Func<TChange, bool> _isNew;

    public LiveSubscription(IDisposable subscription, ChannelReader<TChange> reader, TSnapshot snapshot, Func<TChange, bool> isNew)
    {
        _subscription = subscription;
        _reader = reader;
        _isNew = isNew;
        Snapshot = snapshot;
    }

    /// <summary>The state when the subscription started.</summary>
    public TSnapshot Snapshot { get; }

    /// <summary>Every change after the snapshot, one by one, as it happens.</summary>
    public async IAsyncEnumerable<TChange> ReadAllAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await foreach (var change in _reader.ReadAllAsync(cancellationToken))
        {
            if (_isNew(change))
            {
                yield return change;
            }
        }
    }

    /// <summary>
    /// The changes in batches: after the first change arrives, waits <paramref name="window"/>
    /// and hands over everything that came meanwhile, so a burst makes one render, not hundreds.
    /// </summary>
    public async IAsyncEnumerable<IReadOnlyList<TChange>> ReadBatchesAsync(TimeSpan window, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        while (await _reader.WaitToReadAsync(cancellationToken))
        {
            await Task.Delay(window, cancellationToken);
            var batch = new List<TChange>();
            while (_reader.TryRead(out var change))
            {
                if (_isNew(change))
                {
                    batch.Add(change);
                }
            }

            if (batch.Count > 0)
            {
                yield return batch;
            }
        }
    }

    public void Dispose() => _subscription.Dispose();
}
