using System.Buffers;
using System.Buffers.Binary;

namespace PgPoolConsole.Proxy.Protocol;

/// <summary>
/// One framed PostgreSQL v3 message (type byte + int32 length + payload) that still lives in the
/// reader's buffer. Valid until the next read from the same <see cref="PgMessageReader"/>.
/// </summary>
public readonly struct PgMessage
{
    public PgMessage(byte type, ReadOnlySequence<byte> raw)
    {
        Type = type;
        Raw = raw;
    }

    /// <summary>The message type byte ('Q', 'Z', ...).</summary>
    public byte Type { get; }

    /// <summary>The whole message: type byte, length and payload.</summary>
    public ReadOnlySequence<byte> Raw { get; }

    /// <summary>The payload after the type byte and the length.</summary>
    public ReadOnlySequence<byte> Payload => Raw.Slice(5);

    public int PayloadLength => (int)Raw.Length - 5;

    public char TypeChar => (char)Type;

    /// <summary>Copies the payload into a new array (for messages the session keeps).</summary>
    public byte[] PayloadToArray() => Payload.ToArray();

    /// <summary>Reads the single status byte of a ReadyForQuery message.</summary>
    public char ReadyForQueryStatus()
    {
        var payload = Payload;
        return payload.Length >= 1 ? (char)payload.FirstSpan[0] : 'I';
    }

    /// <summary>Reads the first int32 of the payload (authentication request code and similar).</summary>
    public int ReadInt32(int offset = 0)
    {
        Span<byte> four = stackalloc byte[4];
        Payload.Slice(offset, 4).CopyTo(four);
        return BinaryPrimitives.ReadInt32BigEndian(four);
    }

    public override string ToString() => $"{TypeChar} ({PayloadLength} bytes)";
}
