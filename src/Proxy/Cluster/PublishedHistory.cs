using System.Collections.Immutable;

namespace PgPoolConsole.Proxy.Cluster;

/// <summary>
/// The latest runs of a background operation (recoveries, consistency checks), newest first,
/// each replaced in place as it progresses and published to a live feed. Bounded: the oldest
/// runs drop out.
/// </summary>
public abstract class PublishedHistory<T>(Func<T, string> idOf, int capacity)
    where T : class
{
    private readonly object _gate = new();
    private ImmutableList<T> _all = [];

    public ChangeFeed<T> Changes { get; } = new(256);

    public IReadOnlyList<T> All => Volatile.Read(ref _all);

    public T? Find(string id) => All.FirstOrDefault(item => idOf(item) == id);

    public void Publish(T item)
    {
        lock (_gate)
        {
            var id = idOf(item);
            var index = _all.FindIndex(existing => idOf(existing) == id);
            var next = index >= 0 ? _all.SetItem(index, item) : _all.Insert(0, item);
            if (next.Count > capacity)
            {
                next = next.RemoveRange(capacity, next.Count - capacity);
            }

            Volatile.Write(ref _all, next);
        }

        Changes.Publish(item);
    }
}
