namespace PgPoolConsole.Proxy.Sql;

/// <summary>
/// BEGIN, BEGIN WORK, BEGIN TRANSACTION or START TRANSACTION without transaction modes (comments
/// and trailing semicolons aside): a statement that cannot fail outside a transaction block and
/// does the same on a node whenever the node gets it.
/// </summary>
public static class PlainBegin
{
    /// <summary>The tag PostgreSQL answers a plain BEGIN with ("BEGIN", "START TRANSACTION"); null for any other statement.</summary>
    public static string? CommandTag(string sql)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var tokens = TokenListPool.Rent();
        try
        {
            SqlLexer.Tokenize(sql, tokens);
            var words = tokens.Count;
            while (words > 0 && tokens[words - 1].Kind == SqlTokenKind.Semicolon)
            {
                words--;
            }

            var text = sql.AsSpan();
            return words switch
            {
                1 when SqlLexer.IsKeyword(text, tokens[0], "begin") => "BEGIN",
                2 when SqlLexer.IsKeyword(text, tokens[0], "begin") && (SqlLexer.IsKeyword(text, tokens[1], "work") || SqlLexer.IsKeyword(text, tokens[1], "transaction")) => "BEGIN",
                2 when SqlLexer.IsKeyword(text, tokens[0], "start") && SqlLexer.IsKeyword(text, tokens[1], "transaction") => "START TRANSACTION",
                _ => null,
            };
        }
        finally
        {
            TokenListPool.Return(tokens);
        }
    }
}
