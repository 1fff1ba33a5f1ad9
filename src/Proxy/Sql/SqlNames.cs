using System.Collections.Frozen;
using System.Globalization;
using System.Text;

namespace PgPoolConsole.Proxy.Sql;

/// <summary>Turns identifier tokens into names the way PostgreSQL resolves them.</summary>
/// <remarks>
/// The only strings the SQL module allocates are the names it reports. Names the proxy meets on
/// almost every query (pg_catalog, public, nextval, now, count...) come from a frozen set instead.
/// </remarks>
internal static class SqlNames
{
    /// <summary>NAMEDATALEN - 1: PostgreSQL truncates longer identifiers to this many UTF-8 bytes.</summary>
    private const int MaxIdentifierBytes = 63;

    private const int StackLimit = 64;

    private static readonly FrozenSet<string> Common = FrozenSet.Create(
        StringComparer.Ordinal,
        "pg_catalog", "public", "information_schema", "pg_temp", "nextval", "setval", "currval", "lastval", "now",
        "count", "sum", "avg", "min", "max", "lower", "upper", "length", "random", "generate_series", "array_agg",
        "string_agg", "json_agg", "jsonb_agg", "json_build_object", "jsonb_build_object", "to_char", "to_timestamp",
        "date_trunc", "date_part", "set_config", "current_setting", "pg_sleep", "row_number", "rank", "abs", "round",
        "format", "concat", "substr", "replace", "unnest", "version", "pg_backend_pid", "txid_current",
        "pg_current_xact_id", "pg_advisory_lock", "pg_advisory_unlock", "pg_try_advisory_lock",
        "pg_advisory_xact_lock", "pg_notify", "clock_timestamp", "statement_timestamp", "gen_random_uuid");

    private static readonly FrozenSet<string>.AlternateLookup<ReadOnlySpan<char>> CommonLookup =
        Common.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>
    /// The name written by the identifier token at <paramref name="index"/>: unquoted names ASCII-lower-cased,
    /// quoted names exact (<c>""</c> is <c>"</c>, U&amp; escapes decoded, honouring a following UESCAPE), all
    /// truncated to 63 bytes.
    /// </summary>
    public static string FromToken(ReadOnlySpan<char> sql, ReadOnlySpan<SqlToken> tokens, int index)
    {
        var token = tokens[index];
        var text = sql.Slice(token.Start, token.Length);
        if (token.Kind != SqlTokenKind.QuotedIdentifier)
        {
            return Unquoted(text);
        }

        if (text[0] == '"')
        {
            return Truncate(Dequote(text[1..^1]));
        }

        var escape = '\\';
        if (index + 2 < tokens.Length
            && SqlLexer.IsKeyword(sql, tokens[index + 1], "uescape")
            && tokens[index + 2] is { Kind: SqlTokenKind.String, Length: 3 } escapeToken
            && sql[escapeToken.Start] == '\'')
        {
            escape = sql[escapeToken.Start + 1];
        }

        return Truncate(DecodeUnicodeEscapes(Dequote(text[3..^1]), escape));
    }

    private static string Unquoted(ReadOnlySpan<char> text)
    {
        if (text.Length <= StackLimit)
        {
            Span<char> buffer = stackalloc char[text.Length];
            LowerAscii(text, buffer);
            return CommonLookup.TryGetValue(buffer, out var common) ? common : Truncate(new string(buffer));
        }

        var chars = new char[text.Length];
        LowerAscii(text, chars);
        return Truncate(new string(chars));
    }

    /// <summary>PostgreSQL's downcase_identifier for UTF-8 databases: only ASCII letters change.</summary>
    private static void LowerAscii(ReadOnlySpan<char> source, Span<char> destination)
    {
        for (var i = 0; i < source.Length; i++)
        {
            var c = source[i];
            destination[i] = char.IsAsciiLetterUpper(c) ? (char)(c | 0x20) : c;
        }
    }

    private static string Dequote(ReadOnlySpan<char> body) =>
        body.Contains('"') ? new string(body).Replace("\"\"", "\"", StringComparison.Ordinal) : new string(body);

    /// <summary>U&amp;"..." escapes: <c>\XXXX</c>, <c>\+XXXXXX</c> and a doubled escape character; anything invalid is kept as written.</summary>
    private static string DecodeUnicodeEscapes(string body, char escape)
    {
        if (!body.Contains(escape, StringComparison.Ordinal))
        {
            return body;
        }

        var builder = new StringBuilder(body.Length);
        for (var i = 0; i < body.Length; i++)
        {
            var c = body[i];
            if (c != escape || i + 1 >= body.Length)
            {
                builder.Append(c);
            }
            else if (body[i + 1] == escape)
            {
                builder.Append(escape);
                i++;
            }
            else if (TryHex(body, i + 1, 4, out var code))
            {
                builder.Append((char)code);
                i += 4;
            }
            else if (body[i + 1] == '+' && TryHex(body, i + 2, 6, out code) && code <= 0x10FFFF && code is < 0xD800 or > 0xDFFF)
            {
                builder.Append(char.ConvertFromUtf32(code));
                i += 7;
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static bool TryHex(string text, int start, int count, out int value)
    {
        value = 0;
        return start + count <= text.Length
            && int.TryParse(text.AsSpan(start, count), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out value);
    }

    /// <summary>PostgreSQL's truncate_identifier: at most 63 UTF-8 bytes, never splitting a character.</summary>
    private static string Truncate(string name)
    {
        // Fast path: a UTF-16 code unit is at most 3 UTF-8 bytes.
        if (name.Length * 3 <= MaxIdentifierBytes || Encoding.UTF8.GetByteCount(name) <= MaxIdentifierBytes)
        {
            return name;
        }

        var bytes = 0;
        var i = 0;
        while (i < name.Length)
        {
            var width = char.IsHighSurrogate(name[i]) && i + 1 < name.Length ? 2 : 1;
            var size = Encoding.UTF8.GetByteCount(name.AsSpan(i, width));
            if (bytes + size > MaxIdentifierBytes)
            {
                break;
            }

            bytes += size;
            i += width;
        }

        return name[..i];
    }
}
