using System.Buffers;
using System.Buffers.Binary;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Tests.Protocol;

public sealed class FunctionCallMessageTests
{
    /// <summary>A FunctionCall with one argument, as libpq's PQfn sends it.</summary>
    private static byte[] Call(int function, short? argumentFormat, byte[]? argument, short resultFormat = 1)
    {
        var body = new ArrayBufferWriter<byte>();
        void Int16(short value) => BinaryPrimitives.WriteInt16BigEndian(body.GetSpan(2), value);
        void Int32(int value) => BinaryPrimitives.WriteInt32BigEndian(body.GetSpan(4), value);
        Int32(function);
        body.Advance(4);
        Int16((short)(argumentFormat is null ? 0 : 1));
        body.Advance(2);
        if (argumentFormat is { } format)
        {
            Int16(format);
            body.Advance(2);
        }

        Int16(1);
        body.Advance(2);
        Int32(argument?.Length ?? -1);
        body.Advance(4);
        body.Write(argument ?? []);
        Int16(resultFormat);
        body.Advance(2);
        var message = new byte[5 + body.WrittenCount];
        message[0] = (byte)'F';
        BinaryPrimitives.WriteInt32BigEndian(message.AsSpan(1), 4 + body.WrittenCount);
        body.WrittenSpan.CopyTo(message.AsSpan(5));
        return message;
    }

    private static byte[] Binary(uint value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(bytes, value);
        return bytes;
    }

    [Fact]
    public void LoCreat_AndLoCreateOfZero_CreateUnderAServerChosenOid()
    {
        Assert.True(FunctionCallMessage.CreatesLargeObject(Call(957, 1, Binary(0x60000)), out var resultFormat));
        Assert.Equal(1, resultFormat);
        Assert.True(FunctionCallMessage.CreatesLargeObject(Call(715, 1, Binary(0)), out _));
        Assert.True(FunctionCallMessage.CreatesLargeObject(Call(715, null, "0"u8.ToArray(), resultFormat: 0), out resultFormat));
        Assert.Equal(0, resultFormat);
    }

    [Fact]
    public void OtherCalls_AreLeftAlone()
    {
        Assert.False(FunctionCallMessage.CreatesLargeObject(Call(715, 1, Binary(16500)), out _)); // lo_create with its own OID
        Assert.False(FunctionCallMessage.CreatesLargeObject(Call(715, 0, "16500"u8.ToArray()), out _));
        Assert.False(FunctionCallMessage.CreatesLargeObject(Call(715, 1, null), out _)); // NULL: lo_create is strict
        Assert.False(FunctionCallMessage.CreatesLargeObject(Call(952, 1, Binary(16500)), out _)); // lo_open
    }

    [Fact]
    public void ATruncatedCall_IsAProtocolErrorNamingTheMessage()
    {
        var message = Call(957, 1, Binary(0));
        var error = Assert.Throws<PgProtocolException>(() => FunctionCallMessage.CreatesLargeObject(message.AsSpan(0, message.Length - 3), out _));
        Assert.Contains("\"F\" message", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LargeObjectCreate_WritesLoCreateWithABinaryOid()
    {
        var writer = new ArrayBufferWriter<byte>();
        FunctionCallMessage.LargeObjectCreate(writer, 4_000_000_000, resultFormat: 1);
        var expected = Call(715, 1, Binary(4_000_000_000));
        Assert.Equal(expected, writer.WrittenSpan.ToArray());
    }
}
