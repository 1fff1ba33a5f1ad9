using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace PgPoolConsole.Proxy.Protocol;

/// <summary>
/// Reads framed PostgreSQL messages from a <see cref="PipeReader"/> without copying. A returned
/// <see cref="PgMessage"/> points into the pipe's buffer and stays valid until the next call that
/// has to wait for more data, so callers copy what they keep. Messages already buffered are
/// returned synchronously (fast path); the pipe is only advanced when more data is needed.
/// </summary>
public sealed class PgMessageReader
{
    /// <summary>PostgreSQL's own limit for a startup packet (MAX_STARTUP_PACKET_LENGTH).</summary>
    public const int MaxStartupPacketLength = 10000;

    private readonly PipeReader _reader;
    private int _maxMessageLength;
    private readonly string _peerName;
    private ReadOnlySequence<byte> _buffer;
    private bool _holdingBuffer;
    private bool _completed;
    private long _pendingBody;

    public PgMessageReader(PipeReader reader, int maxMessageLength, string peerName)
    {
        _reader = reader;
        _maxMessageLength = maxMessageLength;
        _peerName = peerName;
    }

    public PipeReader Pipe => _reader;

    /// <summary>Largest typed message accepted (bytes); lowered while a client is not yet authenticated.</summary>
    public int MaxMessageLength
    {
        get => _maxMessageLength;
        set => _maxMessageLength = value;
    }

    /// <summary>True when bytes beyond what was read are buffered (a client must not send any after an SSLRequest).</summary>
    public bool HasBufferedBytes => _holdingBuffer && _buffer.Length > 0;

    /// <summary>True when a complete message is already buffered (no I/O needed to read it).</summary>
    public bool HasBufferedMessage
    {
        get
        {
            if (!_holdingBuffer || _buffer.Length < 5)
            {
                return false;
            }

            return _buffer.Length >= 1 + PeekLength(_buffer.Slice(1, 4));
        }
    }

    /// <summary>
    /// Body bytes of the message last returned header-only (see <see cref="ReadAsync(int, CancellationToken)"/>)
    /// that are still to be passed on with <see cref="PassBodyAsync"/>.
    /// </summary>
    public long PendingBody => _pendingBody;

    /// <summary>Reads the next typed message.</summary>
    public ValueTask<PgMessage> ReadAsync(CancellationToken cancellationToken) => ReadAsync(int.MaxValue, cancellationToken);

    /// <summary>
    /// Reads the next typed message. A message that is passed on without being looked into
    /// (DataRow, CopyData, NoticeResponse, FunctionCallResponse) and is at least
    /// <paramref name="headerOnlyFrom"/> bytes long is returned as soon as its 5-byte header is in,
    /// with <see cref="PendingBody"/> set: a row of hundreds of megabytes then flows through in
    /// pieces instead of being held whole.
    /// </summary>
    public ValueTask<PgMessage> ReadAsync(int headerOnlyFrom, CancellationToken cancellationToken)
    {
        if (_pendingBody > 0)
        {
            throw new InvalidOperationException($"the body of the previous message from {_peerName} was not passed on");
        }

        if (_holdingBuffer && TryParseTyped(out var message, headerOnlyFrom))
        {
            return new ValueTask<PgMessage>(message);
        }

        return ReadSlowAsync(headerOnlyFrom, cancellationToken);
    }

    /// <summary>
    /// Passes on the body of a message returned header-only as it arrives, to
    /// <paramref name="destination"/> (flushed after each piece, so a slow reader there slows this
    /// down) or nowhere when it is null.
    /// </summary>
    public async ValueTask PassBodyAsync(PipeWriter? destination, CancellationToken cancellationToken)
    {
        while (_pendingBody > 0)
        {
            if (!_holdingBuffer || _buffer.IsEmpty)
            {
                await FillAsync(cancellationToken);
            }

            var piece = _buffer.Slice(0, Math.Min(_buffer.Length, _pendingBody));
            _buffer = _buffer.Slice(piece.End);
            _pendingBody -= piece.Length;
            if (destination is not null)
            {
                foreach (var segment in piece)
                {
                    destination.Write(segment.Span);
                }

                await destination.FlushAsync(cancellationToken);
            }
        }
    }

