using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>Names that some statements carry, read with the SQL lexer.</summary>
public static class StatementNames
{
    /// <summary>
    /// The prepared statement a <c>DEALLOCATE [PREPARE] name</c> removes, or null for
    /// <c>DEALLOCATE [PREPARE] ALL</c> (and anything unrecognised: then every name is forgotten).
    /// </summary>
    public static string? DeallocateTarget(ReadOnlySpan<char> statement)
    {
        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(statement, tokens);
        var index = 1;
        if (index < tokens.Count && SqlLexer.IsKeyword(statement, tokens[index], "prepare"))
        {
            index++;
        }

        if (index >= tokens.Count || SqlLexer.IsKeyword(statement, tokens[index], "all"))
        {
            return null;
        }

        var token = tokens[index];
        var text = statement.Slice(token.Start, token.Length).ToString();
        return token.Kind switch
        {
            SqlTokenKind.Identifier => text.ToLowerInvariant(),
            SqlTokenKind.QuotedIdentifier => text[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal),
            _ => null,
        };
    }
}
