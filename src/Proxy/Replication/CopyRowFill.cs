using System.Buffers;
using System.Text;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>The data format of a COPY.</summary>
public enum CopyDataFormat
{
    Text,
    Csv,
    Binary,
}

/// <summary>How the rows of a COPY FROM STDIN are written: its FORMAT, DELIMITER, NULL, QUOTE, ESCAPE and HEADER options.</summary>
public sealed record CopyDataLayout(CopyDataFormat Format, char Delimiter, string Null, char Quote, char Escape, bool Header, string? Encoding)
{
    /// <summary>
    /// Reads the options of a COPY ... FROM STDIN from the token after STDIN: the current
    /// <c>[WITH] (option value, ...)</c> syntax and the older <c>[WITH] DELIMITER 'x' CSV HEADER ...</c>.
    /// Null when an option is not understood.
    /// </summary>
    public static CopyDataLayout? Parse(string sql, List<SqlToken> tokens, int index)
    {
        var options = new Dictionary<string, string>(StringComparer.Ordinal);
        if (index < tokens.Count && SqlLexer.IsKeyword(sql, tokens[index], "with"))
        {
            index++;
        }

        var understood = index < tokens.Count && tokens[index].Kind == SqlTokenKind.OpenParen
            ? ReadOptionList(sql, tokens, index, options)
            : ReadLegacyOptions(sql, tokens, index, options);
        return understood ? FromOptions(options) : null;
    }

    private static CopyDataLayout? FromOptions(Dictionary<string, string> options)
    {
        var format = options.GetValueOrDefault("format", "text") switch
        {
            "text" => CopyDataFormat.Text,
            "csv" => CopyDataFormat.Csv,
            "binary" => CopyDataFormat.Binary,
            _ => (CopyDataFormat?)null,
        };
        if (format is not { } known)
        {
            return null;
        }

        var csv = known == CopyDataFormat.Csv;
        var delimiter = options.GetValueOrDefault("delimiter", csv ? "," : "\t");
        var quote = options.GetValueOrDefault("quote", "\"");
        var escape = options.GetValueOrDefault("escape", quote);
        if (delimiter.Length != 1 || quote.Length != 1 || escape.Length != 1 || delimiter[0] > 127 || quote[0] > 127 || escape[0] > 127)
        {
            return null; // PostgreSQL takes only single one-byte characters here
        }

        var header = options.GetValueOrDefault("header", "false") is not ("false" or "off" or "0");
        return new CopyDataLayout(known, delimiter[0], options.GetValueOrDefault("null", csv ? "" : "\\N"), quote[0], escape[0], header, options.GetValueOrDefault("encoding"));
    }

    // ( option [value], ... ): a value is a string, a word, a number or a parenthesised column list.
    private static bool ReadOptionList(string sql, List<SqlToken> tokens, int open, Dictionary<string, string> options)
    {
        var i = open + 1;
        while (i < tokens.Count && tokens[i].Kind == SqlTokenKind.Identifier)
        {
            var name = sql.Substring(tokens[i].Start, tokens[i].Length).ToLowerInvariant();
            i++;
            var value = "true";
            if (i < tokens.Count && tokens[i].Kind == SqlTokenKind.String)
            {
                if (SqlStrings.Value(sql, tokens[i]) is not { } text)
                {
                    return false;
                }

                value = text;
                i++;
            }
            else if (i < tokens.Count && tokens[i].Kind is SqlTokenKind.Identifier or SqlTokenKind.Number)
            {
                value = sql.Substring(tokens[i].Start, tokens[i].Length).ToLowerInvariant();
                i++;
            }
            else if (i < tokens.Count && tokens[i].Kind == SqlTokenKind.OpenParen)
            {
                while (i < tokens.Count && tokens[i].Kind != SqlTokenKind.CloseParen)
                {
                    i++; // FORCE_NOT_NULL (a, b): columns, not needed here
                }

                i++;
            }
            else if (i < tokens.Count && tokens[i].Kind == SqlTokenKind.Operator && sql[tokens[i].Start] == '*')
            {
                i++; // FORCE_QUOTE *
            }

            options[name] = value;
            if (i < tokens.Count && tokens[i].Kind == SqlTokenKind.Comma)
            {
                i++;
                continue;
            }

            return i < tokens.Count && tokens[i].Kind == SqlTokenKind.CloseParen;
        }

        return false;
    }

