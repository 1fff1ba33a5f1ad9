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

        return NameOf(statement, tokens[index]);
    }

    /// <summary>
    /// <c>PREPARE name [(type, ...)] AS statement</c>: the name, how many parameter types it
    /// declares, and where the prepared statement starts. Null when it cannot be read so.
    /// </summary>
    public static (string Name, int DeclaredTypes, int BodyStart)? PrepareParts(ReadOnlySpan<char> statement)
    {
        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(statement, tokens);
        if (tokens.Count < 4 || NameOf(statement, tokens[1]) is not { } name)
        {
            return null;
        }

        var index = 2;
        var declared = 0;
        if (tokens[index].Kind == SqlTokenKind.OpenParen)
        {
            var depth = 0;
            declared = tokens.Count > 3 && tokens[3].Kind == SqlTokenKind.CloseParen ? 0 : 1;
            for (; index < tokens.Count; index++)
            {
                var kind = tokens[index].Kind;
                depth += kind == SqlTokenKind.OpenParen ? 1 : kind == SqlTokenKind.CloseParen ? -1 : 0;
                declared += kind == SqlTokenKind.Comma && depth == 1 ? 1 : 0;
                if (depth == 0)
                {
                    break;
                }
            }

            index++;
        }

        return index + 1 < tokens.Count && SqlLexer.IsKeyword(statement, tokens[index], "as") ? (name, declared, tokens[index + 1].Start) : null;
    }

    /// <summary>
    /// <c>EXECUTE name [(argument, ...)]</c>: the name, and where the argument list's closing
    /// parenthesis is (-1 when there is no list). Null when it cannot be read so.
    /// </summary>
    public static (string Name, int CloseParen)? ExecuteParts(ReadOnlySpan<char> statement)
    {
        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(statement, tokens);
        if (tokens.Count < 2 || NameOf(statement, tokens[1]) is not { } name)
        {
            return null;
        }

        if (tokens.Count == 2)
        {
            return (name, -1);
        }

        var last = tokens[^1].Kind == SqlTokenKind.Semicolon ? tokens.Count - 2 : tokens.Count - 1;
        return tokens[2].Kind == SqlTokenKind.OpenParen && tokens[last].Kind == SqlTokenKind.CloseParen ? (name, tokens[last].Start) : null;
    }

    private static string? NameOf(ReadOnlySpan<char> statement, SqlToken token)
    {
        var text = statement.Slice(token.Start, token.Length).ToString();
        return token.Kind switch
        {
            SqlTokenKind.Identifier => text.ToLowerInvariant(),
            SqlTokenKind.QuotedIdentifier => text[1..^1].Replace("\"\"", "\"", StringComparison.Ordinal),
            _ => null,
        };
    }
}
