using System.Buffers;
using System.Buffers.Binary;

namespace PgPoolConsole.Proxy.Protocol;

/// <summary>The legacy FunctionCall message ('F'), which libpq, pgjdbc and psql's \lo_ commands use for large objects.</summary>
public static class FunctionCallMessage
{
    // Built-in function OIDs, fixed in pg_proc.dat: lo_creat(integer) and lo_create(oid).
    private const int LoCreat = 957;
    private const int LoCreate = 715;

    /// <summary>
    /// Whether a whole FunctionCall message creates a large object under an OID the server would
    /// choose: <c>lo_creat(mode)</c>, or <c>lo_create(0)</c>. Gives the result format it asks for.
    /// </summary>
    public static bool CreatesLargeObject(ReadOnlySpan<byte> message, out short resultFormat)
    {
        resultFormat = 0;
        var payload = new PgPayload(message[5..], 'F');
        var function = payload.ReadInt32();
        if (function is not (LoCreat or LoCreate))
        {
            return false;
        }

        var formatCount = payload.ReadInt16();
        var binaryArgument = false;
        for (var i = 0; i < formatCount; i++)
        {
            binaryArgument |= payload.ReadInt16() == 1 && i == 0;
        }

        if (payload.ReadInt16() != 1)
        {
            return false; // the server will reject the call: let it say so
        }

        var length = payload.ReadInt32();
        var argument = length < 0 ? default : payload.ReadBytes(length);
        resultFormat = payload.ReadInt16();
        if (function == LoCreat)
        {
            return true;
        }

        return length >= 0 && (binaryArgument ? argument.Length == 4 && BinaryPrimitives.ReadUInt32BigEndian(argument) == 0 : argument.SequenceEqual("0"u8));
    }

    /// <summary>Writes a FunctionCall of <c>lo_create(oid)</c>, the argument in binary.</summary>
    public static void LargeObjectCreate(IBufferWriter<byte> writer, uint oid, short resultFormat)
    {
        const int length = 4 + 4 + 2 + 2 + 2 + 4 + 4 + 2;
        var span = writer.GetSpan(1 + length);
        span[0] = (byte)'F';
        BinaryPrimitives.WriteInt32BigEndian(span[1..], length);
        BinaryPrimitives.WriteInt32BigEndian(span[5..], LoCreate);
        BinaryPrimitives.WriteInt16BigEndian(span[9..], 1); // one format code
        BinaryPrimitives.WriteInt16BigEndian(span[11..], 1); // binary
        BinaryPrimitives.WriteInt16BigEndian(span[13..], 1); // one argument
        BinaryPrimitives.WriteInt32BigEndian(span[15..], 4);
        BinaryPrimitives.WriteUInt32BigEndian(span[19..], oid);
        BinaryPrimitives.WriteInt16BigEndian(span[23..], resultFormat);
        writer.Advance(1 + length);
    }
}
