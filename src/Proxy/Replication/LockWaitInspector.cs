using System.Globalization;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>
/// Looks at lock waits on the nodes through one monitoring connection per node (as the health
/// check user): which backends block a given backend (pg_blocking_pids). Used to find statements
/// that wait on a replica for a lock the main node did not make them wait for: a deadlock that
/// spans nodes (no node can see it) or a lock held on that node only.
/// </summary>
public sealed class LockWaitInspector(ClusterStateStore store, OptionsHolder options) : IAsyncDisposable
{
    private static readonly TimeSpan QueryTimeout = TimeSpan.FromSeconds(5);
    private readonly Dictionary<int, (BackendConnection? Connection, SemaphoreSlim Gate)> _monitors = [];
    private readonly object _gate = new();

    /// <summary>The pids that block <paramref name="processId"/> on a node (empty when it is not waiting for a lock).</summary>
    public async Task<IReadOnlyList<int>> BlockersAsync(int nodeId, int processId, CancellationToken cancellationToken)
    {
        var (connection, semaphore) = Monitor(nodeId);
        if (!await semaphore.WaitAsync(QueryTimeout, cancellationToken))
        {
            return []; // a previous look still hangs (the node may be frozen): the health check deals with that
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(QueryTimeout);
        try
        {
            if (connection is null || connection.IsBroken)
            {
                connection = await ConnectAsync(nodeId, cancellationToken);
                lock (_gate)
                {
                    _monitors[nodeId] = (connection, semaphore);
                }
            }

            var result = await BackendQuery.RunAsync(connection, $"SELECT pg_catalog.pg_blocking_pids({processId.ToString(CultureInfo.InvariantCulture)})", timeout.Token);
            return result.Scalar is { } text ? ParsePids(text) : [];
        }
        catch (Exception e) when (e is IOException or BackendUnavailableException or BackendRejectedException or Protocol.PgProtocolException
            || (e is OperationCanceledException && !cancellationToken.IsCancellationRequested))
        {
            connection?.Break();
            lock (_gate)
            {
                _monitors[nodeId] = (null, semaphore);
            }

            return [];
        }
        finally
        {
            semaphore.Release();
        }
    }

    private (BackendConnection? Connection, SemaphoreSlim Gate) Monitor(int nodeId)
    {
        lock (_gate)
        {
            if (!_monitors.TryGetValue(nodeId, out var monitor))
            {
                monitor = (null, new SemaphoreSlim(1, 1));
                _monitors[nodeId] = monitor;
            }

            return monitor;
        }
    }

    private async Task<BackendConnection> ConnectAsync(int nodeId, CancellationToken cancellationToken)
    {
        var node = store.Current.Find(nodeId) ?? throw new BackendUnavailableException(nodeId, $"node {nodeId} is not configured");
        var settings = options.Current.Backends.FirstOrDefault(b => b.Id == nodeId)?.HealthCheck ?? options.Current.HealthCheck;
        var connector = new BackendConnector(TimeSpan.FromSeconds(5));
        var database = settings.Database.Length > 0 ? settings.Database : "postgres";
        return await connector.ConnectAsync(
            BackendEndpoint.Of(node),
            [new("user", settings.User), new("database", database), new("application_name", "pgpoolconsole lock monitor")],
            _ => ValueTask.FromResult<string?>(settings.Password.Length > 0 ? settings.Password : null),
            cancellationToken);
    }

    internal static IReadOnlyList<int> ParsePids(string array) =>
        [.. array.Trim('{', '}').Split(',', StringSplitOptions.RemoveEmptyEntries).Select(p => int.Parse(p, CultureInfo.InvariantCulture))];

    public async ValueTask DisposeAsync()
    {
        List<BackendConnection> connections;
        lock (_gate)
        {
            connections = [.. _monitors.Values.Select(m => m.Connection).OfType<BackendConnection>()];
            _monitors.Clear();
        }

        foreach (var connection in connections)
        {
            await connection.DisposeAsync();
        }
    }
}
