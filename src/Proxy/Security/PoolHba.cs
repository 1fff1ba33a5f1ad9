using System.Net;
using System.Net.Sockets;
using System.Text;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Proxy.Security;

/// <summary>The connection types of pool_hba.conf.</summary>
public enum HbaConnectionType
{
    Local,
    Host,
    HostSsl,
    HostNoSsl,
}

/// <summary>Client authentication methods a pool_hba.conf line can name.</summary>
public enum HbaMethod
{
    Trust,
    Reject,
    Md5,
    ScramSha256,
    Password,
}

/// <summary>One pool_hba.conf line. Empty <see cref="Databases"/> / <see cref="Users"/> lists never occur; "all" is a flag.</summary>
public sealed record HbaLine(int LineNumber, HbaConnectionType Type, bool AllDatabases, bool SameUser, IReadOnlyList<string> Databases, bool AllUsers, IReadOnlyList<string> Users, IPAddress? Network, int PrefixLength, HbaMethod Method)
{
    public bool Matches(bool isLocal, IPAddress? address, bool ssl, string database, string user)
    {
        var typeMatches = Type switch
        {
            HbaConnectionType.Local => isLocal,
            HbaConnectionType.Host => !isLocal,
            HbaConnectionType.HostSsl => !isLocal && ssl,
            _ => !isLocal && !ssl,
        };
        if (!typeMatches)
        {
            return false;
        }

        if (!AllDatabases && !(SameUser && database == user) && !Databases.Contains(database))
        {
            return false;
        }

        if (!AllUsers && !Users.Contains(user))
        {
            return false;
        }

        return isLocal || Network is null || (address is not null && InNetwork(address));
    }

    private bool InNetwork(IPAddress address)
    {
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily != Network!.AddressFamily)
        {
            return false;
        }

