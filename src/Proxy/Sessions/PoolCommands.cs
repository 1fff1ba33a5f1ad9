using System.Globalization;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// pgpool's SQL-level commands answered by the proxy itself (SHOW POOL_NODES and friends), with
/// pgpool-II 4.3's column names so existing scripts and monitoring keep working.
/// </summary>
internal static partial class PoolCommands
{
    public static async Task RespondAsync(ClientSession session, QueryPlan plan, string sql, CancellationToken cancellationToken)
    {
        if (plan.PoolCommand is PoolCommand.PgpoolShow or PoolCommand.PgpoolSet or PoolCommand.PgpoolReset)
        {
            await RespondToPgpoolAsync(session, plan.PoolCommand, sql, cancellationToken);
            return;
        }

        if (ShowTable(session, plan.PoolCommand) is { } table)
        {
            await session.SendTableAsync(table, cancellationToken);
            return;
        }

        await session.SendPoolErrorAsync("0A000", Unsupported(plan.PoolCommand), cancellationToken);
    }

    /// <summary>What SHOW POOL_NODES and the other SHOW POOL_* commands answer; null for one we do not have.</summary>
    private static Table? ShowTable(ClientSession session, PoolCommand command)
    {
        var context = session.Context;
        return command switch
        {
            PoolCommand.ShowPoolNodes => PoolNodes(context, session.LoadBalanceNodeId),
            PoolCommand.ShowPoolVersion => new Table(["pool_version"], [[context.Version]]),
            PoolCommand.ShowPoolProcesses => PoolProcesses(context),
            PoolCommand.ShowPoolPools => PoolPools(context),
            PoolCommand.ShowPoolHealthCheckStats => HealthCheckStats(context),
            PoolCommand.ShowPoolBackendStats => BackendStats(context),
            PoolCommand.ShowPoolStatus => PoolStatus(context),
            _ => null,
        };
    }

    private static string Unsupported(PoolCommand command) => command switch
    {
        PoolCommand.ShowPoolCache => "SHOW POOL_CACHE: the query cache is not part of pgpoolconsole",
        _ => $"{command} is not supported",
    };

    private static Table PoolNodes(ProxyContext context, int loadBalanceNodeId)
    {
        var snapshot = context.Store.Current;
        var rows = new List<string?[]>();
        foreach (var node in snapshot.Nodes)
        {
            var role = StatusNames.Of(snapshot.RoleOf(node.Id));
            rows.Add(
            [
                node.Id.ToString(CultureInfo.InvariantCulture),
                node.Host,
                node.Port.ToString(CultureInfo.InvariantCulture),
                node.StatusName,
                ClusterReports.PgStatus(context.Store, node),
                snapshot.NormalizedWeight(node.Id).ToString("F6", CultureInfo.InvariantCulture),
                role,
                role,
                context.Store.Statistics(node.Id).SelectCount.ToString(CultureInfo.InvariantCulture),
                node.Id == loadBalanceNodeId ? "true" : "false",
                "0",
                "",
                "",
                ClusterReports.FormatTime(node.LastStatusChange),
            ]);
        }

        return new Table(["node_id", "hostname", "port", "status", "pg_status", "lb_weight", "role", "pg_role", "select_cnt", "load_balance_node", "replication_delay", "replication_state", "replication_sync_state", "last_status_change"], rows);
    }

    private static Table PoolProcesses(ProxyContext context)
    {
        var rows = new List<string?[]>();
        foreach (var session in context.Store.Sessions.List())
        {
            var backend = session.Backends.FirstOrDefault();
            rows.Add(
            [
                session.Id.ToString(CultureInfo.InvariantCulture),
                ClusterReports.FormatTime(session.StartedAt),
                "1",
                session.Database,
                session.User,
                backend is null ? "" : ClusterReports.FormatTime(backend.ConnectedAt),
                (backend?.ReuseCount ?? 0).ToString(CultureInfo.InvariantCulture),
                ClusterReports.ProcessStatus(session.Activity),
            ]);
        }

        return new Table(["pool_pid", "start_time", "client_connection_count", "database", "username", "backend_connection_time", "pool_counter", "status"], rows);
    }

