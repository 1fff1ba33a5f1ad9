using System.Collections.Immutable;
using System.Globalization;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>
/// Compares table contents on every attached node: row count and an order-independent checksum
/// (the sum of a 64-bit hash of each row's text), table by table. Tables with a primary key are
/// read in key-ordered chunks (ChunkRows rows, bounds taken from the main node), so no single
/// statement scans a big table for long; a chunk that differs is read again a few times before
/// it counts, so a write in flight between nodes is not reported as divergence.
/// Connects directly to the nodes as recovery_user (else health_check_user).
/// </summary>
public sealed partial class ConsistencyVerifier(ClusterStateStore store, OptionsHolder options, ILogger<ConsistencyVerifier> logger)
{
    private const int Rechecks = 3;

    public async Task<ConsistencyCheck> RunAsync(string id, ConsistencyRequest request, CancellationToken cancellationToken)
    {
        LogStarted(logger, id);
        var check = await CompareAsync(id, [.. store.Current.Nodes.Where(n => n.IsUsable)], request, store.ConsistencyChecks.Publish, cancellationToken);
        if (check.State == ConsistencyCheckState.Completed)
        {
            LogFinished(logger, id, check.Tables.Length, check.DifferingTables);
        }
        else
        {
            LogFailed(logger, id, check.Error ?? "");
        }

        return check;
    }

    /// <summary>
    /// Compares the given nodes (the first is the reference), reporting each step to
    /// <paramref name="progress"/>. Failures end up in the result, not as exceptions, except
    /// cancellation by <paramref name="cancellationToken"/>.
    /// </summary>
    public async Task<ConsistencyCheck> CompareAsync(string id, IReadOnlyList<NodeState> nodes, ConsistencyRequest request, Action<ConsistencyCheck> progress, CancellationToken cancellationToken)
    {
        var check = new ConsistencyCheck(id, store.TimeProvider.GetUtcNow(), null, ConsistencyCheckState.Running, [], null);
        progress(check);
        try
        {
            if (nodes.Count == 0)
            {
                throw new InvalidOperationException("no attached node to check");
            }

            var databases = request.Databases.Count > 0 ? request.Databases : await ListDatabasesAsync(nodes[0], cancellationToken);
            foreach (var database in databases)
            {
                var connections = new List<BackendConnection>();
                try
                {
                    foreach (var node in nodes)
                    {
                        connections.Add(await ConnectAsync(node, database, cancellationToken));
                    }

                    // Each node's own list: a table that one node lacks (DDL run on one node only) is a difference too.
                    var lists = new List<HashSet<string>>();
                    foreach (var connection in connections)
                    {
                        lists.Add([.. await ListTablesAsync(connection, cancellationToken)]);
                    }

                    var tables = request.Tables.Count > 0 ? request.Tables : [.. lists.SelectMany(l => l).Distinct().Order(StringComparer.Ordinal)];
                    foreach (var table in tables)
                    {
                        var lacking = lists.Any(l => l.Contains(table)) ? connections.Where((_, i) => !lists[i].Contains(table)).ToList() : [];
                        var comparison = lacking.Count > 0
                            ? await MissingTableAsync(database, table, connections, lacking, cancellationToken)
                            : await CompareTableAsync(database, table, connections, Math.Max(100, request.ChunkRows), cancellationToken);
                        if (!comparison.Identical)
                        {
                            LogDifference(logger, database, table, comparison.Difference ?? "");
                        }

                        check = check with { Tables = check.Tables.Add(comparison) };
                        progress(check);
                    }
                }
                finally
                {
                    foreach (var connection in connections)
                    {
                        await connection.DisposeAsync();
                    }
                }
            }

            check = check with { State = ConsistencyCheckState.Completed, FinishedAt = store.TimeProvider.GetUtcNow() };
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            check = check with { State = ConsistencyCheckState.Failed, FinishedAt = store.TimeProvider.GetUtcNow(), Error = e.Message };
        }

        progress(check);
        return check;
    }

