using PgPoolConsole.Proxy.Configuration;
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
            var syntax = command switch
            {
                PoolCommand.PgpoolShow => PgpoolStatement.ShowSyntax,
                PoolCommand.PgpoolSet => PgpoolStatement.SetSyntax,
                _ => PgpoolStatement.ResetSyntax,
            };
            await session.SendPoolErrorAsync("42601", $"syntax error in \"{sql.Trim()}\": expected {syntax}", cancellationToken);
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