    // BINARY | DELIMITER [AS] 'x' | NULL [AS] 'x' | CSV | HEADER | QUOTE [AS] 'x' | ESCAPE [AS] 'x' | FORCE NOT NULL a, b | FORCE QUOTE a, b
    private static bool ReadLegacyOptions(string sql, List<SqlToken> tokens, int i, Dictionary<string, string> options)
    {
        while (i < tokens.Count && tokens[i].Kind != SqlTokenKind.Semicolon && !SqlLexer.IsKeyword(sql, tokens[i], "where"))
        {
            if (tokens[i].Kind != SqlTokenKind.Identifier)
            {
                return false;
            }

            var word = sql.Substring(tokens[i].Start, tokens[i].Length).ToLowerInvariant();
            i++;
            switch (word)
            {
                case "binary" or "csv":
                    options["format"] = word;
                    break;
                case "header":
                    options["header"] = "true";
                    break;
                case "delimiter" or "null" or "quote" or "escape":
                    if (i < tokens.Count && SqlLexer.IsKeyword(sql, tokens[i], "as"))
                    {
                        i++;
                    }

                    if (i >= tokens.Count || SqlStrings.Value(sql, tokens[i]) is not { } value)
                    {
                        return false;
                    }

                    options[word] = value;
                    i++;
                    break;
                case "force":
                    while (i < tokens.Count && (tokens[i].Kind is SqlTokenKind.Comma or SqlTokenKind.QuotedIdentifier || tokens[i].Kind == SqlTokenKind.Identifier && !IsLegacyOption(sql, tokens[i])
                        || SqlLexer.IsKeyword(sql, tokens[i], "not") || SqlLexer.IsKeyword(sql, tokens[i], "null") || SqlLexer.IsKeyword(sql, tokens[i], "quote")))
                    {
                        i++; // FORCE NOT NULL a, b: columns, not needed here
                    }

                    break;
                default:
                    return false;
            }
        }

        return true;
    }

    private static bool IsLegacyOption(string sql, SqlToken token) =>
        SqlLexer.IsKeyword(sql, token, "where") || SqlLexer.IsKeyword(sql, token, "binary") || SqlLexer.IsKeyword(sql, token, "csv")
        || SqlLexer.IsKeyword(sql, token, "header") || SqlLexer.IsKeyword(sql, token, "delimiter") || SqlLexer.IsKeyword(sql, token, "escape");

    /// <summary>A field in this layout: quoted or escaped as needed; null as the NULL string.</summary>
    public string Field(string? value)
    {
        if (value is null)
        {
            return Null;
        }

        var field = new StringBuilder(value.Length + 2);
        if (Format == CopyDataFormat.Csv)
        {
            if (value.Length > 0 && value != Null && value.IndexOfAny([Delimiter, Quote, Escape, '\r', '\n']) < 0)
            {
                return value;
            }

            field.Append(Quote);
            foreach (var c in value)
            {
                if (c == Quote || c == Escape)
                {
                    field.Append(Escape);
                }

                field.Append(c);
            }

            return field.Append(Quote).ToString();
        }

        foreach (var c in value)
        {
            _ = c switch
            {
                '\\' => field.Append(@"\\"),
                '\n' => field.Append(@"\n"),
                '\r' => field.Append(@"\r"),
                '\t' => field.Append(@"\t"),
                _ when c == Delimiter => field.Append('\\').Append(c),
                _ => field.Append(c),
            };
        }

        return field.ToString();
    }
}

/// <summary>
/// A COPY FROM STDIN that leaves columns with a time or random default out of its column list:
/// the proxy names them in the COPY and appends their values to every row, so every node stores
/// the same. A time default has one value for the whole COPY, evaluated once on the main node
/// (<see cref="Values"/>, a SELECT of each default as text, NULL for the others); a default that
/// is one random call (gen_random_uuid() ...) gets a value generated for each row (<see cref="PerRow"/>).
/// </summary>
public sealed record CopyRowFill(CopyDataLayout Layout, IReadOnlyList<string> Columns, SqlTemplate Values, IReadOnlyList<GeneratedValue?> PerRow)
{
    /// <summary>Whether any column takes its value from the main node (else <see cref="Values"/> need not run).</summary>
    public bool NeedsMainNode => PerRow.Any(generated => generated is null);
}

/// <summary>
/// Appends fields to every row of a COPY's text or CSV data as it streams through, however the
/// client cuts it into CopyData messages. Rows end where PostgreSQL's own line reader ends them:
/// at a newline or carriage return that is not escaped by a backslash (text) or inside quotes
/// (CSV); the end-of-data line <c>\.</c> is left alone. Only for client encodings in which every
/// byte of a multibyte character is above 127 (UTF8, the LATIN and EUC families).
/// </summary>
public sealed class CopyRowFiller
{
    private readonly bool _csv;
    private readonly byte _quote;
    private readonly byte _escape; // 0 in CSV when it is the quote character itself
    private readonly byte[] _rowSuffix;
    private readonly CopyDataLayout _layout;
    private readonly IReadOnlyList<string?> _values;
    private readonly IReadOnlyList<GeneratedValue?> _perRow;
    private readonly SearchValues<byte> _special;
    private byte[]? _headerSuffix;
    private bool _escaped;
    private bool _inQuote;
    private bool _lastWasEscape;
    private bool _afterCarriageReturn;
    private int _lineLength;
    private byte _first;
    private byte _second;

