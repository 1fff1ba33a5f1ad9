using System.Security.Cryptography;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>
/// Built-in and extension functions whose result differs from node to node. In a write, random(),
/// gen_random_uuid(), gen_random_bytes(n) and gen_salt(type) evaluated once (in a VALUES list or
/// as a column default of an inserted row) are given one proxy-generated value for every node;
/// anywhere else, and for the others, the statement is refused unless allow_nondeterministic_writes
/// is on.
/// </summary>
public static class NondeterministicFunctions
{
    /// <summary>pgcrypto's limit for gen_random_bytes.</summary>
    private const int MaxRandomBytes = 1024;

    private const string CryptAlphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private const string BlowfishAlphabet = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

    private static readonly Dictionary<string, GeneratedValue> WithoutArguments = new(StringComparer.Ordinal)
    {
        ["random"] = new(SlotKind.RandomDouble, "float8"),
        ["gen_random_uuid"] = new(SlotKind.RandomUuid, "uuid"),
        ["uuid_generate_v4"] = new(SlotKind.RandomUuid, "uuid"),
    };

    private static readonly HashSet<string> NotReproducible = new(StringComparer.Ordinal)
    {
        "timeofday", "pg_backend_pid", "inet_client_addr", "inet_client_port", "inet_server_addr", "inet_server_port",
        "txid_current", "pg_current_xact_id", "uuid_generate_v1", "uuid_generate_v1mc", "random_normal", "setseed",
        "gen_random_bytes", "gen_salt",

        // Each node's own transaction ids, WAL positions and start times.
        "txid_current_if_assigned", "pg_current_xact_id_if_assigned", "txid_current_snapshot", "pg_current_snapshot",
        "pg_current_wal_lsn", "pg_current_wal_insert_lsn", "pg_current_wal_flush_lsn", "pg_last_committed_xact",
        "pg_postmaster_start_time", "pg_conf_load_time", "pg_my_temp_schema", "pg_blocking_pids",
        "pg_control_system", "pg_control_checkpoint", "pg_control_init", "pg_control_recovery",

        // Physical sizes: each node's files, with its own dead rows and free space.
        "pg_database_size", "pg_relation_size", "pg_total_relation_size", "pg_table_size", "pg_indexes_size", "pg_tablespace_size",

        // Each node reads its own file system.
        "pg_read_file", "pg_read_binary_file", "pg_stat_file", "pg_ls_dir", "pg_ls_logdir", "pg_ls_waldir", "pg_ls_tmpdir", "pg_ls_archive_statusdir",
    };

    // Settings that name the node itself (current_setting('port') in a write stores each node's own port).
    private static readonly HashSet<string> NodeSettings = new(StringComparer.Ordinal)
    {
        "port", "data_directory", "config_file", "hba_file", "ident_file", "external_pid_file", "cluster_name",
        "listen_addresses", "unix_socket_directories", "log_directory", "archive_command", "restore_command", "primary_conninfo",
    };

    /// <summary>
    /// The value the proxy generates in place of a call to a random function (random(),
    /// gen_random_uuid(), pgcrypto's gen_random_bytes(n) and gen_salt(type [, rounds]) with constant
    /// arguments), and the index of the call's closing parenthesis. <paramref name="call"/> is the
    /// function name's token, followed by <c>(</c>. Null when the call is not one of those, or its
    /// arguments are not constants the proxy can read (<see cref="NotReproducibleCall"/> then tells
    /// whether it must be refused).
    /// </summary>
    public static (GeneratedValue Value, int Close)? Generated(QualifiedName function, ReadOnlySpan<char> sql, IReadOnlyList<SqlToken> tokens, int call)
    {
        if (!IsBuiltInOrExtension(function) || call + 2 >= tokens.Count)
        {
            return null;
        }

        var first = call + 2;
        if (WithoutArguments.TryGetValue(function.Name, out var value))
        {
            return tokens[first].Kind == SqlTokenKind.CloseParen ? (value, first) : null;
        }

        switch (function.Name)
        {
            case "gen_random_bytes" when ConstantArguments(sql, tokens, first) is ([var count], var close)
                && int.TryParse(count, System.Globalization.CultureInfo.InvariantCulture, out var length) && length is > 0 and <= MaxRandomBytes:
                return (new GeneratedValue(SlotKind.RandomBytes, "bytea", count), close);
            case "gen_salt" when ConstantArguments(sql, tokens, first) is ([var type, .. var rest], var close) && rest.Count <= 1
                && SaltSpec(type, rest.Count == 0 ? null : rest[0]) is { } spec:
                return (new GeneratedValue(SlotKind.RandomSalt, "text", spec), close);
            default:
                return null;
        }
    }

