using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace PgPoolConsole.Proxy.Protocol;

/// <summary>Rewrites extended-query messages when the proxy adds parameters of its own.</summary>
public static class BindMessage
{
    /// <summary>
    /// Returns a copy of a whole Bind message ('B', length, payload) with text-format parameter
    /// values appended after the client's, adjusting the parameter format codes to match.
    /// </summary>
    public static void AppendTextParameters(ReadOnlySpan<byte> message, IReadOnlyList<string> values, IBufferWriter<byte> output)
    {
        var payload = new PgPayload(message[5..], 'B');
        var portal = payload.ReadCString();
        var statement = payload.ReadCString();
        var formatCount = payload.ReadInt16();
        var formats = new short[formatCount];
        for (var i = 0; i < formatCount; i++)
        {
            formats[i] = payload.ReadInt16();
        }

        var parameterCount = payload.ReadInt16();
        var parameters = new List<byte[]?>(parameterCount + values.Count);
        for (var i = 0; i < parameterCount; i++)
        {
            var length = payload.ReadInt32();
            parameters.Add(length < 0 ? null : payload.ReadBytes(length).ToArray());
        }

        var rest = payload.Rest; // result format codes, unchanged
        var newFormats = formatCount switch
        {
            0 => [],
            1 when formats[0] == 0 => formats,
            1 => [.. Enumerable.Repeat(formats[0], parameterCount), .. new short[values.Count]],
            _ => [.. formats, .. new short[values.Count]],
        };
        foreach (var value in values)
        {
            parameters.Add(Encoding.UTF8.GetBytes(value));
        }

        var buffer = new ArrayBufferWriter<byte>(message.Length + values.Count * 40);
        buffer.Write(Encoding.UTF8.GetBytes(portal));
        buffer.Write([(byte)0]);
        buffer.Write(Encoding.UTF8.GetBytes(statement));
        buffer.Write([(byte)0]);
        WriteInt16(buffer, (short)newFormats.Length);
        foreach (var format in newFormats)
        {
            WriteInt16(buffer, format);
        }

        WriteInt16(buffer, (short)parameters.Count);
        foreach (var parameter in parameters)
        {
            var length = new byte[4];
            BinaryPrimitives.WriteInt32BigEndian(length, parameter?.Length ?? -1);
            buffer.Write(length);
            if (parameter is not null)
            {
                buffer.Write(parameter);
            }
        }

        buffer.Write(rest);
        var header = output.GetSpan(5);
        header[0] = (byte)'B';
        BinaryPrimitives.WriteInt32BigEndian(header[1..], buffer.WrittenCount + 4);
        output.Advance(5);
        output.Write(buffer.WrittenSpan);
    }

    /// <summary>A Parse message for <paramref name="name"/> with new SQL and the given parameter type oids.</summary>
    public static void Parse(IBufferWriter<byte> output, string name, string sql, ReadOnlySpan<int> parameterTypes)
    {
        var nameBytes = Encoding.UTF8.GetBytes(name);
        var sqlBytes = Encoding.UTF8.GetBytes(sql);
        var length = 4 + nameBytes.Length + 1 + sqlBytes.Length + 1 + 2 + (4 * parameterTypes.Length);
        var span = output.GetSpan(1 + length);
        span[0] = (byte)'P';
        BinaryPrimitives.WriteInt32BigEndian(span[1..], length);
        var offset = 5;
        nameBytes.CopyTo(span[offset..]);
        offset += nameBytes.Length;
        span[offset++] = 0;
        sqlBytes.CopyTo(span[offset..]);
        offset += sqlBytes.Length;
        span[offset++] = 0;
        BinaryPrimitives.WriteInt16BigEndian(span[offset..], (short)parameterTypes.Length);
        offset += 2;
        foreach (var type in parameterTypes)
        {
            BinaryPrimitives.WriteInt32BigEndian(span[offset..], type);
            offset += 4;
        }

        output.Advance(offset);
    }

    /// <summary>ParameterDescription ('t') without its last <paramref name="drop"/> parameters.</summary>
    public static void TrimParameterDescription(ReadOnlySpan<byte> message, int drop, IBufferWriter<byte> output)
    {
        var count = BinaryPrimitives.ReadInt16BigEndian(message[5..]);
        var keep = Math.Max(0, count - drop);
        var span = output.GetSpan(7 + (4 * keep));
        span[0] = (byte)'t';
        BinaryPrimitives.WriteInt32BigEndian(span[1..], 6 + (4 * keep));
        BinaryPrimitives.WriteInt16BigEndian(span[5..], (short)keep);
        message.Slice(7, 4 * keep).CopyTo(span[7..]);
        output.Advance(7 + (4 * keep));
    }

    private static void WriteInt16(ArrayBufferWriter<byte> buffer, short value)
    {
        var bytes = new byte[2];
        BinaryPrimitives.WriteInt16BigEndian(bytes, value);
        buffer.Write(bytes);
    }
}
