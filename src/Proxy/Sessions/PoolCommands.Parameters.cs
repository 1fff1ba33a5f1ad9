using System.Text;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>PGPOOL SHOW, SET and RESET: pgpool's parameters as this session sees them, and its own changes.</summary>
internal static partial class PoolCommands
{
    private static readonly string[] GroupColumns = ["item", "value", "description"];

    private static async Task RespondToPgpoolAsync(ClientSession session, PoolCommand command, string sql, CancellationToken cancellationToken)
    {
        if (PgpoolStatement.Parse(sql, command) is not { } statement)
        {
            await session.SendPoolErrorAsync("42601", SyntaxError(command, sql), cancellationToken);
            return;
        }

        if (command == PoolCommand.PgpoolShow)
        {
            var (table, sqlState, error) = Show(session, statement.Name);
            await (table is not null
                ? session.SendTableAsync(table, cancellationToken)
                : session.SendPoolErrorAsync(sqlState, error, cancellationToken));
            return;
        }

        if (statement.Name is null)
        {
            session.Settings.ResetAll();
            await session.SendCommandCompleteAsync("RESET", cancellationToken);
            return;
        }

        var definition = SessionSettable(statement.Name, out var refusalState, out var refusal);
        if (definition is null)
        {
            await session.SendPoolErrorAsync(refusalState, refusal, cancellationToken);
            return;
        }

        if (statement.Value is null)
        {
            session.Settings.Reset(definition.Name);
        }
        else if (definition.TryParse(statement.Value, out var value))
        {
            session.Settings.Set(definition.Name, value);
        }
        else
        {
            await session.SendPoolErrorAsync("22023", $"invalid value for parameter \"{definition.Name}\": \"{statement.Value}\"", cancellationToken, $"Allowed: {definition.AllowedText}.");
            return;
        }

        // pgpool-II answers PGPOOL RESET name with SET too.
        await session.SendCommandCompleteAsync("SET", cancellationToken);
    }

    /// <summary>
    /// The extended protocol (JDBC, Npgsql): pgpool-II sends these commands on to PostgreSQL, which
    /// fails on them. Here a SHOW becomes a SELECT of its rows, as literals, that a node answers like
    /// any query, so Describe, Execute and row limits work as usual. The rows are those of the
    /// moment of the Parse, so a named (reused) statement is refused; so are PGPOOL SET and RESET,
    /// whose change must happen when the statement runs, not when it is parsed.
    /// </summary>
    internal static (string? Sql, PgErrorFields? Error) OverExtendedProtocol(ClientSession session, PoolCommand command, string sql, bool named)
    {
        if (command is PoolCommand.PgpoolSet or PoolCommand.PgpoolReset)
        {
            return (null, Error("0A000", "PGPOOL SET and PGPOOL RESET need the simple query protocol, as in pgpool-II: psql sends them so, and pgjdbc with preferQueryMode=simple"));
        }

        if (named)
        {
            return (null, Error("0A000", "pgpool's SHOW commands cannot be prepared as a named statement: it would keep showing the values of the moment it was prepared; send them unprepared"));
        }

        if (command != PoolCommand.PgpoolShow)
        {
            return ShowTable(session, command) is { } table ? (AsSelect(table), null) : (null, Error("0A000", Unsupported(command)));
        }

        if (PgpoolStatement.Parse(sql, command) is not { } statement)
        {
            return (null, Error("42601", SyntaxError(command, sql)));
        }

        var (shown, sqlState, error) = Show(session, statement.Name);
        return shown is not null ? (AsSelect(shown), null) : (null, Error(sqlState, error));
    }

    private static string SyntaxError(PoolCommand command, string sql)
    {
        var syntax = command switch
        {
            PoolCommand.PgpoolShow => PgpoolStatement.ShowSyntax,
            PoolCommand.PgpoolSet => PgpoolStatement.SetSyntax,
            _ => PgpoolStatement.ResetSyntax,
        };
        return $"syntax error in \"{sql.Trim()}\": expected {syntax}";
    }

    private static PgErrorFields Error(string sqlState, string message) => new() { Severity = "ERROR", SqlState = sqlState, Message = message };