    private async Task<TableComparison> CompareTableAsync(string database, string table, List<BackendConnection> connections, int chunkRows, CancellationToken cancellationToken)
    {
        var main = connections[0];
        var key = await PrimaryKeyAsync(main, table, cancellationToken);
        var rowText = await RowTextAsync(main, table, cancellationToken);
        var rows = new long[connections.Count];
        var sums = new decimal[connections.Count];
        string? difference = null;
        string? lower = null; // the last chunk's upper bound (a WHERE condition on the key), null at the start
        while (true)
        {
            string? upper = null;
            if (key.Count > 0)
            {
                // ORDER BY names the table's columns: unqualified, it would sort by the text output column.
                var boundary = await ScalarRowAsync(main, $"SELECT {string.Join(", ", key.Select(k => $"t.{k.Name}::text"))} FROM {table} t {Where(lower)} ORDER BY {string.Join(", ", key.Select(k => "t." + k.Name))} OFFSET {chunkRows - 1} LIMIT 1", cancellationToken);
                upper = boundary is null ? null : KeyCondition(key, boundary, "<=");
            }

            var range = string.Join(" AND ", new[] { lower is null ? null : Negate(lower), upper }.Where(c => c is not null));
            var digests = await DigestChunkAsync(connections, table, rowText, range, cancellationToken);
            for (var attempt = 0; attempt < Rechecks && !AllEqual(digests); attempt++)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200 * (attempt + 1)), cancellationToken);
                digests = await DigestChunkAsync(connections, table, rowText, range, cancellationToken);
            }

            if (!AllEqual(digests) && difference is null)
            {
                difference = $"rows {(range.Length == 0 ? "(whole table)" : "where " + range)}: " +
                    string.Join(", ", digests.Select((d, i) => $"node {connections[i].NodeId} count {d.Rows} checksum {d.Sum}"));
            }

            for (var i = 0; i < digests.Count; i++)
            {
                rows[i] += digests[i].Rows;
                sums[i] += digests[i].Sum;
            }

            if (upper is null)
            {
                break;
            }

            lower = upper;
        }

        var nodeDigests = connections.Select((c, i) => new TableDigest(c.NodeId, rows[i], sums[i].ToString(CultureInfo.InvariantCulture))).ToImmutableArray();
        return new TableComparison(database, table, nodeDigests, difference is null, difference);
    }

    /// <summary>A table some nodes lack: their row count shows as 0, the others' as counted.</summary>
    private static async Task<TableComparison> MissingTableAsync(string database, string table, List<BackendConnection> connections, List<BackendConnection> lacking, CancellationToken cancellationToken)
    {
        var digests = new List<TableDigest>();
        foreach (var connection in connections)
        {
            var rows = lacking.Contains(connection) ? 0 : long.Parse((await ScalarRowAsync(connection, $"SELECT count(*) FROM {table}", cancellationToken))![0]!, CultureInfo.InvariantCulture);
            digests.Add(new TableDigest(connection.NodeId, rows, lacking.Contains(connection) ? "missing" : ""));
        }

        return new TableComparison(database, table, [.. digests], false, $"missing on node {string.Join(", ", lacking.Select(c => c.NodeId))}");
    }

    private static string Where(string? lowerBound) => lowerBound is null ? "" : "WHERE " + Negate(lowerBound);

    /// <summary>"key &lt;= bound" becomes "NOT (key &lt;= bound)": rows after the previous chunk.</summary>
    private static string Negate(string condition) => $"NOT ({condition})";

    private static string KeyCondition(IReadOnlyList<(string Name, string Type)> key, string?[] values, string op) =>
        $"({string.Join(", ", key.Select(k => k.Name))}) {op} ({string.Join(", ", key.Select((k, i) => values[i] is null ? "NULL" : $"{BackendQuery.Literal(values[i]!)}::{k.Type}"))})";

    private static bool AllEqual(IReadOnlyList<(long Rows, decimal Sum)> digests) =>
        digests.All(d => d.Rows == digests[0].Rows && d.Sum == digests[0].Sum);

    private static async Task<IReadOnlyList<(long Rows, decimal Sum)>> DigestChunkAsync(List<BackendConnection> connections, string table, string rowText, string range, CancellationToken cancellationToken)
    {
        var sql = $"SELECT count(*), coalesce(sum(pg_catalog.hashtextextended({rowText}, 0)), 0) FROM {table} t{(range.Length == 0 ? "" : " WHERE " + range)}";
        var results = await Task.WhenAll(connections.Select(c => BackendQuery.RunAsync(c, sql, cancellationToken)));
        return [.. results.Select(r =>
        {
            if (r.Error is { } error)
            {
                throw new InvalidOperationException($"reading {table} failed: {error.Message}");
            }

            return (long.Parse(r.Rows[0][0]!, CultureInfo.InvariantCulture), decimal.Parse(r.Rows[0][1]!, CultureInfo.InvariantCulture));
        })];
    }

    private static async Task<string?[]?> ScalarRowAsync(BackendConnection connection, string sql, CancellationToken cancellationToken)
    {
        var result = await BackendQuery.RunAsync(connection, sql, cancellationToken);
        if (result.Error is { } error)
        {
            throw new InvalidOperationException(error.Message);
        }

        return result.Rows.Count == 0 ? null : result.Rows[0];
    }

    /// <summary>
    /// What of a row is compared: all of it, but for a sequence only its position (log_cnt counts
    /// down to each node's own next WAL record, so it differs between identical sequences).
    /// </summary>
    private static async Task<string> RowTextAsync(BackendConnection connection, string table, CancellationToken cancellationToken)
    {
        var kind = await ScalarRowAsync(connection, $"SELECT c.relkind FROM pg_catalog.pg_class c WHERE c.oid = {BackendQuery.Literal(table)}::pg_catalog.regclass", cancellationToken);
        return kind is ["S"] ? "t.last_value::text || ' ' || t.is_called::text" : "t::text";
    }

    private static async Task<IReadOnlyList<(string Name, string Type)>> PrimaryKeyAsync(BackendConnection connection, string table, CancellationToken cancellationToken)
    {
        var result = await BackendQuery.RunAsync(connection, $"""
            SELECT pg_catalog.quote_ident(a.attname), pg_catalog.format_type(a.atttypid, a.atttypmod)
            FROM pg_catalog.pg_index i
            JOIN pg_catalog.pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
            WHERE i.indrelid = {BackendQuery.Literal(table)}::regclass AND i.indisprimary
            ORDER BY pg_catalog.array_position(i.indkey::int2[], a.attnum)
            """, cancellationToken);
        if (result.Error is { } error)
        {
            throw new InvalidOperationException($"table {table}: {error.Message}");
        }

        return [.. result.Rows.Select(r => (r[0]!, r[1]!))];
    }

    /// <summary>
    /// The user tables and sequences, and the large objects' pages (pg_largeobject) when there are any and the
    /// checking user may read them (superusers).
    /// </summary>
    private static async Task<IReadOnlyList<string>> ListTablesAsync(BackendConnection connection, CancellationToken cancellationToken)
    {
        var result = await BackendQuery.RunAsync(connection, """
            SELECT pg_catalog.quote_ident(n.nspname) || '.' || pg_catalog.quote_ident(c.relname)
            FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
            WHERE c.relkind IN ('r', 'p', 'S') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_temp%' AND n.nspname NOT LIKE 'pg\_toast%'
            UNION ALL
            SELECT 'pg_catalog.pg_largeobject'
            WHERE pg_catalog.has_table_privilege('pg_catalog.pg_largeobject', 'SELECT') AND EXISTS (SELECT FROM pg_catalog.pg_largeobject_metadata)
            ORDER BY 1
            """, cancellationToken);
        return [.. result.Rows.Select(r => r[0]!)];
    }

    private async Task<IReadOnlyList<string>> ListDatabasesAsync(NodeState node, CancellationToken cancellationToken)
    {
        await using var connection = await ConnectAsync(node, "postgres", cancellationToken);
        var result = await BackendQuery.RunAsync(connection, "SELECT datname FROM pg_catalog.pg_database WHERE datallowconn AND NOT datistemplate ORDER BY 1", cancellationToken);
        return [.. result.Rows.Select(r => r[0]!)];
    }

    private Task<BackendConnection> ConnectAsync(NodeState node, string database, CancellationToken cancellationToken) =>
        AdminConnector.ConnectAsync(node, database, options.Current, "pgpoolconsole verify", cancellationToken);

    [LoggerMessage(EventId = 8001, Level = LogLevel.Information, Message = "consistency check {Id} started")]
    private static partial void LogStarted(ILogger logger, string id);

    [LoggerMessage(EventId = 8002, Level = LogLevel.Information, Message = "consistency check {Id} finished: {Tables} table(s), {Differing} differing")]
    private static partial void LogFinished(ILogger logger, string id, int tables, int differing);

    [LoggerMessage(EventId = 8003, Level = LogLevel.Error, Message = "consistency check {Id} failed: {Reason}")]
    private static partial void LogFailed(ILogger logger, string id, string reason);

    [LoggerMessage(EventId = 8004, Level = LogLevel.Warning, Message = "nodes differ in {Database}.{Table}: {Difference}")]
    private static partial void LogDifference(ILogger logger, string database, string table, string difference);
}
