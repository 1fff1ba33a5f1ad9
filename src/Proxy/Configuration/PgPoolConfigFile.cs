using System.Text;

namespace PgPoolConsole.Proxy.Configuration;

/// <summary>
/// Reads pgpool.conf: PostgreSQL's configuration-file syntax as pgpool-II uses it.
/// <list type="bullet">
/// <item><c>key = value</c> or <c>key value</c>, one per line; <c>#</c> starts a comment outside quotes.</item>
/// <item>Unquoted values: names (letters, digits, <c>_ - . : /</c>, starting with a letter) and numbers
/// (sign, decimals, exponent, 0x hex, an optional unit such as <c>30s</c>).</item>
/// <item>Quoted values: <c>'...'</c> with <c>''</c> or <c>\'</c> for a quote and the escapes
/// <c>\b \f \n \r \t \\</c> and octal <c>\ooo</c>; a quoted value cannot span lines.</item>
/// <item>Keys are case-insensitive and returned in lower case. A key may appear more than once; every
/// occurrence is returned in file order (the loader lets the last one win).</item>
/// </list>
/// Every syntax error in the text is reported in one <see cref="ConfigException"/>.
/// </summary>
public static class PgPoolConfigFile
{
    private static readonly string[] IncludeDirectives = ["include", "include_dir", "include_if_exists"];

    public static IReadOnlyList<ConfigEntry> Parse(string text, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(sourceName);

        var entries = new List<ConfigEntry>();
        var errors = new List<ConfigMessage>();
        foreach (var (lineNumber, line) in ConfigLines.Split(text))
        {
            var result = ParseLine(line);
            if (result.Error is { } error)
            {
                errors.Add(new ConfigMessage(sourceName, lineNumber, result.Key, error));
            }
            else if (result.Key is { } key)
            {
                entries.Add(new ConfigEntry(key, result.Value!, sourceName, lineNumber));
            }
        }

        return errors.Count > 0 ? throw new ConfigException([.. errors]) : [.. entries];
    }

    private readonly record struct LineResult(string? Key, string? Value, string? Error);

    private static LineResult ParseLine(string line)
    {
        var pos = SkipSpace(line, 0);
        if (AtEndOrComment(line, pos))
        {
            return default;
        }

        var keyStart = pos;
        if (!IsLetter(line[pos]))
        {
            return SyntaxError(null, line.Trim(), "expected a parameter name");
        }

        while (pos < line.Length && IsLetterOrDigit(line[pos]))
        {
            pos++;
        }

        var key = line[keyStart..pos].ToLowerInvariant();
        pos = SkipSpace(line, pos);
        if (pos < line.Length && line[pos] == '=')
        {
            pos = SkipSpace(line, pos + 1);
        }

        if (IncludeDirectives.Contains(key))
        {
            return new LineResult(key, null,
                $"\"{key}\" is not supported by PgPoolConsole; copy the included settings into this file");
        }

        if (AtEndOrComment(line, pos))
        {
            return SyntaxError(key, StripComment(line).Trim(), $"missing value for parameter \"{key}\"");
        }

        var valueStart = pos;
        string value;
        if (line[pos] == '\'')
        {
            var quoted = ReadQuoted(line, ref pos);
            if (quoted is null)
            {
                return SyntaxError(key, line[valueStart..].TrimEnd(), "unterminated quoted string");
            }

            value = quoted;
        }
        else
        {
            while (pos < line.Length && !IsSpace(line[pos]) && line[pos] != '#')
            {
                pos++;
            }

            value = line[valueStart..pos];
            if (value.Contains('\''))
            {
                return SyntaxError(key, line[valueStart..].TrimEnd(), "unterminated quoted string");
            }

            if (!IsUnquotedName(value) && !IsNumber(value))
            {
                return SyntaxError(key, value,
                    "an unquoted value may only be a number or a name made of letters, digits and _ - . : / (quote other values)");
            }
        }

        pos = SkipSpace(line, pos);
        if (!AtEndOrComment(line, pos))
        {
            return SyntaxError(key, StripComment(line[pos..]).TrimEnd(),
                $"unexpected text after the value of \"{key}\" (quote values that contain spaces)");
        }

        return new LineResult(key, value, null);
    }

