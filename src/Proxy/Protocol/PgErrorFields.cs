using System.Buffers;
using System.Text;

namespace PgPoolConsole.Proxy.Protocol;

/// <summary>The fields of an ErrorResponse or NoticeResponse.</summary>
public sealed record PgErrorFields
{
    public string Severity { get; init; } = "ERROR";
    public string SqlState { get; init; } = "XX000";
    public string Message { get; init; } = "";
    public string? Detail { get; init; }
    public string? Hint { get; init; }
    public string? Position { get; init; }

    public bool IsFatal => Severity is "FATAL" or "PANIC";

    /// <summary>Parses the payload of an 'E' or 'N' message.</summary>
    public static PgErrorFields Parse(ReadOnlySequence<byte> payload)
    {
        var bytes = payload.ToArray();
        string? severity = null, localizedSeverity = null, detail = null, hint = null, position = null;
        string code = "XX000", message = "";
        var index = 0;
        while (index < bytes.Length && bytes[index] != 0)
        {
            var field = (char)bytes[index++];
            var end = Array.IndexOf(bytes, (byte)0, index);
            if (end < 0)
            {
                end = bytes.Length;
            }

            var value = Encoding.UTF8.GetString(bytes, index, end - index);
            index = end + 1;
            switch (field)
            {
                case 'V': severity = value; break;
                case 'S': localizedSeverity = value; break;
                case 'C': code = value; break;
                case 'M': message = value; break;
                case 'D': detail = value; break;
                case 'H': hint = value; break;
                case 'P': position = value; break;
            }
        }

        return new PgErrorFields
        {
            // 'V' is the non-localised severity (9.6+); 'S' may be translated.
            Severity = severity ?? localizedSeverity ?? "ERROR",
            SqlState = code,
            Message = message,
            Detail = detail,
            Hint = hint,
            Position = position,
        };
    }

    public override string ToString() => Detail is null ? $"{Severity}: {Message}" : $"{Severity}: {Message} ({Detail})";
}

/// <summary>Adjusts error positions when the proxy ran a statement cut out of a longer query string.</summary>
public static class ErrorPositions
{
    /// <summary>
    /// Copies a run of backend messages, adding <paramref name="offset"/> (characters) to the
    /// position field of ErrorResponse and NoticeResponse messages; everything else is copied as is.
    /// </summary>
    public static void Shift(ReadOnlySpan<byte> messages, int offset, IBufferWriter<byte> output)
    {
        foreach (var message in new MessageRun(messages))
        {
            if (message[0] is not ((byte)'E' or (byte)'N') || message[5..].IndexOf((byte)'P') < 0)
            {
                output.Write(message);
                continue;
            }

            var fields = new List<(byte Code, byte[] Value)>();
            var payload = message[5..];
            while (payload.Length > 0 && payload[0] != 0)
            {
                var code = payload[0];
                var end = payload[1..].IndexOf((byte)0);
                var value = payload.Slice(1, end).ToArray();
                if (code == (byte)'P' && int.TryParse(Encoding.ASCII.GetString(value), out var position))
                {
                    value = Encoding.ASCII.GetBytes((position + offset).ToString(System.Globalization.CultureInfo.InvariantCulture));
                }

                fields.Add((code, value));
                payload = payload[(end + 2)..];
            }

            var total = 4 + 1 + fields.Sum(f => f.Value.Length + 2);
            var span = output.GetSpan(1 + total);
            span[0] = message[0];
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(span[1..], total);
            var at = 5;
            foreach (var (code, value) in fields)
            {
                span[at++] = code;
                value.CopyTo(span[at..]);
                at += value.Length;
                span[at++] = 0;
            }

            span[at++] = 0;
            output.Advance(at);
        }
    }
}
