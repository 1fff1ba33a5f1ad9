using System.Runtime.InteropServices;

namespace PgPoolConsole.Proxy.Sql;

/// <summary>
/// PGPOOL SHOW name | ALL, PGPOOL SET name { TO | = } { value | 'value' | DEFAULT } and PGPOOL RESET
/// name | ALL, read as pgpool-II 4.3 reads them.
/// </summary>
/// <param name="Command">PgpoolShow, PgpoolSet or PgpoolReset.</param>
/// <param name="Name">The parameter, lower-cased unless quoted; null for ALL.</param>
/// <param name="Value">SET's value as written (quotes removed); null for DEFAULT.</param>
public sealed record PgpoolStatement(PoolCommand Command, string? Name, string? Value)
{
    public const string ShowSyntax = "PGPOOL SHOW { name | ALL }";
    public const string SetSyntax = "PGPOOL SET name { TO | = } { value | 'value' | DEFAULT }";
    public const string ResetSyntax = "PGPOOL RESET { name | ALL }";

    /// <summary>Reads one PGPOOL command; null when it does not follow the command's syntax.</summary>
    public static PgpoolStatement? Parse(string sql, PoolCommand command)
    {
        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(sql, tokens);
        var end = tokens.Count;
        if (end > 0 && tokens[end - 1].Kind == SqlTokenKind.Semicolon)
        {
            end--;
        }

        // tokens[0] and tokens[1] are PGPOOL and the verb: the classifier matched them.
        if (end < 3 || tokens[2].Kind is not (SqlTokenKind.Identifier or SqlTokenKind.QuotedIdentifier))
        {
            return null;
        }

        var span = CollectionsMarshal.AsSpan(tokens)[..end];
        var name = SqlNames.FromToken(sql, span, 2);
        var isAll = tokens[2].Kind == SqlTokenKind.Identifier && name == "all";
        if (command is PoolCommand.PgpoolShow or PoolCommand.PgpoolReset)
        {
            return end == 3 ? new PgpoolStatement(command, isAll ? null : name, null) : null;
        }

        if (isAll || end < 5 || !(SqlLexer.IsKeyword(sql, span[3], "to") || span[3] is { Kind: SqlTokenKind.Operator, Length: 1 } && sql[span[3].Start] == '='))
        {
            return null;
        }

        var value = span[4];
        switch (value.Kind)
        {
            case SqlTokenKind.Identifier when end == 5:
                var word = SqlNames.FromToken(sql, span, 4);
                return new PgpoolStatement(command, name, word == "default" ? null : word);
            case SqlTokenKind.String when end == 5 && SqlStrings.Value(sql, value) is { } text:
                return new PgpoolStatement(command, name, text);
            case SqlTokenKind.Number when end == 5:
                return new PgpoolStatement(command, name, sql.Substring(value.Start, value.Length));
            case SqlTokenKind.Operator when end == 6 && value.Length == 1 && sql[value.Start] is '-' or '+' && span[5].Kind == SqlTokenKind.Number:
                return new PgpoolStatement(command, name, sql[value.Start] + sql.Substring(span[5].Start, span[5].Length));
            default:
                return null;
        }
    }
}
