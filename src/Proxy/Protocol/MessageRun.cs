using System.Buffers.Binary;

namespace PgPoolConsole.Proxy.Protocol;

/// <summary>
/// The messages of a run of complete backend messages held in one buffer (as a session captures
/// a node's answer): each item is one message, type byte and length included. Stops at a
/// truncated or malformed frame.
/// </summary>
public ref struct MessageRun(ReadOnlySpan<byte> messages)
{
    private ReadOnlySpan<byte> _rest = messages;

    public ReadOnlySpan<byte> Current { get; private set; }

    public readonly MessageRun GetEnumerator() => this;

    public bool MoveNext()
    {
        if (_rest.Length < 5)
        {
            return false;
        }

        var length = BinaryPrimitives.ReadInt32BigEndian(_rest[1..]);
        if (length < 4 || length + 1 > _rest.Length)
        {
            return false;
        }

        Current = _rest[..(1 + length)];
        _rest = _rest[(1 + length)..];
        return true;
    }
}
