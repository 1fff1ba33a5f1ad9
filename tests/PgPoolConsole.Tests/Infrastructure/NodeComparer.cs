using System.Globalization;
using System.Text;
using PgPoolConsole.Api.Local;
using Xunit.Sdk;

namespace PgPoolConsole.Tests.Infrastructure;

/// <summary>
/// Compares table contents across nodes, row by row as PostgreSQL renders them (<c>t::text</c>),
/// and fails with a diff a human can act on: row counts per node, then the rows only one side has.
/// </summary>
public static class NodeComparer
{
    private const int MaxRowsShown = 10;

    /// <summary>Every row of <paramref name="table"/> as text, in <paramref name="orderBy"/> order (both are SQL text).</summary>
    public static Task<IReadOnlyList<string>> ReadTableAsync(PostgresInstance node, string database, string table, string orderBy) =>
        NodeSql.ReadColumnAsync(node, database, $"SELECT t::text FROM {table} t ORDER BY {orderBy}");

    /// <summary>Fails unless <paramref name="table"/> has the same rows, in the same order, on every node.</summary>
    public static async Task AssertTablesIdenticalAsync(IEnumerable<PostgresInstance> nodes, string database, string table, string orderBy)
    {
        var list = Materialise(nodes);
        var contents = await Task.WhenAll(list.Select(node => ReadTableAsync(node, database, table, orderBy)));
        var difference = Describe(list, contents, $"{database}.{table}");
        if (difference is not null)
        {
            throw new XunitException(difference);
        }
    }

    /// <summary>
    /// Fails unless every user table (all schemas but the system ones) exists on every node with
    /// the same rows. Rows are ordered by their whole text form, so every column takes part and
    /// types without a sort operator (json, point) work too.
    /// </summary>
    public static async Task AssertAllTablesIdenticalAsync(IEnumerable<PostgresInstance> nodes, string database)
    {
        var list = Materialise(nodes);
        const string TablesSql =
            "SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace " +
            "WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') " +
            "AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%' ORDER BY 1";
        var tables = await Task.WhenAll(list.Select(node => NodeSql.ReadColumnAsync(node, database, TablesSql)));
        var failures = new StringBuilder();
        var tableDifference = Describe(list, tables, $"the list of user tables in {database}");
        if (tableDifference is not null)
        {
            failures.Append(tableDifference).Append("\n\n");
        }

        foreach (var table in tables.SelectMany(t => t).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal))
        {
            if (tables.Any(t => !t.Contains(table)))
            {
                continue; // already reported as missing
            }

            var contents = await Task.WhenAll(list.Select(node => ReadTableAsync(node, database, table, "t::text COLLATE \"C\"")));
            var difference = Describe(list, contents, $"{database}.{table}");
            if (difference is not null)
            {
                failures.Append(difference).Append("\n\n");
            }
        }

        if (failures.Length > 0)
        {
            throw new XunitException(failures.ToString().TrimEnd());
        }
    }

    private static List<PostgresInstance> Materialise(IEnumerable<PostgresInstance> nodes)
    {
        ArgumentNullException.ThrowIfNull(nodes);
        var list = nodes.ToList();
        return list.Count >= 2 ? list : throw new ArgumentException("Comparing needs at least two nodes.", nameof(nodes));
    }

    /// <summary>Null when all equal node 0's rows; otherwise the message.</summary>
    private static string? Describe(IReadOnlyList<PostgresInstance> nodes, IReadOnlyList<IReadOnlyList<string>> rows, string what)
    {
        var reference = rows[0];
        var differing = Enumerable.Range(1, rows.Count - 1).Where(i => !rows[i].SequenceEqual(reference, StringComparer.Ordinal)).ToList();
        if (differing.Count == 0)
        {
            return null;
        }

        var message = new StringBuilder();
        message.Append(CultureInfo.InvariantCulture, $"{what} differs between nodes.\n");
        message.Append("Row counts: ")
            .AppendJoin(", ", nodes.Select((node, i) => string.Create(CultureInfo.InvariantCulture, $"{node.Name}={rows[i].Count}")))
            .Append('\n');
        foreach (var i in differing)
        {
            var left = nodes[0].Name;
            var right = nodes[i].Name;
            var firstDifference = Enumerable.Range(0, Math.Max(reference.Count, rows[i].Count))
                .First(r => r >= reference.Count || r >= rows[i].Count || !string.Equals(reference[r], rows[i][r], StringComparison.Ordinal));
            message.Append(CultureInfo.InvariantCulture, $"{left} vs {right}: first difference at row {firstDifference}: ")
                .Append(CultureInfo.InvariantCulture, $"{left}={RowAt(reference, firstDifference)} {right}={RowAt(rows[i], firstDifference)}\n");
            AppendOnlyIn(message, left, right, reference, rows[i]);
            AppendOnlyIn(message, right, left, rows[i], reference);
        }

        return message.ToString().TrimEnd();
    }

    private static string RowAt(IReadOnlyList<string> rows, int index) => index < rows.Count ? rows[index] : "(no row)";

    private static void AppendOnlyIn(StringBuilder message, string name, string other, IReadOnlyList<string> rows, IReadOnlyList<string> otherRows)
    {
        // Multiset difference: a duplicated row counts as often as it appears.
        var remaining = otherRows.GroupBy(r => r, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
        var only = new List<string>();
        foreach (var row in rows)
        {
            if (remaining.TryGetValue(row, out var count) && count > 0)
            {
                remaining[row] = count - 1;
            }
            else
            {
                only.Add(row);
            }
        }

        if (only.Count == 0)
        {
            return;
        }

        message.Append(CultureInfo.InvariantCulture, $"  {only.Count} row(s) only on {name}, not on {other}:\n");
        foreach (var row in only.Take(MaxRowsShown))
        {
            message.Append("    ").Append(row).Append('\n');
        }

        if (only.Count > MaxRowsShown)
        {
            message.Append(CultureInfo.InvariantCulture, $"    … and {only.Count - MaxRowsShown} more\n");
        }
    }
}
