using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.SignalR;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.Api.ControlPlane;

/// <summary>
/// /hubs/cluster: live streams of the cluster for programs (the dashboard itself reads the store
/// in-process). Each stream starts with a snapshot item and continues with change items; the
/// subscription is taken before the snapshot is read, so nothing happening in between is missed
/// or sent twice. Call with <c>HubConnection.StreamAsync&lt;T&gt;("Nodes")</c> and so on.
/// </summary>
[Authorize]
public sealed class ClusterHub(IDashboardClient client, ClusterStateStore store, OptionsHolder options) : Hub
{
    public const string Path = "/hubs/cluster";

    /// <summary>All nodes, then all nodes again at every status change (with the snapshot version).</summary>
    public async IAsyncEnumerable<NodesUpdate> Nodes([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var subscription = client.SubscribeCluster();
        yield return NodesOf(StreamItemKind.Snapshot, subscription.Snapshot);
        await foreach (var snapshot in subscription.ReadAllAsync(cancellationToken))
        {
            yield return NodesOf(StreamItemKind.Change, snapshot);
        }
    }

    /// <summary>The newest log entries (up to <paramref name="initialCount"/>, filtered), then each new matching entry.</summary>
    /// <param name="level">Minimum level (DEBUG, LOG, WARNING, ERROR, FATAL); null for all.</param>
    /// <param name="nodeId">Only entries about this node; null for all.</param>
    /// <param name="text">Only entries containing this text (case-insensitive); null for all.</param>
    /// <param name="initialCount">How many recent entries the snapshot holds.</param>
    public async IAsyncEnumerable<LogUpdate> Log(string? level, int? nodeId, string? text, int initialCount, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        if (!LogFilter.TryParseLevel(level, out var minimum))
        {
            throw new HubException($"\"{level}\" is not a level (DEBUG, LOG, WARNING, ERROR, FATAL)");
        }

        var prefix = options.Current.LogLinePrefix;
        using var subscription = client.SubscribeLog(new LogFilter(minimum, nodeId, text), Math.Clamp(initialCount, 0, 5000));
        yield return new LogUpdate(StreamItemKind.Snapshot, [.. subscription.Snapshot.Select(e => LogEntryInfo.From(e, prefix))]);
        await foreach (var entries in subscription.ReadBatchesAsync(TimeSpan.FromMilliseconds(50), cancellationToken))
        {
            yield return new LogUpdate(StreamItemKind.Change, [.. entries.Select(e => LogEntryInfo.From(e, prefix))]);
        }
    }

    /// <summary>The number of client sessions, then each new count.</summary>
    public async IAsyncEnumerable<SessionCountUpdate> SessionCounts([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var subscription = client.SubscribeSessionCount();
        yield return new SessionCountUpdate(StreamItemKind.Snapshot, subscription.Snapshot);
        await foreach (var count in subscription.ReadAllAsync(cancellationToken))
        {
            yield return new SessionCountUpdate(StreamItemKind.Change, count);
        }
    }

    /// <summary>Every known recovery, then each recovery whenever its progress changes.</summary>
    public async IAsyncEnumerable<RecoveryUpdate> Recoveries([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        using var subscription = client.SubscribeRecoveries();
        yield return new RecoveryUpdate(StreamItemKind.Snapshot, [.. subscription.Snapshot.Select(RecoveryInfo.From)]);
        await foreach (var progress in subscription.ReadAllAsync(cancellationToken))
        {
            yield return new RecoveryUpdate(StreamItemKind.Change, [RecoveryInfo.From(progress)]);
        }
    }

    private NodesUpdate NodesOf(StreamItemKind kind, ClusterSnapshot snapshot) =>
        new(kind, snapshot.Version, snapshot.MainNodeId, [.. NodeView.AllOf(store, snapshot).Select(NodeInfo.From)]);
}