    /// <summary>A SELECT returning the table's rows as text, in its column names.</summary>
    private static string AsSelect(Table table)
    {
        var sql = new StringBuilder("SELECT ");
        if (table.Rows.Count == 0)
        {
            sql.AppendJoin(", ", table.Columns.Select(c => $"NULL::text AS {BackendQuery.Identifier(c)}")).Append(" WHERE false");
            return sql.ToString();
        }

        sql.Append("* FROM (VALUES ");
        for (var row = 0; row < table.Rows.Count; row++)
        {
            sql.Append(row == 0 ? "(" : ", (")
                .AppendJoin(", ", table.Rows[row].Select(v => v is null ? "NULL::text" : EscapedLiteral(v) + "::text"))
                .Append(')');
        }

        return sql.Append(") AS pool (").AppendJoin(", ", table.Columns.Select(BackendQuery.Identifier)).Append(')').ToString();
    }

    /// <summary>An E'' literal: the same value whatever the client set standard_conforming_strings to.</summary>
    private static string EscapedLiteral(string value) =>
        "E'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>The definition of a parameter PGPOOL SET may change; else null and why not.</summary>
    private static SettingDefinition? SessionSettable(string name, out string sqlState, out string refusal)
    {
        var key = PgPoolSettings.Classify(name);
        var definition = key.Definition;
        (sqlState, refusal) = ("", "");
        if (definition is not null && key.Kind == KeyKind.Global && SessionSettings.Settable.Contains(definition.Name))
        {
            return definition;
        }

        (sqlState, refusal) = key.Kind switch
        {
            KeyKind.Ignored => ("0A000", $"parameter \"{name}\" has no effect in pgpoolconsole: what it controls is not part of pgpoolconsole (the key is accepted in pgpool.conf for compatibility)"),
            KeyKind.Unknown => ("42704", $"unrecognized configuration parameter \"{name}\""),
            _ => ("55P02", $"parameter \"{name}\" cannot be changed for a session; change it in pgpool.conf and {(definition!.NeedsRestart ? "restart" : "reload")}. PGPOOL SET can change: {string.Join(", ", SessionSettings.Settable.Order(StringComparer.Ordinal))}"),
        };
        return null;
    }

    /// <summary>
    /// PGPOOL SHOW as pgpool-II answers it: one column for one value; item, value and description rows for
    /// ALL, for a per-node parameter without node number (backend_weight), for one that is global and per
    /// node (health_check_period) and for the groups "backend" and "health_check".
    /// </summary>
    private static (Table? Table, string SqlState, string Error) Show(ClientSession session, string? name)
    {
        var options = session.Context.Options.Current;
        var effective = options.Effective;
        if (name is null)
        {
            return (new Table(GroupColumns, [.. effective.Select(s => Row(s, session.Settings.Changed(s.Name)))]), "", "");
        }

        var byName = effective.ToDictionary(s => s.Name, StringComparer.Ordinal);
        var perNode = new List<SettingDefinition>();
        var key = PgPoolSettings.Classify(name);
        switch (key.Kind)
        {
            case KeyKind.Global when key.Definition!.Scope != SettingScope.GlobalAndPerNode:
                var setting = byName[key.Definition.Name];
                return (new Table([name], [[session.Settings.Changed(setting.Name) ?? setting.Value]]), "", "");
            case KeyKind.PerNode when byName.TryGetValue(key.Definition!.Name + key.NodeId, out var nodeSetting):
                return (new Table([name], [[nodeSetting.Value]]), "", "");
            case KeyKind.Global or KeyKind.NodeIdMissing:
                perNode.Add(key.Definition!);
                break;
            case KeyKind.Ignored:
                return (null, "0A000", $"config variable \"{name}\" has no effect in pgpoolconsole: what it controls is not part of pgpoolconsole (the key is accepted in pgpool.conf for compatibility)");
            case KeyKind.Unknown when name is "backend" or "health_check":
                perNode.AddRange(PgPoolSettings.All.Where(d => name == "backend"
                    ? d.Scope == SettingScope.PerNode
                    : d.Scope == SettingScope.GlobalAndPerNode && d.Name.StartsWith("health_check_", StringComparison.Ordinal)));
                break;
            default:
                return (null, "42704", $"config variable \"{name}\" not found");
        }

        var rows = perNode.Where(d => d.Scope == SettingScope.GlobalAndPerNode).Select(d => Row(byName[d.Name], null)).ToList();
        foreach (var backend in options.Backends)
        {
            rows.AddRange(perNode.Select(d => Row(byName[d.Name + backend.Id], null)));
        }

        return (new Table(GroupColumns, rows), "", "");
    }

    private static string?[] Row(EffectiveSetting setting, string? sessionValue) =>
        [setting.Name, sessionValue ?? setting.Value, setting.Description];
}
