using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using System.Text;

namespace PgPoolConsole.Proxy.Pcp;

/// <summary>One PCP packet: a type letter and its payload (the length word is implied).</summary>
public sealed record PcpPacket(char Type, byte[] Payload)
{
    /// <summary>The NUL-terminated strings of the payload (an unterminated tail is dropped).</summary>
    public IReadOnlyList<string> Strings() => PcpWire.SplitStrings(Payload);

    /// <summary>The payload up to its first NUL (or all of it), as pgpool's atoi/strcmp see it.</summary>
    public string Text()
    {
        var end = Array.IndexOf(Payload, (byte)0);
        return Encoding.UTF8.GetString(Payload, 0, end < 0 ? Payload.Length : end);
    }
}

/// <summary>
/// An 'E' (error) or 'N' (notice) packet: severity, message and optional detail, the only fields
/// the stock clients use. <see cref="ToString"/> is what a stock client prints on stderr.
/// </summary>
public sealed record PcpError(string Severity, string Message, string? Detail = null)
{
    public override string ToString() =>
        Detail is null ? $"{Severity}:  {Message}\n" : $"{Severity}:  {Message}\nDETAIL:  {Detail}\n";
}

/// <summary>
/// PCP framing, shared by the server (<see cref="PcpServer"/>) and the client
/// (../shared/docs/pcp-protocol.md): a type letter, a big-endian int32 length that counts itself
/// and the payload, then the payload; strings are NUL-terminated, numbers are decimal text.
/// </summary>
public static class PcpWire
{
    /// <summary>pgpool refuses requests whose length word is 260 or more.</summary>
    public const int MaxRequestLength = 259;

    /// <summary>What a client accepts from a server (pool status rows and watchdog JSON are the largest replies).</summary>
    public const int MaxReplyLength = 16 * 1024 * 1024;

    public const string CommandComplete = "CommandComplete";

    public static void WritePacket(IBufferWriter<byte> output, char type, ReadOnlySpan<byte> payload)
    {
        var span = output.GetSpan(5 + payload.Length);
        span[0] = (byte)type;
        BinaryPrimitives.WriteInt32BigEndian(span[1..], payload.Length + 4);
        payload.CopyTo(span[5..]);
        output.Advance(5 + payload.Length);
    }

    /// <summary>A packet of NUL-terminated strings.</summary>
    public static void WriteStrings(IBufferWriter<byte> output, char type, params ReadOnlySpan<string> values)
    {
        var buffer = new ArrayBufferWriter<byte>();
        foreach (var value in values)
        {
            AppendString(buffer, value);
        }

        WritePacket(output, type, buffer.WrittenSpan);
    }

    /// <summary>
    /// An 'E' packet with the fields S, C (XX000), M and D in that order and the final empty
    /// string. The stock client's parser mangles a message that starts with 'S', 'M' or 'D'
    /// (it prints "DETAIL:  etach failed" for "Detach failed"), so such a message gets a "PCP: " prefix.
    /// </summary>
    public static void WriteError(IBufferWriter<byte> output, PcpError error)
    {
        var message = error.Message;
        if (message.Length > 0 && message[0] is 'S' or 'M' or 'D')
        {
            message = "PCP: " + message;
        }

        var buffer = new ArrayBufferWriter<byte>();
        AppendString(buffer, "S" + error.Severity);
        AppendString(buffer, "CXX000");
        AppendString(buffer, "M" + message);
        if (error.Detail is not null)
        {
            AppendString(buffer, "D" + error.Detail);
        }

        buffer.Write([(byte)0]);
        WritePacket(output, 'E', buffer.WrittenSpan);
    }

    /// <summary>Reads the fields of an 'E' or 'N' packet (unknown fields are skipped).</summary>
    public static PcpError ParseError(ReadOnlySpan<byte> payload)
    {
        var severity = "ERROR";
        var message = "";
        string? detail = null;
        foreach (var field in SplitStrings(payload))
        {
            if (field.Length == 0)
            {
                break;
            }

            switch (field[0])
            {
                case 'S':
                    severity = field[1..];
                    break;
                case 'M':
                    message = field[1..];
                    break;
                case 'D':
                    detail = field[1..];
                    break;
            }
        }

        return new PcpError(severity, message, detail);
    }

    public static List<string> SplitStrings(ReadOnlySpan<byte> payload)
    {
        var parts = new List<string>();
        while (true)
        {
            var end = payload.IndexOf((byte)0);
            if (end < 0)
            {
                return parts;
            }

            parts.Add(Encoding.UTF8.GetString(payload[..end]));
            payload = payload[(end + 1)..];
        }
    }

    private static void AppendString(ArrayBufferWriter<byte> buffer, string value)
    {
        buffer.Write(Encoding.UTF8.GetBytes(value));
        buffer.Write([(byte)0]);
    }
}

/// <summary>A packet whose length word is out of range: the connection cannot continue.</summary>
public sealed class PcpPacketLengthException(char type, int length)
    : Exception($"incorrect packet length ({length}) for packet type \"{PcpPacketReader.Printable(type)}\"")
{
    public char Type { get; } = type;

    public int Length { get; } = length;
}

/// <summary>
/// Reads whole PCP packets from a <see cref="PipeReader"/>. A length word below 4 or above the
/// limit throws <see cref="PcpPacketLengthException"/>; the end of the stream between packets
/// gives null, inside a packet an <see cref="EndOfStreamException"/>.
/// </summary>
public sealed class PcpPacketReader(PipeReader reader, int maxLength)
{
    public PipeReader Pipe => reader;

    public async ValueTask<PcpPacket?> ReadAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            var result = await reader.ReadAsync(cancellationToken);
            var buffer = result.Buffer;
            PcpPacket? packet;
            try
            {
                packet = TryParse(ref buffer);
            }
            catch (PcpPacketLengthException)
            {
                reader.AdvanceTo(buffer.Start);
                throw;
            }

            if (packet is not null)
            {
                reader.AdvanceTo(buffer.Start);
                return packet;
            }

            if (result.IsCompleted)
            {
                var partial = buffer.Length;
                reader.AdvanceTo(buffer.End);
                return partial == 0 ? null : throw new EndOfStreamException($"the connection closed inside a packet ({partial} bytes of it received)");
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }

    private PcpPacket? TryParse(ref ReadOnlySequence<byte> buffer)
    {
        if (buffer.Length < 5)
        {
            return null;
        }

        Span<byte> header = stackalloc byte[5];
        buffer.Slice(0, 5).CopyTo(header);
        var type = (char)header[0];
        var length = BinaryPrimitives.ReadInt32BigEndian(header[1..]);
        if (length < 4 || length > maxLength)
        {
            throw new PcpPacketLengthException(type, length);
        }

        if (buffer.Length < 1L + length)
        {
            return null;
        }

        var payload = buffer.Slice(5, length - 4).ToArray();
        buffer = buffer.Slice(1 + length);
        return new PcpPacket(type, payload);
    }

    internal static string Printable(char type) =>
        type is >= ' ' and < (char)0x7f ? type.ToString() : $"\\x{(int)type:x2}";
}