        var a = address.GetAddressBytes();
        var n = Network.GetAddressBytes();
        var bits = PrefixLength;
        for (var i = 0; i < a.Length && bits > 0; i++, bits -= 8)
        {
            var mask = bits >= 8 ? 0xff : (byte)(0xff << (8 - bits));
            if ((a[i] & mask) != (n[i] & mask))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary>
/// pool_hba.conf, PostgreSQL's pg_hba.conf format: <c>local DATABASE USER METHOD</c> or
/// <c>host|hostssl|hostnossl DATABASE USER ADDRESS METHOD</c> (ADDRESS as CIDR, or an IP address
/// followed by a netmask column, or "all"). DATABASE and USER are "all" or comma lists of names
/// (DATABASE also "sameuser"); quoted names are taken literally. METHOD is trust, reject, md5,
/// scram-sha-256 or password. The first line that matches a connection decides.
/// </summary>
public sealed class PoolHba
{
    private PoolHba(string path, IReadOnlyList<HbaLine> lines)
    {
        Path = path;
        Lines = lines;
    }

    public string Path { get; }

    public IReadOnlyList<HbaLine> Lines { get; }

    public static PoolHba Load(string path)
    {
        if (!File.Exists(path))
        {
            throw new ConfigException([new ConfigMessage(path, 0, null, "enable_pool_hba = on but the pool_hba.conf file does not exist")]);
        }

        return Parse(File.ReadAllText(path), path);
    }

    /// <summary>Parses the whole file; every bad line is reported with file and line number.</summary>
    public static PoolHba Parse(string text, string path)
    {
        var lines = new List<HbaLine>();
        var errors = new List<ConfigMessage>();
        var number = 0;
        foreach (var raw in text.Split('\n'))
        {
            number++;
            try
            {
                var fields = Tokenize(raw.TrimEnd('\r'));
                if (fields.Count > 0)
                {
                    lines.Add(ParseLine(fields, number));
                }
            }
            catch (FormatException e)
            {
                errors.Add(new ConfigMessage(path, number, null, e.Message));
            }
        }

        return errors.Count > 0 ? throw new ConfigException(errors) : new PoolHba(path, lines);
    }

    /// <summary>The first matching line, or null (no entry: the connection is refused).</summary>
    public HbaLine? Find(IPAddress? address, bool ssl, string database, string user)
    {
        var isLocal = address is null;
        return Lines.FirstOrDefault(line => line.Matches(isLocal, address, ssl, database, user));
    }

    private static HbaLine ParseLine(List<List<Token>> fields, int number)
    {
        var typeWord = Single(fields[0], "connection type");
        var type = typeWord switch
        {
            "local" => HbaConnectionType.Local,
            "host" or "hostnogssenc" => HbaConnectionType.Host,
            "hostssl" => HbaConnectionType.HostSsl,
            "hostnossl" => HbaConnectionType.HostNoSsl,
            "hostgssenc" => throw new FormatException("hostgssenc is not supported (GSSAPI encryption is not offered)"),
            _ => throw new FormatException($"invalid connection type \"{typeWord}\" (allowed: local, host, hostssl, hostnossl)"),
        };
        var needed = type == HbaConnectionType.Local ? 4 : 5;
        if (fields.Count < needed)
        {
            throw new FormatException(type == HbaConnectionType.Local
                ? "incomplete line: expected \"local DATABASE USER METHOD\""
                : $"incomplete line: expected \"{typeWord} DATABASE USER ADDRESS METHOD\"");
        }

        var (allDatabases, sameUser, databases) = Names(fields[1], "database");
        var (allUsers, _, users) = Names(fields[2], "user");
        IPAddress? network = null;
        var prefix = 0;
        var methodIndex = 3;
        if (type != HbaConnectionType.Local)
        {
            (network, prefix, methodIndex) = Address(fields, 3);
        }

        if (fields.Count <= methodIndex)
        {
            throw new FormatException("end-of-line before authentication method");
        }

        var methodWord = Single(fields[methodIndex], "authentication method");
        var method = methodWord switch
        {
            "trust" => HbaMethod.Trust,
            "reject" => HbaMethod.Reject,
            "md5" => HbaMethod.Md5,
            "scram-sha-256" => HbaMethod.ScramSha256,
            "password" => HbaMethod.Password,
            "pam" or "ldap" or "cert" or "gss" or "sspi" or "ident" or "peer" or "radius" or "krb5" =>
                throw new FormatException($"authentication method \"{methodWord}\" is not supported by pgpoolconsole (supported: trust, reject, md5, scram-sha-256, password)"),
            _ => throw new FormatException($"invalid authentication method \"{methodWord}\""),
        };
        if (fields.Count > methodIndex + 1)
        {
            throw new FormatException($"unexpected authentication option \"{fields[methodIndex + 1][0].Text}\" (methods {methodWord} takes none)");
        }

        return new HbaLine(number, type, allDatabases, sameUser, databases, allUsers, users, network, prefix, method);
    }

    private static (IPAddress? Network, int Prefix, int NextField) Address(List<List<Token>> fields, int index)
    {
        var token = fields[index];
        var text = Single(token, "address");
        if (text == "all" && !token[0].Quoted)
        {
            return (null, 0, index + 1);
        }

        if (text is "samehost" or "samenet")
        {
            throw new FormatException($"\"{text}\" is not supported; give the address in CIDR form");
        }

        var slash = text.IndexOf('/', StringComparison.Ordinal);
        var addressText = slash >= 0 ? text[..slash] : text;
        if (!IPAddress.TryParse(addressText, out var address) || (address.AddressFamily != AddressFamily.InterNetwork && address.AddressFamily != AddressFamily.InterNetworkV6))
        {
            throw new FormatException($"invalid IP address \"{addressText}\" (host names are not supported; use an address in CIDR form such as 192.168.0.0/24)");
        }

        var bitsTotal = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (slash >= 0)
        {
            if (!int.TryParse(text[(slash + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var prefix) || prefix > bitsTotal)
            {
                throw new FormatException($"invalid CIDR mask in address \"{text}\"");
            }

            return (address, prefix, index + 1);
        }

        // IP address followed by a netmask column.
        if (fields.Count <= index + 1)
        {
            throw new FormatException($"IP address \"{text}\" needs a CIDR mask (/n) or a netmask column");
        }

        var maskText = Single(fields[index + 1], "netmask");
        if (!IPAddress.TryParse(maskText, out var mask) || mask.AddressFamily != address.AddressFamily || PrefixOf(mask) is not { } maskBits)
        {
            throw new FormatException($"invalid IP mask \"{maskText}\"");
        }

        return (address, maskBits, index + 2);
    }

    private static int? PrefixOf(IPAddress mask)
    {
        var bits = 0;
        var ended = false;
        foreach (var b in mask.GetAddressBytes())
        {
            for (var bit = 7; bit >= 0; bit--)
            {
                var set = (b >> bit & 1) == 1;
                if (set && ended)
                {
                    return null;
                }

                if (set)
                {
                    bits++;
                }
                else
                {
                    ended = true;
                }
            }
        }

        return bits;
    }

    private static (bool All, bool SameUser, List<string> Names) Names(List<Token> field, string what)
    {
        var all = false;
        var sameUser = false;
        var names = new List<string>();
        foreach (var token in field)
        {
            if (!token.Quoted)
            {
                switch (token.Text)
                {
                    case "all":
                        all = true;
                        continue;
                    case "sameuser" when what == "database":
                        sameUser = true;
                        continue;
                    case "samerole" or "samegroup" when what == "database":
                        throw new FormatException($"\"{token.Text}\" is not supported");
                    case "replication" when what == "database":
                        continue; // replication connections are refused anyway: matches nothing
                }

                if (token.Text.StartsWith('+'))
                {
                    throw new FormatException($"group membership (\"{token.Text}\") is not supported; list the user names");
                }

                if (token.Text.StartsWith('@'))
                {
                    throw new FormatException($"file inclusion (\"{token.Text}\") is not supported");
                }
            }

            if (token.Text.Length == 0)
            {
                throw new FormatException($"empty {what} name");
            }

            names.Add(token.Text);
        }

        return (all, sameUser, names);
    }

    private static string Single(List<Token> field, string what) =>
        field.Count == 1 ? field[0].Text : throw new FormatException($"{what} cannot be a list: \"{string.Join(',', field.Select(t => t.Text))}\"");

    private readonly record struct Token(string Text, bool Quoted);

    /// <summary>
    /// Splits a line into fields; a field is a comma-separated list of tokens (whitespace may follow
    /// a comma), a token may be double-quoted ("" is a quote inside). '#' starts a comment.
    /// </summary>
    private static List<List<Token>> Tokenize(string line)
    {
        var fields = new List<List<Token>>();
        var i = 0;
        while (true)
        {
            while (i < line.Length && char.IsWhiteSpace(line[i]))
            {
                i++;
            }

            if (i >= line.Length || line[i] == '#')
            {
                return fields;
            }

            var field = new List<Token>();
            while (true)
            {
                var text = new StringBuilder();
                var quoted = false;
                var inQuotes = false;
                while (i < line.Length)
                {
                    var c = line[i];
                    if (inQuotes)
                    {
                        if (c == '"' && i + 1 < line.Length && line[i + 1] == '"')
                        {
                            text.Append('"');
                            i += 2;
                            continue;
                        }

                        if (c == '"')
                        {
                            inQuotes = false;
                        }
                        else
                        {
                            text.Append(c);
                        }

                        i++;
                        continue;
                    }

                    if (char.IsWhiteSpace(c) || c == ',' || c == '#')
                    {
                        break;
                    }

                    if (c == '"')
                    {
                        inQuotes = quoted = true;
                    }
                    else
                    {
                        text.Append(c);
                    }

                    i++;
                }

                if (inQuotes)
                {
                    throw new FormatException("unterminated quoted string");
                }

                field.Add(new Token(text.ToString(), quoted));
                if (i < line.Length && line[i] == ',')
                {
                    i++;
                    while (i < line.Length && char.IsWhiteSpace(line[i]))
                    {
                        i++;
                    }

                    continue;
                }

                break;
            }

            fields.Add(field);
        }
    }
}
