using System.Globalization;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Benchmarks;

/// <summary>
/// The two benchmark nodes: local PostgreSQL 15 servers (fsync off, as in the project's tests:
/// the runs measure CPU and round trips, not the disk) with the same pgbench data on each.
/// </summary>
public sealed class BenchCluster : IAsyncDisposable
{
    private BenchCluster(string directory, IReadOnlyList<PostgresInstance> nodes)
    {
        Directory = directory;
        Nodes = nodes;
    }

    public string Directory { get; }

    public IReadOnlyList<PostgresInstance> Nodes { get; }

    /// <summary>The settings every node gets on top of the defaults, for the docs.</summary>
    public static IReadOnlyDictionary<string, string> ExtraSettings { get; } = new Dictionary<string, string>
    {
        ["shared_buffers"] = "256MB",
        ["max_wal_size"] = "2GB",
        ["checkpoint_timeout"] = "30min",
    };

    /// <summary>
    /// Creates two nodes under <paramref name="directory"/> with <paramref name="maxConnections"/>
    /// and loads pgbench -i -s <paramref name="scale"/> into each directly (the same data on both).
    /// </summary>
    public static async Task<BenchCluster> CreateAsync(
        string directory,
        int maxConnections,
        int scale,
        bool keep,
        CancellationToken cancellationToken,
        IReadOnlyDictionary<string, string>? moreSettings = null)
    {
        var settings = new Dictionary<string, string>(ExtraSettings);
        foreach (var (key, value) in moreSettings ?? new Dictionary<string, string>())
        {
            settings[key] = value;
        }

        var creating = Enumerable.Range(0, 2).Select(i => PostgresInstance.CreateAsync(
            new PostgresInstanceOptions
            {
                BaseDirectory = directory,
                Name = $"node{i.ToString(CultureInfo.InvariantCulture)}",
                FastUnsafe = true,
                MaxConnections = maxConnections,
                ExtraSettings = settings,
                KeepOnDispose = false,
            },
            cancellationToken)).ToList();
        try
        {
            var nodes = await Task.WhenAll(creating);
            var cluster = new BenchCluster(directory, nodes) { _keep = keep };
            await Task.WhenAll(nodes.Select(n => Pgbench.InitializeAsync(n.Port, scale, cancellationToken)));
            return cluster;
        }
        catch
        {
            foreach (var task in creating.Where(t => t.IsCompletedSuccessfully))
            {
                await task.Result.DestroyAsync(CancellationToken.None);
            }

            throw;
        }
    }

    private bool _keep;

    /// <summary>Stops the nodes; deletes their data unless the run was asked to keep it.</summary>
    public async ValueTask DisposeAsync()
    {
        foreach (var node in Nodes)
        {
            if (_keep)
            {
                await node.StopAsync(ShutdownMode.Immediate, CancellationToken.None);
            }
            else
            {
                await node.DestroyAsync(CancellationToken.None);
            }
        }
    }
}
