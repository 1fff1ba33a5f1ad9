using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace PgPoolConsole.Proxy.Protocol;

/// <summary>
/// Encodes the PostgreSQL messages the proxy creates itself (to clients and to backends). Relayed
/// messages are copied as raw bytes and never re-encoded. Each method computes the exact length
/// first and writes into one span.
/// </summary>
public static class PgWriter
{
    private static readonly UTF8Encoding Utf8 = new(encoderShouldEmitUTF8Identifier: false);

    // ---- backend (server to client) messages ----

    public static void ReadyForQuery(IBufferWriter<byte> writer, char transactionStatus)
    {
        var span = Begin(writer, (byte)'Z', 1);
        span[5] = (byte)transactionStatus;
        writer.Advance(6);
    }

    public static void AuthenticationRequest(IBufferWriter<byte> writer, int code, ReadOnlySpan<byte> data = default)
    {
        var span = Begin(writer, (byte)'R', 4 + data.Length);
        BinaryPrimitives.WriteInt32BigEndian(span[5..], code);
        data.CopyTo(span[9..]);
        writer.Advance(9 + data.Length);
    }

    public static void AuthenticationOk(IBufferWriter<byte> writer) => AuthenticationRequest(writer, 0);

    public static void AuthenticationCleartextPassword(IBufferWriter<byte> writer) => AuthenticationRequest(writer, 3);

    public static void AuthenticationMd5Password(IBufferWriter<byte> writer, ReadOnlySpan<byte> salt) => AuthenticationRequest(writer, 5, salt);

    /// <summary>AuthenticationSASL listing the mechanisms (each NUL-terminated, then a final NUL).</summary>
    public static void AuthenticationSasl(IBufferWriter<byte> writer, params string[] mechanisms)
    {
        var data = new List<byte>();
        foreach (var mechanism in mechanisms)
        {
            data.AddRange(Utf8.GetBytes(mechanism));
            data.Add(0);
        }

        data.Add(0);
        AuthenticationRequest(writer, 10, data.ToArray());
    }

    public static void ParameterStatus(IBufferWriter<byte> writer, string name, string value)
    {
        var nameLength = Utf8.GetByteCount(name);
        var valueLength = Utf8.GetByteCount(value);
        var span = Begin(writer, (byte)'S', nameLength + valueLength + 2);
        var offset = 5;
        offset += WriteCString(span[offset..], name);
        offset += WriteCString(span[offset..], value);
        writer.Advance(offset);
    }

    public static void BackendKeyData(IBufferWriter<byte> writer, int processId, int secretKey)
    {
        var span = Begin(writer, (byte)'K', 8);
        BinaryPrimitives.WriteInt32BigEndian(span[5..], processId);
        BinaryPrimitives.WriteInt32BigEndian(span[9..], secretKey);
        writer.Advance(13);
    }

    public static void CommandComplete(IBufferWriter<byte> writer, string tag) => CStringMessage(writer, (byte)'C', tag);

    public static void EmptyQueryResponse(IBufferWriter<byte> writer)
    {
        Begin(writer, (byte)'I', 0);
        writer.Advance(5);
    }

    public static void NoData(IBufferWriter<byte> writer)
    {
        Begin(writer, (byte)'n', 0);
        writer.Advance(5);
    }

    /// <summary>NegotiateProtocolVersion: the newest minor version we support and the options we did not recognise.</summary>
    public static void NegotiateProtocolVersion(IBufferWriter<byte> writer, int newestMinor, IReadOnlyList<string> unrecognisedOptions)
    {
        var length = 8;
        foreach (var option in unrecognisedOptions)
        {
            length += Utf8.GetByteCount(option) + 1;
        }

        var span = Begin(writer, (byte)'v', length);
        BinaryPrimitives.WriteInt32BigEndian(span[5..], newestMinor);
        BinaryPrimitives.WriteInt32BigEndian(span[9..], unrecognisedOptions.Count);
        var offset = 13;
        foreach (var option in unrecognisedOptions)
        {
            offset += WriteCString(span[offset..], option);
        }

        writer.Advance(offset);
    }

