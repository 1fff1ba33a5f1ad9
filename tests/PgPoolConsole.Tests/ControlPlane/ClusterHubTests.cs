using System.Net;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using PgPoolConsole.Api.ControlPlane;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Tests.ControlPlane;

[Collection(ControlPlaneCollection.Name)]
public sealed class ClusterHubTests(ControlPlaneFixture fixture) : IAsyncLifetime
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public Task InitializeAsync() => fixture.AttachAllAsync();

    public Task DisposeAsync() => fixture.AttachAllAsync();

    [Fact]
    public async Task Nodes_SnapshotThenEveryStatusChange()
    {
        await using var hub = await ConnectAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var stream = hub.StreamAsync<NodesUpdate>("Nodes", cancel.Token).GetAsyncEnumerator(cancel.Token);

        var snapshot = await NextAsync(stream);
        Assert.Equal((StreamItemKind.Snapshot, 2), (snapshot.Kind, snapshot.Nodes.Count));
        Assert.True(snapshot.Nodes.All(n => n.Status is 1 or 2));

        using var admin = fixture.Basic();
        (await admin.PostAsync(new Uri("/api/nodes/1/detach", UriKind.Relative), null)).EnsureSuccessStatusCode();

        var change = await NextAsync(stream);
        Assert.Equal(StreamItemKind.Change, change.Kind);
        Assert.True(change.Version > snapshot.Version);
        Assert.Equal((3, "down"), (change.Nodes[1].Status, change.Nodes[1].StatusName));
    }

    [Fact]
    public async Task Nodes_ChangesBetweenSubscribingAndReadingTheSnapshot_AreNeitherMissedNorRepeated()
    {
        var store = fixture.Host.Store;
        await using var hub = await ConnectAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var stream = hub.StreamAsync<NodesUpdate>("Nodes", cancel.Token).GetAsyncEnumerator(cancel.Token);
        var snapshot = await NextAsync(stream);

        // Several status changes in a burst: each version arrives once, in order.
        var versions = new List<long>();
        for (var i = 0; i < 4; i++)
        {
            store.SetStatus(1, i % 2 == 0 ? NodeStatus.Up : NodeStatus.Waiting);
        }

        var last = store.Current.Version;
        while (versions.Count == 0 || versions[^1] < last)
        {
            versions.Add((await NextAsync(stream)).Version);
        }

        Assert.Equal(versions.Order().Distinct(), versions);
        Assert.True(versions[0] > snapshot.Version);
    }

    [Fact]
    public async Task Log_SnapshotOfRecentEntriesThenNewOnesMatchingTheFilter()
    {
        var marker = "hub-" + Guid.NewGuid().ToString("N")[..8];
        var log = fixture.Host.Store.Log;
        log.Append(EventLevel.Warning, 1, null, "test", $"{marker} before");
        await using var hub = await ConnectAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var stream = hub.StreamAsync<LogUpdate>("Log", "WARNING", null, marker, 100, cancel.Token).GetAsyncEnumerator(cancel.Token);

        var snapshot = await NextAsync(stream);
        log.Append(EventLevel.Log, 1, null, "test", $"{marker} too low");
        log.Append(EventLevel.Error, 1, 1, "test", $"{marker} after");
        var change = await NextAsync(stream);

        Assert.Equal(StreamItemKind.Snapshot, snapshot.Kind);
        Assert.Equal([$"{marker} before"], snapshot.Entries.Select(e => e.Message));
        Assert.Equal(StreamItemKind.Change, change.Kind);
        Assert.Equal([$"{marker} after"], change.Entries.Select(e => e.Message));
        Assert.Contains("ERROR:  " + marker, change.Entries[0].Line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task SessionCountsAndRecoveries_StreamSnapshotThenChanges()
    {
        await using var hub = await ConnectAsync();
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await using var counts = hub.StreamAsync<SessionCountUpdate>("SessionCounts", cancel.Token).GetAsyncEnumerator(cancel.Token);
        await using var recoveries = hub.StreamAsync<RecoveryUpdate>("Recoveries", cancel.Token).GetAsyncEnumerator(cancel.Token);
        var countSnapshot = await NextAsync(counts);
        var recoverySnapshot = await NextAsync(recoveries);

        await using (var connection = new Npgsql.NpgsqlConnection(fixture.ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            var opened = await NextAsync(counts);
            Assert.Equal(StreamItemKind.Change, opened.Kind);
            Assert.True(opened.Count > countSnapshot.Count);
        }

        var jobId = "hub-" + Guid.NewGuid().ToString("N")[..8];
        fixture.Host.Store.Recovery.Publish(new RecoveryProgress(jobId, 1, DateTimeOffset.UtcNow, null, RecoveryOutcome.Running,
            [new RecoveryStageProgress(1, "1st stage", RecoveryStageOutcome.Running, DateTimeOffset.UtcNow, null, "copying", null)], null));
        RecoveryUpdate update;
        do
        {
            update = await NextAsync(recoveries);
        }
        while (update.Recoveries.All(r => r.JobId != jobId));

        Assert.Equal(StreamItemKind.Snapshot, recoverySnapshot.Kind);
        Assert.Equal(StreamItemKind.Change, update.Kind);
        var recovery = Assert.Single(update.Recoveries);
        Assert.Equal(("1st stage", "copying"), (recovery.CurrentStage, recovery.Stages[0].Output));
    }

    [Fact]
    public async Task Connect_WithoutCredentials_IsRefused()
    {
        await using var hub = new HubConnectionBuilder().WithUrl(new Uri(fixture.BaseAddress, ClusterHub.Path)).Build();

        var error = await Assert.ThrowsAsync<HttpRequestException>(() => hub.StartAsync().WaitAsync(Timeout));

        Assert.Equal(HttpStatusCode.Unauthorized, error.StatusCode);
    }

    [Fact]
    public async Task Connect_WithTheApiToken_Streams()
    {
        await using var hub = await ConnectAsync("Bearer " + ControlPlaneFixture.ApiToken);
        using var cancel = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        await using var stream = hub.StreamAsync<NodesUpdate>("Nodes", cancel.Token).GetAsyncEnumerator(cancel.Token);

        Assert.Equal(2, (await NextAsync(stream)).Nodes.Count);
    }

    private async Task<HubConnection> ConnectAsync(string? authorization = null)
    {
        authorization ??= ControlPlaneFixture.BasicHeader(ControlPlaneFixture.User, ControlPlaneFixture.UserPassword).ToString();
        var hub = new HubConnectionBuilder()
            .WithUrl(new Uri(fixture.BaseAddress, ClusterHub.Path), options => options.Headers["Authorization"] = authorization)
            .AddJsonProtocol(json => json.PayloadSerializerOptions.Converters.Add(new System.Text.Json.Serialization.JsonStringEnumConverter(System.Text.Json.JsonNamingPolicy.SnakeCaseLower)))
            .Build();
        await hub.StartAsync().WaitAsync(Timeout);
        return hub;
    }

    private static async Task<T> NextAsync<T>(IAsyncEnumerator<T> stream)
    {
        Assert.True(await stream.MoveNextAsync().AsTask().WaitAsync(Timeout), "the stream ended");
        return stream.Current;
    }
}