    private static Table PoolPools(ProxyContext context)
    {
        var rows = ClusterReports.PoolRows(context.Store.Sessions.List().Where(s => s.Backends.Count > 0), context.TimeProvider.GetUtcNow()).Select(r => (string?[])r).ToList();
        return new Table(["pool_pid", "start_time", "client_connection_count", "pool_id", "backend_id", "database", "username", "backend_connection_time", "client_connection_time", "client_disconnection_time", "client_idle_duration", "majorversion", "minorversion", "pool_counter", "pool_backendpid", "pool_connected", "status"], rows);
    }

    private static Table HealthCheckStats(ProxyContext context)
    {
        var snapshot = context.Store.Current;
        var rows = snapshot.Nodes.Select(node => (string?[])ClusterReports.HealthCheckRow(context.Store, snapshot, node)).ToList();
        return new Table(["node_id", "hostname", "port", "status", "role", "last_status_change", "total_count", "success_count", "fail_count", "skip_count", "retry_count", "average_retry_count", "max_retry_count", "max_duration", "min_duration", "average_duration", "last_health_check", "last_successful_health_check", "last_skip_health_check", "last_failed_health_check"], rows);
    }

    private static Table BackendStats(ProxyContext context)
    {
        var snapshot = context.Store.Current;
        var rows = new List<string?[]>();
        foreach (var node in snapshot.Nodes)
        {
            var s = context.Store.Statistics(node.Id);
            rows.Add(
            [
                node.Id.ToString(CultureInfo.InvariantCulture),
                node.Host,
                node.Port.ToString(CultureInfo.InvariantCulture),
                node.StatusName,
                StatusNames.Of(snapshot.RoleOf(node.Id)),
                s.SelectCount.ToString(CultureInfo.InvariantCulture),
                s.InsertCount.ToString(CultureInfo.InvariantCulture),
                s.UpdateCount.ToString(CultureInfo.InvariantCulture),
                s.DeleteCount.ToString(CultureInfo.InvariantCulture),
                s.DdlCount.ToString(CultureInfo.InvariantCulture),
                s.OtherCount.ToString(CultureInfo.InvariantCulture),
                s.PanicCount.ToString(CultureInfo.InvariantCulture),
                s.FatalCount.ToString(CultureInfo.InvariantCulture),
                s.ErrorCount.ToString(CultureInfo.InvariantCulture),
            ]);
        }

        return new Table(["node_id", "hostname", "port", "status", "role", "select_cnt", "insert_cnt", "update_cnt", "delete_cnt", "ddl_cnt", "other_cnt", "panic_cnt", "fatal_cnt", "error_cnt"], rows);
    }

    private static Table PoolStatus(ProxyContext context) =>
        new(["item", "value", "description"], [.. context.Options.Current.Effective.Select(s => new string?[] { s.Name, s.IsSecret ? "********" : s.Value, s.Description })]);

    internal sealed record Table(string[] Columns, List<string?[]> Rows);
}

public sealed partial class ClientSession
{
    private const int TextTypeOid = 25;

    internal ProxyContext Context => _context;

    internal int LoadBalanceNodeId => _loadBalanceNodeId;

    internal SessionSettings Settings => _settings;

    internal async Task SendTableAsync(PoolCommands.Table table, CancellationToken cancellationToken)
    {
        PgWriter.RowDescription(_clientOut, [.. table.Columns.Select(c => (c, TextTypeOid))]);
        foreach (var row in table.Rows)
        {
            PgWriter.DataRow(_clientOut, row);
        }

        PgWriter.CommandComplete(_clientOut, $"SELECT {table.Rows.Count}");
        WriteReadyForQuery(_transactionStatus);
        await _clientOut.FlushAsync(cancellationToken);
    }

    internal async Task SendPoolErrorAsync(string sqlState, string message, CancellationToken cancellationToken, string? hint = null) =>
        await SendErrorAndReadyAsync(sqlState, message, null, cancellationToken, hint);

    internal async Task SendCommandCompleteAsync(string tag, CancellationToken cancellationToken)
    {
        PgWriter.CommandComplete(_clientOut, tag);
        WriteReadyForQuery(_transactionStatus);
        await _clientOut.FlushAsync(cancellationToken);
    }
}
