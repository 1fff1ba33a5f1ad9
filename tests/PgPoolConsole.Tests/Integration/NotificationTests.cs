using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Tests.Integration;

/// <summary>LISTEN/NOTIFY through the proxy: a listener that waits idle gets each notification once.</summary>
[Collection(ProxyCollection.Name)]
public sealed class NotificationTests(ProxyFixture proxy) : IAsyncLifetime
{
    public Task InitializeAsync() => proxy.HealAsync();

    public Task DisposeAsync() => proxy.HealAsync();

    [Fact]
    public async Task IdleListener_GetsEachNotificationOnce_WithItsPayload()
    {
        await using var listener = await proxy.OpenAsync("postgres");
        await using var notifier = await proxy.OpenAsync("postgres");
        var received = await ListenAndNotifyAsync(listener, notifier, "jobs", ["first", "second"]);
        Assert.Equal(["jobs:first", "jobs:second"], received);
    }

    [Fact]
    public async Task Listener_KeepsGettingNotifications_AfterTheMainNodeIsDetachedWhileItWaits()
    {
        await using var listener = await proxy.OpenAsync("postgres");
        await using var notifier = await proxy.OpenAsync("postgres");
        Assert.Equal(["orders:before"], await ListenAndNotifyAsync(listener, notifier, "orders", ["before"]));

        var administration = proxy.Host.Services.GetRequiredService<IClusterAdministration>();
        Assert.True((await administration.DetachAsync(0, graceful: false, default)).Succeeded);

        // Node 1 queued what node 0 delivered, so a notification from just before the detach can
        // come twice (at least once, as after any failover); none sent after it is lost.
        var after = await NotifyAsync(listener, notifier, "orders", ["after"]);
        Assert.Single(after, "orders:after");
        Assert.All(after, n => Assert.Contains(n, new[] { "orders:before", "orders:after" }));
    }

    private static async Task<List<string>> ListenAndNotifyAsync(NpgsqlConnection listener, NpgsqlConnection notifier, string channel, string[] payloads)
    {
        await using (var listen = new NpgsqlCommand($"LISTEN {channel}", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        return await NotifyAsync(listener, notifier, channel, payloads);
    }

    private static async Task<List<string>> NotifyAsync(NpgsqlConnection listener, NpgsqlConnection notifier, string channel, string[] payloads)
    {
        var received = new List<string>();
        void OnNotification(object? sender, NpgsqlNotificationEventArgs e) => received.Add($"{e.Channel}:{e.Payload}");
        listener.Notification += OnNotification;
        try
        {
            foreach (var payload in payloads)
            {
                await using var notify = new NpgsqlCommand($"NOTIFY {channel}, '{payload}'", notifier);
                await notify.ExecuteNonQueryAsync();
            }

            while (received.Count < payloads.Length && await listener.WaitAsync(TimeSpan.FromSeconds(5)))
            {
            }

            // A duplicate (one per node) would arrive right behind the first.
            await listener.WaitAsync(TimeSpan.FromMilliseconds(300));
            return received;
        }
        finally
        {
            listener.Notification -= OnNotification;
        }
    }
}