    /// <summary>
    /// A call that gives each node a different value and that the proxy cannot generate (see
    /// <see cref="Generated"/>), as an error message names it ("timeofday()",
    /// "current_setting('port')"); null for any other call. <paramref name="call"/> is the
    /// function name's token, followed by <c>(</c>.
    /// </summary>
    public static string? NotReproducibleCall(QualifiedName function, ReadOnlySpan<char> sql, IReadOnlyList<SqlToken> tokens, int call)
    {
        if (!IsBuiltInOrExtension(function))
        {
            return null;
        }

        if (NotReproducible.Contains(function.Name) || function.Name.StartsWith("pg_stat_get_", StringComparison.Ordinal))
        {
            return function.Name + "()";
        }

        if (function.Name == "current_setting" && call + 2 < tokens.Count && tokens[call + 2] is { Kind: SqlTokenKind.String } argument
            && sql.Slice(argument.Start, argument.Length) is ['\'', .. var setting, '\'']
            && NodeSettings.Contains(setting.ToString().ToLowerInvariant()))
        {
            return $"current_setting('{setting}')";
        }

        return null;
    }

    // Core functions live in pg_catalog; extensions' (uuid-ossp, pgcrypto) in whatever schema the
    // extension was created in (Supabase puts them in "extensions"), so those count in any schema.
    private static bool IsBuiltInOrExtension(QualifiedName function) =>
        function.Schema is null or "pg_catalog" or "public" || function.Name.StartsWith("uuid_generate_", StringComparison.Ordinal)
        || function.Name is "gen_random_bytes" or "gen_salt" or "gen_random_uuid";

    /// <summary>
    /// The calls in an expression (a column default from pg_get_expr) whose value the proxy generates
    /// once instead: where each is, with its schema if written, and the value. Matched by name
    /// whatever the schema: pg_get_expr qualifies a function outside the search_path.
    /// </summary>
    public static List<(int Start, int Length, GeneratedValue Value)> RandomCalls(string expression)
    {
        var calls = new List<(int, int, GeneratedValue)>();
        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(expression, tokens);
        for (var i = 0; i + 2 < tokens.Count; i++)
        {
            if (tokens[i].Kind == SqlTokenKind.Identifier && tokens[i + 1].Kind == SqlTokenKind.OpenParen
                && Generated(new QualifiedName(null, expression.Substring(tokens[i].Start, tokens[i].Length).ToLowerInvariant()), expression, tokens, i) is var (value, close))
            {
                var start = i >= 2 && tokens[i - 1].Kind == SqlTokenKind.Dot ? tokens[i - 2].Start : tokens[i].Start;
                calls.Add((start, tokens[close].End - start, value));
                i = close;
            }
        }

        return calls;
    }

    /// <summary>The first call in an expression (a column default from pg_get_expr) that gives each node its own value and that the proxy cannot generate (<see cref="Generated"/>), as <see cref="NotReproducibleCall"/> names it; null for none.</summary>
    public static string? NodeSpecificCall(string expression)
    {
        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(expression, tokens);
        for (var i = 0; i + 2 < tokens.Count; i++)
        {
            if (tokens[i].Kind != SqlTokenKind.Identifier || tokens[i + 1].Kind != SqlTokenKind.OpenParen)
            {
                continue;
            }

            var function = new QualifiedName(null, expression.Substring(tokens[i].Start, tokens[i].Length).ToLowerInvariant());
            if (Generated(function, expression, tokens, i) is null && NotReproducibleCall(function, expression, tokens, i) is { } call)
            {
                return call; // gen_random_bytes(16) is generated once instead; gen_random_bytes(n) is not
            }
        }

        return null;
    }

