using Npgsql;
using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Tests.Infrastructure;

/// <summary>Small SQL helpers over a node's superuser connection (pooling off).</summary>
public static class NodeSql
{
    /// <summary>The first column of every row of <paramref name="sql"/>, as text (NULL becomes "NULL").</summary>
    public static async Task<IReadOnlyList<string>> ReadColumnAsync(
        PostgresInstance node, string database, string sql, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(node);
        await using var connection = new NpgsqlConnection(node.ConnectionString(database, PostgresInstance.Superuser, node.Options.Password));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        var values = new List<string>();
        while (await reader.ReadAsync(cancellationToken))
        {
            values.Add(reader.IsDBNull(0) ? "NULL" : reader.GetValue(0).ToString() ?? string.Empty);
        }

        return values;
    }

    /// <summary>A double-quoted SQL identifier.</summary>
    public static string QuoteIdentifier(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
    }

    /// <summary>Terminates every backend connected to <paramref name="database"/> on a node (as an administrator would) and waits until they have exited.</summary>
    public static async Task TerminateBackendsAsync(PostgresInstance node, string database)
    {
        ArgumentNullException.ThrowIfNull(node);
        await node.ExecuteAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}' AND pid <> pg_backend_pid()");
        await Eventually.TrueAsync(
            async () => (await ReadColumnAsync(node, "postgres", $"SELECT count(*)::text FROM pg_stat_activity WHERE datname = '{database}'")).SequenceEqual(["0"]),
            TimeSpan.FromSeconds(10),
            $"the backends of {database} on {node.Name} exit");
    }
}