    /// <summary>
    /// Reads the first packet of a connection, which has no type byte: StartupMessage,
    /// SSLRequest, GSSENCRequest or CancelRequest (int32 length, then int32 code, then data).
    /// Returns the whole packet; see <see cref="StartupPacket.Parse"/>.
    /// </summary>
    public async ValueTask<ReadOnlySequence<byte>> ReadStartupPacketAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            if (_holdingBuffer && _buffer.Length >= 4)
            {
                var length = PeekLength(_buffer.Slice(0, 4));
                if (length < 8 || length > MaxStartupPacketLength)
                {
                    throw new PgProtocolException($"invalid length of startup packet: {length}");
                }

                if (_buffer.Length >= length)
                {
                    var packet = _buffer.Slice(0, length);
                    _buffer = _buffer.Slice(length);
                    return packet;
                }
            }

            await FillAsync(cancellationToken);
        }
    }

    /// <summary>
    /// Waits until data (or the end of the stream) is available without consuming it. Used to
    /// watch an idle connection; the caller must await it before the next <see cref="ReadAsync(CancellationToken)"/>.
    /// Returns false at the end of the stream.
    /// </summary>
    public async Task<bool> WaitForDataAsync(CancellationToken cancellationToken)
    {
        if (_holdingBuffer && _buffer.Length > 0)
        {
            return true;
        }

        if (_completed)
        {
            return false;
        }

        ReleaseBuffer();
        Accept(await _reader.ReadAsync(cancellationToken));
        return _buffer.Length > 0;
    }

    private async ValueTask<PgMessage> ReadSlowAsync(int headerOnlyFrom, CancellationToken cancellationToken)
    {
        while (true)
        {
            await FillAsync(cancellationToken);
            if (TryParseTyped(out var message, headerOnlyFrom))
            {
                return message;
            }
        }
    }

    private async ValueTask FillAsync(CancellationToken cancellationToken)
    {
        if (_completed)
        {
            var midMessage = (_holdingBuffer && _buffer.Length > 0) || _pendingBody > 0;
            throw new PgConnectionClosedException(midMessage
                ? $"{_peerName} closed the connection in the middle of a message"
                : $"{_peerName} closed the connection")
            { MidMessage = midMessage };
        }

        ReleaseBuffer();
        Accept(await _reader.ReadAsync(cancellationToken));
    }

    private void Accept(ReadResult result)
    {
        if (result.IsCanceled)
        {
            _holdingBuffer = true;
            _buffer = result.Buffer;
            throw new OperationCanceledException($"read from {_peerName} was cancelled");
        }

        _buffer = result.Buffer;
        _holdingBuffer = true;
        _completed = result.IsCompleted;
    }

    /// <summary>Tells the pipe that everything consumed so far can be released.</summary>
    private void ReleaseBuffer()
    {
        if (_holdingBuffer)
        {
            // Everything left in _buffer has been examined: ask for more than that.
            _reader.AdvanceTo(_buffer.Start, _buffer.End);
            _holdingBuffer = false;
        }
    }

    private bool TryParseTyped(out PgMessage message, int headerOnlyFrom)
    {
        if (_buffer.Length < 5)
        {
            message = default;
            return false;
        }

        var first = _buffer.FirstSpan;
        var type = first[0];
        var length = first.Length >= 5 ? BinaryPrimitives.ReadInt32BigEndian(first.Slice(1, 4)) : PeekLength(_buffer.Slice(1, 4));
        if (length < 4)
        {
            throw new PgProtocolException($"invalid message length {length} for message type \"{Printable(type)}\" from {_peerName}");
        }

        if (length > _maxMessageLength)
        {
            throw new PgProtocolException($"message of type \"{Printable(type)}\" from {_peerName} is {length} bytes long, more than the limit of {_maxMessageLength}");
        }

        if (_buffer.Length < 1L + length)
        {
            if (length >= headerOnlyFrom && IsPassedOnUnread(type))
            {
                message = new PgMessage(type, _buffer.Slice(0, 5));
                _buffer = _buffer.Slice(5);
                _pendingBody = length - 4;
                return true;
            }

            message = default;
            return false;
        }

        message = new PgMessage(type, _buffer.Slice(0, 1 + length));
        _buffer = _buffer.Slice(1 + length);
        return true;
    }

    private static bool IsPassedOnUnread(byte type) => type is (byte)'D' or (byte)'d' or (byte)'N' or (byte)'V';

    private static int PeekLength(ReadOnlySequence<byte> four)
    {
        Span<byte> bytes = stackalloc byte[4];
        four.CopyTo(bytes);
        return BinaryPrimitives.ReadInt32BigEndian(bytes);
    }

    internal static string Printable(byte type) =>
        type is >= 0x20 and < 0x7f ? ((char)type).ToString() : $"\\x{type:x2}";

    /// <summary>Releases the buffer back to the pipe (call before completing the reader).</summary>
    public void Release() => ReleaseBuffer();
}