    /// <param name="values">Each appended column's value for every row.</param>
    /// <param name="perRow">For each column, null, or the random value to generate afresh for each row instead.</param>
    public CopyRowFiller(CopyDataLayout layout, IReadOnlyList<string> columns, IReadOnlyList<string?> values, IReadOnlyList<GeneratedValue?>? perRow = null)
    {
        ArgumentNullException.ThrowIfNull(layout);
        _layout = layout;
        _values = values;
        _perRow = perRow?.Any(generated => generated is not null) == true ? perRow : [];
        _csv = layout.Format == CopyDataFormat.Csv;
        _quote = (byte)layout.Quote;
        _escape = layout.Escape == layout.Quote ? (byte)0 : (byte)layout.Escape;
        _special = SearchValues.Create(_csv ? [(byte)'\n', (byte)'\r', _quote, _escape == 0 ? _quote : _escape] : [(byte)'\n', (byte)'\r', (byte)'\\']);
        _rowSuffix = Suffix(layout, values);
        _headerSuffix = layout.Header ? Suffix(layout, columns) : null;
    }

    private static byte[] Suffix(CopyDataLayout layout, IEnumerable<string?> fields) =>
        Encoding.UTF8.GetBytes(string.Concat(fields.Select(field => layout.Delimiter + layout.Field(field))));

    /// <summary>Writes <paramref name="data"/> to <paramref name="output"/> with the fields appended to each row it ends.</summary>
    public void Transform(ReadOnlySequence<byte> data, IBufferWriter<byte> output)
    {
        foreach (var segment in data)
        {
            var span = segment.Span;
            var copied = 0;
            var i = 0;
            while (i < span.Length)
            {
                // Runs of bytes that are no line end, backslash, quote or escape only lengthen the line.
                var run = span[i..].IndexOfAny(_special);
                if (run != 0)
                {
                    Ordinary(span.Slice(i, run < 0 ? span.Length - i : run));
                    if (run < 0)
                    {
                        break;
                    }

                    i += run;
                }

                if (EndsLine(span[i]))
                {
                    output.Write(span[copied..i]);
                    copied = i;
                    WriteSuffix(output);
                }

                i++;
            }

            output.Write(span[copied..]);
        }
    }

    private void Ordinary(ReadOnlySpan<byte> run)
    {
        _afterCarriageReturn = false;
        _escaped = false;
        _lastWasEscape = false;
        if (_lineLength == 0)
        {
            _first = run[0];
            _second = run.Length > 1 ? run[1] : (byte)0;
        }
        else if (_lineLength == 1)
        {
            _second = run[0];
        }

        _lineLength += run.Length;
    }

    /// <summary>The data ended (CopyDone): a last row without a line end still gets its fields.</summary>
    public void Complete(IBufferWriter<byte> output)
    {
        if (_lineLength > 0)
        {
            WriteSuffix(output);
        }
    }

    // Follows one byte; true when it ends a row whose fields must go before it.
    private bool EndsLine(byte b)
    {
        if (b is (byte)'\n' or (byte)'\r' && !_escaped && !_inQuote)
        {
            var secondHalfOfCrLf = b == '\n' && _afterCarriageReturn && _lineLength == 0;
            _afterCarriageReturn = b == '\r';
            return !secondHalfOfCrLf;
        }

        _afterCarriageReturn = false;
        if (_csv)
        {
            // PostgreSQL's CSV line reader: a quote toggles, unless an escape inside quotes precedes it.
            if (_inQuote && b == _escape && _escape != 0)
            {
                _lastWasEscape = !_lastWasEscape;
            }

            if (b == _quote && !_lastWasEscape)
            {
                _inQuote = !_inQuote;
            }

            if (b != _escape)
            {
                _lastWasEscape = false;
            }
        }
        else
        {
            // Text: a backslash takes the next byte with it, even a newline.
            _escaped = !_escaped && b == '\\';
        }

        if (_lineLength == 0)
        {
            _first = b;
        }
        else if (_lineLength == 1)
        {
            _second = b;
        }

        _lineLength++;
        return false;
    }

    /// <summary>A generated value as COPY text: bytea in its hex input form.</summary>
    private static string CopyText(GeneratedValue generated) =>
        generated.Kind == SlotKind.RandomBytes ? "\\x" + NondeterministicFunctions.Generate(generated) : NondeterministicFunctions.Generate(generated);

    private void WriteSuffix(IBufferWriter<byte> output)
    {
        var endOfData = _lineLength == 2 && _first == '\\' && _second == '.';
        if (!endOfData)
        {
            output.Write(_headerSuffix ?? (_perRow.Count > 0 ? Suffix(_layout, _values.Select((value, i) => _perRow[i] is { } generated ? CopyText(generated) : value)) : _rowSuffix));
        }

        _headerSuffix = null;
        _lineLength = 0;
        _escaped = false;
    }
}
