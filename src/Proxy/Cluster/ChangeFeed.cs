using System.Threading.Channels;

namespace PgPoolConsole.Proxy.Cluster;

/// <summary>
/// Broadcasts values to any number of subscribers. Each subscriber has a bounded queue that drops
/// its oldest entries, so a slow reader (a browser tab) never makes the producer wait.
/// </summary>
public sealed class ChangeFeed<T>
{
    private readonly object _gate = new();
    private readonly int _capacity;
    private ImmutableSubscribers _subscribers = new([]);

    public ChangeFeed(int capacity = 1024) => _capacity = capacity;

    public int SubscriberCount => _subscribers.Channels.Length;

    public void Publish(T value)
    {
        foreach (var channel in _subscribers.Channels)
        {
            channel.Writer.TryWrite(value);
        }
    }

    /// <summary>Subscribes; dispose the result to stop. Subscribe before reading the current state, then drop duplicates.</summary>
    public Subscription Subscribe()
    {
        var channel = Channel.CreateBounded<T>(new BoundedChannelOptions(_capacity)
        {
            FullMode = BoundedChannelFullMode.DropOldest,
            SingleReader = true,
            SingleWriter = false,
        });
        lock (_gate)
        {
            _subscribers = new([.. _subscribers.Channels, channel]);
        }

        return new Subscription(this, channel);
    }

    private void Remove(Channel<T> channel)
    {
        lock (_gate)
        {
            _subscribers = new(Array.FindAll(_subscribers.Channels, c => c != channel));
        }

        channel.Writer.TryComplete();
    }

    private sealed record ImmutableSubscribers(Channel<T>[] Channels);

    public sealed class Subscription : IDisposable
    {
        private readonly ChangeFeed<T> _feed;
        private readonly Channel<T> _channel;

        internal Subscription(ChangeFeed<T> feed, Channel<T> channel)
        {
            _feed = feed;
            _channel = channel;
        }

        public ChannelReader<T> Reader => _channel.Reader;

        public void Dispose() => _feed.Remove(_channel);
    }
}