    /// <summary>ErrorResponse ('E') or NoticeResponse ('N') with the usual fields.</summary>
    public static void ErrorOrNotice(IBufferWriter<byte> writer, bool isError, PgErrorFields fields)
    {
        Span<(char Code, string? Value)> parts =
        [
            ('S', fields.Severity),
            ('V', fields.Severity),
            ('C', fields.SqlState),
            ('M', fields.Message),
            ('D', fields.Detail),
            ('H', fields.Hint),
            ('P', fields.Position),
        ];
        var length = 1;
        foreach (var part in parts)
        {
            if (part.Value is not null)
            {
                length += 2 + Utf8.GetByteCount(part.Value);
            }
        }

        var span = Begin(writer, isError ? (byte)'E' : (byte)'N', length);
        var offset = 5;
        foreach (var part in parts)
        {
            if (part.Value is not null)
            {
                span[offset++] = (byte)part.Code;
                offset += WriteCString(span[offset..], part.Value);
            }
        }

        span[offset++] = 0;
        writer.Advance(offset);
    }

    public static void Error(IBufferWriter<byte> writer, string severity, string sqlState, string message, string? detail = null, string? hint = null) =>
        ErrorOrNotice(writer, true, new PgErrorFields { Severity = severity, SqlState = sqlState, Message = message, Detail = detail, Hint = hint });

    public static void Notice(IBufferWriter<byte> writer, string severity, string sqlState, string message, string? detail = null) =>
        ErrorOrNotice(writer, false, new PgErrorFields { Severity = severity, SqlState = sqlState, Message = message, Detail = detail });

    /// <summary>RowDescription for text columns (type oid given, text format).</summary>
    public static void RowDescription(IBufferWriter<byte> writer, IReadOnlyList<(string Name, int TypeOid)> columns)
    {
        var length = 2;
        foreach (var column in columns)
        {
            length += Utf8.GetByteCount(column.Name) + 1 + 18;
        }

        var span = Begin(writer, (byte)'T', length);
        BinaryPrimitives.WriteInt16BigEndian(span[5..], (short)columns.Count);
        var offset = 7;
        foreach (var column in columns)
        {
            offset += WriteCString(span[offset..], column.Name);
            BinaryPrimitives.WriteInt32BigEndian(span[offset..], 0); // table oid
            BinaryPrimitives.WriteInt16BigEndian(span[(offset + 4)..], 0); // column number
            BinaryPrimitives.WriteInt32BigEndian(span[(offset + 6)..], column.TypeOid);
            BinaryPrimitives.WriteInt16BigEndian(span[(offset + 10)..], -1); // type size
            BinaryPrimitives.WriteInt32BigEndian(span[(offset + 12)..], -1); // type modifier
            BinaryPrimitives.WriteInt16BigEndian(span[(offset + 16)..], 0); // text format
            offset += 18;
        }

        writer.Advance(offset);
    }

    /// <summary>DataRow of text values (null for SQL NULL).</summary>
    public static void DataRow(IBufferWriter<byte> writer, IReadOnlyList<string?> values)
    {
        var length = 2;
        foreach (var value in values)
        {
            length += 4 + (value is null ? 0 : Utf8.GetByteCount(value));
        }

        var span = Begin(writer, (byte)'D', length);
        BinaryPrimitives.WriteInt16BigEndian(span[5..], (short)values.Count);
        var offset = 7;
        foreach (var value in values)
        {
            if (value is null)
            {
                BinaryPrimitives.WriteInt32BigEndian(span[offset..], -1);
                offset += 4;
                continue;
            }

            var written = Utf8.GetBytes(value, span[(offset + 4)..]);
            BinaryPrimitives.WriteInt32BigEndian(span[offset..], written);
            offset += 4 + written;
        }

        writer.Advance(offset);
    }

    // ---- frontend (client to server) messages ----

    public static void StartupMessage(IBufferWriter<byte> writer, IEnumerable<KeyValuePair<string, string>> parameters)
    {
        var length = 4 + 4 + 1;
        foreach (var pair in parameters)
        {
            length += Utf8.GetByteCount(pair.Key) + Utf8.GetByteCount(pair.Value) + 2;
        }

        var span = writer.GetSpan(length);
        BinaryPrimitives.WriteInt32BigEndian(span, length);
        BinaryPrimitives.WriteInt32BigEndian(span[4..], StartupPacket.ProtocolVersion3);
        var offset = 8;
        foreach (var pair in parameters)
        {
            offset += WriteCString(span[offset..], pair.Key);
            offset += WriteCString(span[offset..], pair.Value);
        }

        span[offset++] = 0;
        writer.Advance(offset);
    }

