using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace PgPoolConsole.Proxy.Protocol;

/// <summary>
/// Sequential reader over a message payload held in a contiguous span. Every read checks bounds
/// and throws <see cref="PgProtocolException"/> naming the message when the payload is short.
/// </summary>
public ref struct PgPayload
{
    private readonly ReadOnlySpan<byte> _data;
    private readonly char _messageType;
    private int _position;

    public PgPayload(ReadOnlySpan<byte> data, char messageType)
    {
        _data = data;
        _messageType = messageType;
        _position = 0;
    }

    public readonly int Remaining => _data.Length - _position;

    public string ReadCString()
    {
        var end = _data[_position..].IndexOf((byte)0);
        if (end < 0)
        {
            throw Malformed("unterminated string");
        }

        var value = Encoding.UTF8.GetString(_data.Slice(_position, end));
        _position += end + 1;
        return value;
    }

    public byte ReadByte()
    {
        if (Remaining < 1)
        {
            throw Malformed("message too short");
        }

        return _data[_position++];
    }

    public short ReadInt16()
    {
        if (Remaining < 2)
        {
            throw Malformed("message too short");
        }

        var value = BinaryPrimitives.ReadInt16BigEndian(_data[_position..]);
        _position += 2;
        return value;
    }

    public int ReadInt32()
    {
        if (Remaining < 4)
        {
            throw Malformed("message too short");
        }

        var value = BinaryPrimitives.ReadInt32BigEndian(_data[_position..]);
        _position += 4;
        return value;
    }

    public ReadOnlySpan<byte> ReadBytes(int count)
    {
        if (count < 0 || Remaining < count)
        {
            throw Malformed("message too short");
        }

        var slice = _data.Slice(_position, count);
        _position += count;
        return slice;
    }

    public readonly ReadOnlySpan<byte> Rest => _data[_position..];

    private readonly PgProtocolException Malformed(string what) =>
        new($"invalid \"{_messageType}\" message: {what}");

    /// <summary>Reads the C string payload of a one-string message (CommandComplete, Query).</summary>
    public static string SingleCString(in PgMessage message)
    {
        // Decoded where it lies, split across buffer segments or not: a copy of a 100 MB query
        // would be one more 100 MB the proxy holds while it runs.
        var payload = message.Payload;
        if (payload.PositionOf((byte)0) is not { } end)
        {
            throw new PgProtocolException($"invalid \"{message.TypeChar}\" message: unterminated string");
        }

        return Encoding.UTF8.GetString(payload.Slice(0, end));
    }

    /// <summary>Gives the payload as one span, copying into <paramref name="scratch"/> only when it is split.</summary>
    public static ReadOnlySpan<byte> Contiguous(in PgMessage message, ref byte[]? scratch)
    {
        var payload = message.Payload;
        if (payload.IsSingleSegment)
        {
            return payload.FirstSpan;
        }

        var length = (int)payload.Length;
        if (scratch is null || scratch.Length < length)
        {
            scratch = new byte[Math.Max(length, 256)];
        }

        payload.CopyTo(scratch);
        return scratch.AsSpan(0, length);
    }
}
