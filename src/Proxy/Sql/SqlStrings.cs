using System.Text;

namespace PgPoolConsole.Proxy.Sql;

/// <summary>The values of string constants, for statements whose options the proxy must read.</summary>
public static class SqlStrings
{
    /// <summary>
    /// The value of a standard ('it''s') or escape (E'\t') string constant; null for any other
    /// token or flavour (dollar-quoted, Unicode, bit strings), which callers treat as "not understood".
    /// </summary>
    public static string? Value(string sql, SqlToken token)
    {
        if (token.Kind != SqlTokenKind.String)
        {
            return null;
        }

        var text = sql.AsSpan(token.Start, token.Length);
        var escaped = text.Length > 0 && text[0] is 'e' or 'E';
        if (escaped)
        {
            text = text[1..];
        }

        if (text.Length < 2 || text[0] != '\'' || text[^1] != '\'')
        {
            return null;
        }

        text = text[1..^1];
        var value = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if (c == '\'' && i + 1 < text.Length && text[i + 1] == '\'')
            {
                value.Append('\'');
                i++;
            }
            else if (escaped && c == '\\' && i + 1 < text.Length)
            {
                i++;
                char? decoded = text[i] switch
                {
                    'b' => '\b',
                    'f' => '\f',
                    'n' => '\n',
                    'r' => '\r',
                    't' => '\t',
                    '\\' or '\'' or '"' => text[i],
                    _ => null, // octal, hex and Unicode escapes: not needed for the options read here
                };
                if (decoded is null)
                {
                    return null;
                }

                value.Append(decoded.Value);
            }
            else if (c == '\'')
            {
                return null; // joined segments ('a' 'b' across a newline): not understood
            }
            else
            {
                value.Append(c);
            }
        }

        return value.ToString();
    }
}
