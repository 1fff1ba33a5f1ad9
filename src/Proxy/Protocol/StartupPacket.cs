using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace PgPoolConsole.Proxy.Protocol;

/// <summary>The kind of the first packet a client sends.</summary>
public enum StartupPacketKind
{
    Startup,
    SslRequest,
    GssEncRequest,
    CancelRequest,
}

/// <summary>A parsed first packet: StartupMessage, SSLRequest, GSSENCRequest or CancelRequest.</summary>
public sealed class StartupPacket
{
    public const int ProtocolVersion3 = 196608; // 3.0
    public const int SslRequestCode = 80877103;
    public const int GssEncRequestCode = 80877104;
    public const int CancelRequestCode = 80877102;

    private StartupPacket(StartupPacketKind kind) => Kind = kind;

    public StartupPacketKind Kind { get; }

    /// <summary>Requested protocol version (major &lt;&lt; 16 | minor) of a StartupMessage.</summary>
    public int ProtocolVersion { get; private init; }

    /// <summary>Startup parameters in the order sent (user, database, application_name, options, ...).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Parameters { get; private init; } = [];

    public int CancelProcessId { get; private init; }

    public int CancelSecretKey { get; private init; }

    public string User => Get("user") ?? "";

    /// <summary>The database; PostgreSQL defaults it to the user name.</summary>
    public string Database => Get("database") is { Length: > 0 } db ? db : User;

    public string? Get(string name)
    {
        foreach (var pair in Parameters)
        {
            if (pair.Key == name)
            {
                return pair.Value;
            }
        }

        return null;
    }

    /// <summary>Parses a whole packet (length word included). Throws <see cref="PgProtocolException"/>.</summary>
    public static StartupPacket Parse(ReadOnlySequence<byte> packet)
    {
        var bytes = packet.Length <= 512 ? stackalloc byte[(int)packet.Length] : new byte[packet.Length];
        packet.CopyTo(bytes);
        var code = BinaryPrimitives.ReadInt32BigEndian(bytes.Slice(4, 4));
        switch (code)
        {
            case SslRequestCode when bytes.Length == 8:
                return new StartupPacket(StartupPacketKind.SslRequest);
            case GssEncRequestCode when bytes.Length == 8:
                return new StartupPacket(StartupPacketKind.GssEncRequest);
            case CancelRequestCode when bytes.Length == 16:
                return new StartupPacket(StartupPacketKind.CancelRequest)
                {
                    CancelProcessId = BinaryPrimitives.ReadInt32BigEndian(bytes.Slice(8, 4)),
                    CancelSecretKey = BinaryPrimitives.ReadInt32BigEndian(bytes.Slice(12, 4)),
                };
            case SslRequestCode or GssEncRequestCode or CancelRequestCode:
                throw new PgProtocolException($"invalid length of startup packet: {bytes.Length}");
        }

        var major = code >> 16;
        if (major != 3)
        {
            throw new PgProtocolException($"unsupported frontend protocol {major}.{code & 0xffff}: server supports 3.0 to 3.0");
        }

        var parameters = new List<KeyValuePair<string, string>>();
        var rest = bytes[8..];
        while (true)
        {
            var nameEnd = rest.IndexOf((byte)0);
            if (nameEnd < 0)
            {
                throw new PgProtocolException("invalid startup packet layout: expected terminator as last byte");
            }

            if (nameEnd == 0)
            {
                if (rest.Length != 1)
                {
                    throw new PgProtocolException("invalid startup packet layout: expected terminator as last byte");
                }

                break;
            }

            var name = Encoding.UTF8.GetString(rest[..nameEnd]);
            rest = rest[(nameEnd + 1)..];
            var valueEnd = rest.IndexOf((byte)0);
            if (valueEnd < 0)
            {
                throw new PgProtocolException($"invalid startup packet layout: missing value for parameter \"{name}\"");
            }

            parameters.Add(new(name, Encoding.UTF8.GetString(rest[..valueEnd])));
            rest = rest[(valueEnd + 1)..];
        }

        var result = new StartupPacket(StartupPacketKind.Startup) { ProtocolVersion = code, Parameters = parameters };
        if (string.IsNullOrEmpty(result.User))
        {
            throw new PgProtocolException("no PostgreSQL user name specified in startup packet");
        }

        return result;
    }
}