    /// <summary>SSLRequest: asks the server whether it speaks TLS (it answers one byte, 'S' or 'N').</summary>
    public static byte[] SslRequest()
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 8);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), StartupPacket.SslRequestCode);
        return bytes;
    }

    public static byte[] CancelRequest(int processId, int secretKey)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 16);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), StartupPacket.CancelRequestCode);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(8), processId);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(12), secretKey);
        return bytes;
    }

    public static void Query(IBufferWriter<byte> writer, string sql) => CStringMessage(writer, (byte)'Q', sql);

    public static byte[] QueryBytes(string sql)
    {
        var buffer = new ArrayBufferWriter<byte>(Utf8.GetByteCount(sql) + 6);
        Query(buffer, sql);
        return buffer.WrittenSpan.ToArray();
    }

    public static void PasswordMessage(IBufferWriter<byte> writer, string password) => CStringMessage(writer, (byte)'p', password);

    public static void SaslInitialResponse(IBufferWriter<byte> writer, string mechanism, ReadOnlySpan<byte> data)
    {
        var mechanismLength = Utf8.GetByteCount(mechanism);
        var span = Begin(writer, (byte)'p', mechanismLength + 1 + 4 + data.Length);
        var offset = 5 + WriteCString(span[5..], mechanism);
        BinaryPrimitives.WriteInt32BigEndian(span[offset..], data.Length);
        data.CopyTo(span[(offset + 4)..]);
        writer.Advance(offset + 4 + data.Length);
    }

    public static void SaslResponse(IBufferWriter<byte> writer, ReadOnlySpan<byte> data)
    {
        var span = Begin(writer, (byte)'p', data.Length);
        data.CopyTo(span[5..]);
        writer.Advance(5 + data.Length);
    }

    public static void Terminate(IBufferWriter<byte> writer) => Empty(writer, (byte)'X');

    public static void Sync(IBufferWriter<byte> writer) => Empty(writer, (byte)'S');

    public static void Flush(IBufferWriter<byte> writer) => Empty(writer, (byte)'H');

    /// <summary>Bind of a statement without parameters, all results in text.</summary>
    public static void Bind(IBufferWriter<byte> writer, string portal, string statement)
    {
        var portalLength = Utf8.GetByteCount(portal);
        var statementLength = Utf8.GetByteCount(statement);
        var span = Begin(writer, (byte)'B', portalLength + 1 + statementLength + 1 + 6);
        var offset = 5 + WriteCString(span[5..], portal);
        offset += WriteCString(span[offset..], statement);
        span.Slice(offset, 6).Clear(); // no parameter formats, no parameters, no result formats
        writer.Advance(offset + 6);
    }

    /// <summary>Execute of a portal; 0 rows means all of them.</summary>
    public static void Execute(IBufferWriter<byte> writer, string portal, int maxRows)
    {
        var span = Begin(writer, (byte)'E', Utf8.GetByteCount(portal) + 1 + 4);
        var offset = 5 + WriteCString(span[5..], portal);
        BinaryPrimitives.WriteInt32BigEndian(span[offset..], maxRows);
        writer.Advance(offset + 4);
    }

    /// <summary>Close of a prepared statement ('S') or a portal ('P').</summary>
    public static void Close(IBufferWriter<byte> writer, char kind, string name)
    {
        var span = Begin(writer, (byte)'C', 1 + Utf8.GetByteCount(name) + 1);
        span[5] = (byte)kind;
        var written = WriteCString(span[6..], name);
        writer.Advance(6 + written);
    }

    /// <summary>CopyData carrying <paramref name="data"/>.</summary>
    public static void CopyData(IBufferWriter<byte> writer, ReadOnlySpan<byte> data)
    {
        Begin(writer, (byte)'d', data.Length);
        writer.Advance(5);
        writer.Write(data);
    }

    /// <summary>CopyFail with a reason.</summary>
    public static void CopyFail(IBufferWriter<byte> writer, string reason) => CStringMessage(writer, (byte)'f', reason);

    // ---- helpers ----

    private static void Empty(IBufferWriter<byte> writer, byte type)
    {
        Begin(writer, type, 0);
        writer.Advance(5);
    }

    private static void CStringMessage(IBufferWriter<byte> writer, byte type, string text)
    {
        var length = Utf8.GetByteCount(text);
        var span = Begin(writer, type, length + 1);
        var written = WriteCString(span[5..], text);
        writer.Advance(5 + written);
    }

    /// <summary>Gets a span for a whole message and writes its type and length.</summary>
    private static Span<byte> Begin(IBufferWriter<byte> writer, byte type, int payloadLength)
    {
        var span = writer.GetSpan(5 + payloadLength);
        span[0] = type;
        BinaryPrimitives.WriteInt32BigEndian(span[1..], payloadLength + 4);
        return span;
    }

    private static int WriteCString(Span<byte> destination, string value)
    {
        var written = Utf8.GetBytes(value, destination);
        destination[written] = 0;
        return written + 1;
    }
}