    /// <summary>A value for every node: a random double in [0, 1), a version 4 UUID, random bytes (hex) or a crypt() salt.</summary>
    public static string Generate(GeneratedValue value) => value.Kind switch
    {
        SlotKind.RandomUuid => Guid.NewGuid().ToString(),
        SlotKind.RandomBytes => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(int.Parse(value.Argument, System.Globalization.CultureInfo.InvariantCulture))),
        SlotKind.RandomSalt => Salt(value.Argument),
        _ => Random.Shared.NextDouble().ToString("R", System.Globalization.CultureInfo.InvariantCulture),
    };

    /// <summary>
    /// The constant arguments of a call (numbers, plain string literals, each with an optional
    /// <c>::type</c> as pg_get_expr writes them), from token <paramref name="first"/> to the closing
    /// parenthesis; null when any argument is something else.
    /// </summary>
    private static (List<string> Values, int Close)? ConstantArguments(ReadOnlySpan<char> sql, IReadOnlyList<SqlToken> tokens, int first)
    {
        var values = new List<string>();
        var i = first;
        while (i < tokens.Count && tokens[i].Kind != SqlTokenKind.CloseParen)
        {
            var token = tokens[i];
            var text = sql.Slice(token.Start, token.Length);
            if (token.Kind == SqlTokenKind.Number && text.IndexOfAnyExcept("0123456789") < 0)
            {
                values.Add(text.ToString());
            }
            else if (token.Kind == SqlTokenKind.String && text is ['\'', .. var inner, '\''] && !inner.Contains('\'') && !inner.Contains('\\'))
            {
                values.Add(inner.ToString());
            }
            else
            {
                return null;
            }

            i++;
            if (i + 1 < tokens.Count && tokens[i].Kind == SqlTokenKind.DoubleColon && tokens[i + 1].Kind == SqlTokenKind.Identifier)
            {
                i += 2;
            }

            if (i < tokens.Count && tokens[i].Kind == SqlTokenKind.Comma)
            {
                i++;
            }
            else
            {
                break;
            }
        }

        return i < tokens.Count && tokens[i].Kind == SqlTokenKind.CloseParen && values.Count > 0 ? (values, i) : null;
    }

    /// <summary>
    /// gen_salt's salt type and rounds as "type:rounds" when pgcrypto would accept them (des, md5,
    /// xdes with odd rounds up to 2^24 - 1 (725 by default), bf with 4-31 rounds (6 by default));
    /// null otherwise, and for rounds given to des or md5, which take none.
    /// </summary>
    private static string? SaltSpec(string type, string? rounds)
    {
        var count = 0;
        if (rounds is not null && !int.TryParse(rounds, System.Globalization.CultureInfo.InvariantCulture, out count))
        {
            return null;
        }

        return type.ToLowerInvariant() switch
        {
            "des" or "md5" when count == 0 => type.ToLowerInvariant() + ":0",
            "xdes" when count == 0 => "xdes:725",
            "xdes" when count is > 0 and <= 0xFFFFFF && count % 2 == 1 => "xdes:" + count,
            "bf" when count == 0 => "bf:6",
            "bf" when count is >= 4 and <= 31 => "bf:" + count,
            _ => null,
        };
    }

    /// <summary>A salt as pgcrypto's gen_salt makes it, from cryptographically random bytes.</summary>
    private static string Salt(string spec)
    {
        var (type, rounds) = (spec[..spec.IndexOf(':')], int.Parse(spec[(spec.IndexOf(':') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        switch (type)
        {
            case "des":
                var des = RandomNumberGenerator.GetBytes(2);
                return string.Concat(CryptAlphabet[des[0] & 0x3f], CryptAlphabet[des[1] & 0x3f]);
            case "md5":
                var md5 = RandomNumberGenerator.GetBytes(6);
                return "$1$" + Crypt64(md5[0] | (md5[1] << 8) | (md5[2] << 16), 4) + Crypt64(md5[3] | (md5[4] << 8) | (md5[5] << 16), 4);
            case "xdes":
                var xdes = RandomNumberGenerator.GetBytes(3);
                return "_" + Crypt64(rounds, 4) + Crypt64(xdes[0] | (xdes[1] << 8) | (xdes[2] << 16), 4);
            default:
                return "$2a$" + rounds.ToString("00", System.Globalization.CultureInfo.InvariantCulture) + "$" + BlowfishBase64(RandomNumberGenerator.GetBytes(16));
        }
    }

    /// <summary>crypt(3)'s base 64: the low 6 bits first.</summary>
    private static string Crypt64(int value, int characters)
    {
        var text = new char[characters];
        for (var i = 0; i < characters; i++, value >>= 6)
        {
            text[i] = CryptAlphabet[value & 0x3f];
        }

        return new string(text);
    }

    /// <summary>bcrypt's base 64 (its own alphabet, the high bits first, no padding).</summary>
    private static string BlowfishBase64(byte[] bytes)
    {
        var text = new System.Text.StringBuilder();
        for (var i = 0; i < bytes.Length; i += 3)
        {
            var c1 = bytes[i];
            text.Append(BlowfishAlphabet[c1 >> 2]);
            var carry = (c1 & 0x03) << 4;
            if (i + 1 >= bytes.Length)
            {
                text.Append(BlowfishAlphabet[carry]);
                break;
            }

            var c2 = bytes[i + 1];
            text.Append(BlowfishAlphabet[carry | (c2 >> 4)]);
            carry = (c2 & 0x0f) << 2;
            if (i + 2 >= bytes.Length)
            {
                text.Append(BlowfishAlphabet[carry]);
                break;
            }

            var c3 = bytes[i + 2];
            text.Append(BlowfishAlphabet[carry | (c3 >> 6)]);
            text.Append(BlowfishAlphabet[c3 & 0x3f]);
        }

        return text.ToString();
    }
}

/// <summary>A value the proxy generates once in place of a random call, the same for every node.</summary>
/// <param name="Kind">What it is.</param>
/// <param name="Type">The SQL type of the call's result.</param>
/// <param name="Argument">What the generator needs: the byte count, or gen_salt's "type:rounds".</param>
public readonly record struct GeneratedValue(SlotKind Kind, string Type, string Argument = "")
{
    /// <summary>How a refusal names a value per row.</summary>
    public string Description => Kind switch
    {
        SlotKind.RandomBytes => "random bytes",
        SlotKind.RandomSalt => "crypt() salt",
        _ => Type,
    };
}
