using System.Globalization;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Proxy.Recovery;

/// <summary>
/// PostgreSQL WAL-logs sequences ahead of their state, so a node rebuilt from WAL would hand out
/// different values. While nothing writes, this writes every permanent sequence's exact state on
/// the main node. Its connections (one per database) are opened before traffic is paused, so the
/// pause only pays for the writes.
/// </summary>
internal sealed class SequenceSynchronizer : IAsyncDisposable
{
    private const string ApplicationName = "pgpoolconsole recovery";
    private const string ListDatabases = "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn ORDER BY 1";

    private readonly NodeState _main;
    private readonly PgPoolOptions _options;
    private readonly BackendConnection _postgres;
    private readonly Dictionary<string, BackendConnection> _databases = new(StringComparer.Ordinal);

    private SequenceSynchronizer(NodeState main, PgPoolOptions options, BackendConnection postgres)
    {
        _main = main;
        _options = options;
        _postgres = postgres;
    }

    /// <summary>Connects to every database of the main node that accepts connections.</summary>
    public static async Task<SequenceSynchronizer> OpenAsync(NodeState main, PgPoolOptions options, CancellationToken cancellationToken)
    {
        var postgres = await AdminConnector.ConnectAsync(main, "postgres", options, ApplicationName, cancellationToken);
        var synchronizer = new SequenceSynchronizer(main, options, postgres);
        try
        {
            await synchronizer.ConnectToDatabasesAsync(cancellationToken);
            return synchronizer;
        }
        catch
        {
            await synchronizer.DisposeAsync();
            throw;
        }
    }

    /// <summary>Writes every permanent sequence's state in every database; returns how many sequences.</summary>
    public async Task<int> SyncAsync(CancellationToken cancellationToken)
    {
        await ConnectToDatabasesAsync(cancellationToken); // a database created since the connections were opened
        var counts = await Task.WhenAll(_databases.Values.Select(async connection =>
        {
            var result = await RunAsync(connection, """
                DO $sync$
                DECLARE seq regclass;
                BEGIN
                  FOR seq IN SELECT c.oid::regclass FROM pg_catalog.pg_class c WHERE c.relkind = 'S' AND c.relpersistence = 'p' LOOP
                    EXECUTE pg_catalog.format('SELECT pg_catalog.setval(%L, last_value, is_called) FROM %s', seq, seq);
                  END LOOP;
                END
                $sync$;
                SELECT count(*) FROM pg_catalog.pg_class WHERE relkind = 'S' AND relpersistence = 'p';
                """, cancellationToken);
            return int.Parse(result.Scalar ?? "0", CultureInfo.InvariantCulture);
        }));
        return counts.Sum();
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var connection in _databases.Values)
        {
            await connection.DisposeAsync();
        }

        await _postgres.DisposeAsync();
    }

    private async Task ConnectToDatabasesAsync(CancellationToken cancellationToken)
    {
        var databases = await RunAsync(_postgres, ListDatabases, cancellationToken);
        var missing = databases.Rows.Select(row => row[0]!).Where(name => !_databases.ContainsKey(name)).ToList();
        var connecting = missing.Select(name => AdminConnector.ConnectAsync(_main, name, _options, ApplicationName, cancellationToken)).ToList();
        try
        {
            await Task.WhenAll(connecting);
        }
        finally
        {
            // Kept even when another database refused: DisposeAsync closes them.
            for (var i = 0; i < missing.Count; i++)
            {
                if (connecting[i].IsCompletedSuccessfully)
                {
                    _databases[missing[i]] = connecting[i].Result;
                }
            }
        }
    }

    private static async Task<BackendQueryResult> RunAsync(BackendConnection connection, string sql, CancellationToken cancellationToken)
    {
        var result = await BackendQuery.RunAsync(connection, sql, cancellationToken);
        return result.Error is { } error
            ? throw new RecoveryStageException($"writing the exact sequence state on main node {connection.NodeId} failed: {error.Message}")
            : result;
    }
}
