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
