using System.Buffers;
using System.Buffers.Binary;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Tests.Protocol;

public sealed class StartupPacketTests
{
    private static ReadOnlySequence<byte> Startup(params (string Key, string Value)[] parameters)
    {
        var writer = new ArrayBufferWriter<byte>();
        PgWriter.StartupMessage(writer, parameters.Select(p => new KeyValuePair<string, string>(p.Key, p.Value)));
        return new ReadOnlySequence<byte>(writer.WrittenMemory);
    }

    [Fact]
    public void Parse_StartupMessage_ReadsParametersAndDefaultsDatabaseToUser()
    {
        var packet = StartupPacket.Parse(Startup(("user", "alice"), ("application_name", "psql")));

        Assert.Equal(StartupPacketKind.Startup, packet.Kind);
        Assert.Equal("alice", packet.User);
        Assert.Equal("alice", packet.Database);
        Assert.Equal("psql", packet.Get("application_name"));
    }

    [Fact]
    public void Parse_NoUser_IsRejectedWithPostgresMessage()
    {
        var error = Assert.Throws<PgProtocolException>(() => StartupPacket.Parse(Startup(("database", "x"))));
        Assert.Equal("no PostgreSQL user name specified in startup packet", error.Message);
    }

    [Fact]
    public void Parse_CancelRequest_ReadsProcessIdAndKey()
    {
        var packet = StartupPacket.Parse(new ReadOnlySequence<byte>(PgWriter.CancelRequest(1234, 5678)));

        Assert.Equal(StartupPacketKind.CancelRequest, packet.Kind);
        Assert.Equal(1234, packet.CancelProcessId);
        Assert.Equal(5678, packet.CancelSecretKey);
    }

    [Theory]
    [InlineData(StartupPacket.SslRequestCode, StartupPacketKind.SslRequest)]
    [InlineData(StartupPacket.GssEncRequestCode, StartupPacketKind.GssEncRequest)]
    public void Parse_EncryptionRequests_AreRecognised(int code, StartupPacketKind kind)
    {
        var bytes = new byte[8];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 8);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), code);

        Assert.Equal(kind, StartupPacket.Parse(new ReadOnlySequence<byte>(bytes)).Kind);
    }

    [Fact]
    public void Parse_ProtocolVersion2_IsRefused()
    {
        var bytes = new byte[9];
        BinaryPrimitives.WriteInt32BigEndian(bytes, 9);
        BinaryPrimitives.WriteInt32BigEndian(bytes.AsSpan(4), 2 << 16);

        var error = Assert.Throws<PgProtocolException>(() => StartupPacket.Parse(new ReadOnlySequence<byte>(bytes)));
        Assert.Contains("unsupported frontend protocol 2.0", error.Message);
    }

    [Fact]
    public void Parse_ParameterWithoutValue_IsRefused()
    {
        var bytes = new byte[] { 0, 0, 0, 14, 0, 3, 0, 0, (byte)'u', (byte)'s', (byte)'e', (byte)'r', 0, (byte)'x' };

        var error = Assert.Throws<PgProtocolException>(() => StartupPacket.Parse(new ReadOnlySequence<byte>(bytes)));
        Assert.Contains("missing value for parameter \"user\"", error.Message);
    }
}
