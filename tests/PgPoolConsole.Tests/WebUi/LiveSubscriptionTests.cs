using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.Tests.WebUi;

/// <summary>Snapshot then changes, with nothing missed, repeated or out of order, while producers run on several threads.</summary>
public sealed class LiveSubscriptionTests : DashboardTestContext
{
    private const int Writers = 4;
    private const int PerWriter = 300;

    [Fact]
    public async Task SubscribeLog_ConcurrentWriters_SnapshotThenEverySequenceNumberOnceInOrder()
    {
        for (var i = 0; i < 50; i++)
        {
            Store.Log.Append(EventLevel.Log, 1, null, "test", "before " + i);
        }

        using var subscription = Client.SubscribeLog(new LogFilter(EventLevel.Debug, null, null), 20);
        var total = Writers * PerWriter;
        using var timeout = new CancellationTokenSource(Timeout);
        var reading = ReadAsync(subscription.ReadAllAsync(timeout.Token), e => e.Sequence, total, timeout.Token);

        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < PerWriter; i++)
            {
                Store.Log.Append(EventLevel.Log, w, null, "test", $"writer {w} entry {i}");
            }
        })));
        var seen = await reading;

        Assert.Equal(Enumerable.Range(31, 20).Select(i => (long)i), subscription.Snapshot.Select(e => e.Sequence));
        Assert.Equal(Enumerable.Range(51, total).Select(i => (long)i), seen);
    }

    [Fact]
    public async Task SubscribeSessionCount_SessionsStartingAndEndingConcurrently_TheLastCountIsTheRealOne()
    {
        using var subscription = Client.SubscribeSessionCount();
        using var timeout = new CancellationTokenSource(Timeout);

        await Task.WhenAll(Enumerable.Range(0, Writers).Select(w => Task.Run(() =>
        {
            for (var i = 0; i < PerWriter / 2; i++)
            {
                var session = new IdleSession(Store.Sessions.NextId());
                Store.Sessions.Add(session);
                Store.Sessions.Remove(session);
            }
        })));
        // Every writer is done: the first batch holds what is still queued (the newest counts).
        var counts = await ReadAsync(subscription.ReadBatchesAsync(TimeSpan.FromMilliseconds(50), timeout.Token), batch => batch[^1], 1, timeout.Token);

        Assert.Equal(0, subscription.Snapshot);
        Assert.Equal(0, counts[^1]);
            }

    private static async Task<List<TValue>> ReadAsync<TChange, TValue>(IAsyncEnumerable<TChange> changes, Func<TChange, TValue> select, int count, CancellationToken cancellationToken)
    {
        var seen = new List<TValue>();
        await foreach (var change in changes.WithCancellation(cancellationToken))
        {
            seen.Add(select(change));
            if (seen.Count == count)
            {
                break;
            }
        }

        return seen;
    }

    private sealed class IdleSession(int id) : IProxySession
    {
        public int Id => id;

        public DateTimeOffset StartedAt => DateTimeOffset.UnixEpoch;

        public string User => "u";

        public string Database => "d";

        public string ClientAddress => "127.0.0.1";

        public string ApplicationName => "";

        public SessionActivity Activity => SessionActivity.Idle;

        public DateTimeOffset LastActivity => DateTimeOffset.UnixEpoch;

        public IReadOnlyList<SessionBackendInfo> Backends => [];

        public Task CancelAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