    private static LineResult SyntaxError(string? key, string near, string what) =>
        new(key, null, $"syntax error near \"{near}\": {what}");

    /// <summary>Reads '...' starting at the opening quote; null when the line ends first.</summary>
    private static string? ReadQuoted(string line, ref int pos)
    {
        var value = new StringBuilder();
        pos++;
        while (pos < line.Length)
        {
            var c = line[pos];
            if (c == '\'')
            {
                if (pos + 1 < line.Length && line[pos + 1] == '\'')
                {
                    value.Append('\'');
                    pos += 2;
                    continue;
                }

                pos++;
                return value.ToString();
            }

            if (c == '\\' && pos + 1 < line.Length)
            {
                pos = ReadEscape(line, pos + 1, value);
                continue;
            }

            value.Append(c);
            pos++;
        }

        return null;
    }

    /// <summary>Appends the character an escape stands for; returns the position after it.</summary>
    private static int ReadEscape(string line, int pos, StringBuilder value)
    {
        var c = line[pos];
        if (c is >= '0' and <= '7')
        {
            var code = 0;
            var end = Math.Min(pos + 3, line.Length);
            while (pos < end && line[pos] is >= '0' and <= '7')
            {
                code = (code * 8) + (line[pos] - '0');
                pos++;
            }

            value.Append((char)code);
            return pos;
        }

        value.Append(c switch
        {
            'b' => '\b',
            'f' => '\f',
            'n' => '\n',
            'r' => '\r',
            't' => '\t',
            _ => c,
        });
        return pos + 1;
    }

    private static string StripComment(string text)
    {
        var hash = text.IndexOf('#', StringComparison.Ordinal);
        return hash < 0 ? text : text[..hash];
    }

    private static bool AtEndOrComment(string line, int pos) => pos >= line.Length || line[pos] == '#';

    private static int SkipSpace(string line, int pos)
    {
        while (pos < line.Length && IsSpace(line[pos]))
        {
            pos++;
        }

        return pos;
    }

    private static bool IsSpace(char c) => c is ' ' or '\t' or '\r' or '\f' or '\v';

    // As in pgpool's lexer, any non-ASCII character counts as a letter.
    private static bool IsLetter(char c) => char.IsAsciiLetter(c) || c == '_' || c >= '\u0080';

    private static bool IsLetterOrDigit(char c) => IsLetter(c) || char.IsAsciiDigit(c);

    private static bool IsUnquotedName(string value) =>
        IsLetter(value[0]) && value.All(c => IsLetterOrDigit(c) || c is '-' or '.' or ':' or '/');

    /// <summary>[+-] digits [. digits] [e[+-]digits] [unit letters], or [+-] 0x hexdigits.</summary>
    internal static bool IsNumber(string value)
    {
        var i = value.Length > 0 && value[0] is '+' or '-' ? 1 : 0;
        if (value.Length > i + 2 && value[i] == '0' && value[i + 1] is 'x' or 'X')
        {
            return value[(i + 2)..].All(char.IsAsciiHexDigit);
        }

        var digits = CountDigits(value, ref i);
        if (i < value.Length && value[i] == '.')
        {
            i++;
            digits += CountDigits(value, ref i);
        }

        if (digits == 0)
        {
            return false;
        }

        if (i + 1 < value.Length && value[i] is 'e' or 'E')
        {
            var j = value[i + 1] is '+' or '-' ? i + 2 : i + 1;
            if (CountDigits(value, ref j) > 0)
            {
                i = j;
            }
        }

        return value[i..].All(char.IsAsciiLetter);
    }

    private static int CountDigits(string value, ref int i)
    {
        var start = i;
        while (i < value.Length && char.IsAsciiDigit(value[i]))
        {
            i++;
        }

        return i - start;
    }
}
