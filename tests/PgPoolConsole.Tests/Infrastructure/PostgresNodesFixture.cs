using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Tests.Infrastructure;

/// <summary>
/// N real PostgreSQL 15 nodes (node0…) created from the template under a private
/// <c>/tmp/pgpc-&lt;random&gt;</c>, FastUnsafe, each on its own free port: safe to use from test
/// classes running in parallel. Share one through a class or collection fixture and call
/// <see cref="ResetAsync"/> between users.
/// </summary>
public abstract class PostgresNodesFixture : IAsyncLifetime
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly int _nodeCount;
    private readonly bool _archiving;
    private TestDirectory? _directory;
    private PostgresInstance[] _nodes = [];

    /// <param name="nodeCount">How many nodes.</param>
    /// <param name="archiving">WAL archiving into <c>&lt;dir&gt;/archive/nodeN</c> (off by default).</param>
    protected PostgresNodesFixture(int nodeCount, bool archiving = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(nodeCount, 1);
        _nodeCount = nodeCount;
        _archiving = archiving;
    }

    /// <summary>The nodes, node0 first.</summary>
    public IReadOnlyList<PostgresInstance> Nodes => _nodes;

    /// <summary>The fixture's private folder (nodes and archives live below it).</summary>
    public string BaseDirectory => _directory?.Path ?? throw new InvalidOperationException("The fixture is not initialised.");

    /// <summary>The archive directory of node <paramref name="index"/> (meaningful when archiving is on).</summary>
    public string ArchiveDirectory(int index) => Path.Combine(BaseDirectory, "archive", $"node{index}");

    /// <inheritdoc />
    public async Task InitializeAsync()
    {
        _directory = await TestDirectory.CreateAsync();
        var creating = Enumerable.Range(0, _nodeCount)
            .Select(i => PostgresInstance.CreateAsync(new PostgresInstanceOptions
            {
                BaseDirectory = _directory.Path,
                Name = $"node{i}",
                FastUnsafe = true,
                ArchiveDirectory = _archiving ? ArchiveDirectory(i) : null,
            }))
            .ToList();
        try
        {
            _nodes = await Task.WhenAll(creating);
        }
        catch
        {
            // Keep what did start so DisposeAsync stops it.
            _nodes = creating.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result).ToArray();
            throw;
        }
    }

    /// <inheritdoc />
    public async Task DisposeAsync()
    {
        await Task.WhenAll(_nodes.Select(node => node.DisposeAsync().AsTask()));
        if (_directory is not null)
        {
            await _directory.DisposeAsync();
        }
    }

    /// <summary>CREATE DATABASE <paramref name="name"/> on every node.</summary>
    public Task CreateDatabaseOnAllAsync(string name) =>
        Task.WhenAll(_nodes.Select(node => node.ExecuteAsync($"CREATE DATABASE {NodeSql.QuoteIdentifier(name)}")));

    /// <summary>
    /// Puts the nodes back as a fresh user expects them: resumed if paused, started if stopped,
    /// without the databases and roles tests created.
    /// </summary>
    public Task ResetAsync() => Task.WhenAll(_nodes.Select(ResetNodeAsync));

    private static async Task ResetNodeAsync(PostgresInstance node)
    {
        if (node.IsPaused)
        {
            await node.ResumeAsync();
        }

        if (!node.IsRunning)
        {
            await node.StartAsync();
        }

        await node.WaitUntilAcceptingAsync(StartTimeout);
        foreach (var database in await NodeSql.ReadColumnAsync(node, "postgres", "SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1')"))
        {
            await node.ExecuteAsync($"DROP DATABASE IF EXISTS {NodeSql.QuoteIdentifier(database)} WITH (FORCE)");
        }

        foreach (var role in await NodeSql.ReadColumnAsync(node, "postgres", "SELECT rolname FROM pg_roles WHERE rolname <> 'postgres' AND rolname NOT LIKE 'pg\\_%'"))
        {
            await node.ExecuteAsync($"DROP OWNED BY {NodeSql.QuoteIdentifier(role)}; DROP ROLE {NodeSql.QuoteIdentifier(role)}");
        }
    }
}

/// <summary>Two nodes.</summary>
public sealed class TwoNodeFixture() : PostgresNodesFixture(2);

/// <summary>Three nodes.</summary>
public sealed class ThreeNodeFixture() : PostgresNodesFixture(3);

/// <summary>Two nodes with WAL archiving, one archive directory each.</summary>
public sealed class ArchivingTwoNodeFixture() : PostgresNodesFixture(2, archiving: true);
