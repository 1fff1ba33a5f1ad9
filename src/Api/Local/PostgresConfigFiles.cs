using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Api.Local;

/// <summary>
/// Writes the settings this code owns into postgresql.conf (one marked block, replaced in place on
/// every write, so a copied template or a copied base backup gets this node's values) and pg_hba.conf.
/// </summary>
internal static class PostgresConfigFiles
{
    private const string BeginMarker = "# ---- BEGIN PgPoolConsole managed settings (rewritten on create/open; use ExtraSettings) ----";
    private const string EndMarker = "# ---- END PgPoolConsole managed settings ----";

    /// <summary>The short Unix-socket directory of an instance (socket paths must stay under ~100 characters).</summary>
    public static string SocketDirectoryFor(string dataDirectory)
    {
        var hash = SHA256.HashData(Encoding.UTF8.GetBytes(dataDirectory));
        return "/tmp/pgpc-s-" + Convert.ToHexStringLower(hash.AsSpan(0, 6));
    }

    public static IReadOnlyList<KeyValuePair<string, string>> Settings(PostgresInstanceOptions options, int port, string socketDirectory)
    {
        var settings = new List<KeyValuePair<string, string>>();
        void Add(string key, string value) => settings.Add(new(key, value));

        Add("listen_addresses", "127.0.0.1");
        Add("port", port.ToString(CultureInfo.InvariantCulture));
        Add("unix_socket_directories", socketDirectory);
        Add("max_connections", options.MaxConnections.ToString(CultureInfo.InvariantCulture));
        Add("password_encryption", options.AuthMethod == PostgresAuthMethod.Md5 ? "md5" : "scram-sha-256");
        Add("wal_level", "replica");
        Add("max_wal_senders", "10");
        Add("wal_keep_size", "128MB");
        // Containers often have a tiny /dev/shm; keep dynamic shared memory in the data directory.
        Add("dynamic_shared_memory_type", "mmap");
        if (options.ArchiveDirectory is { } archive)
        {
            // '%' is archive_command's own escape character. WAL segments are never overwritten. A
            // timeline history file is: a node rebuilt by online recovery and promoted again writes
            // one whose name its own archive already holds from its earlier life, and refusing it
            // would stop the node's archiving for good (pg_wal then grows without end).
            var quoted = ShellQuote(Path.GetFullPath(archive)).Replace("%", "%%", StringComparison.Ordinal);
            Add("archive_mode", "on");
            Add("archive_command", $"case %f in *.history) cp %p {quoted}/%f ;; *) test ! -f {quoted}/%f && cp %p {quoted}/%f ;; esac");
        }
        else
        {
            Add("archive_mode", "off");
        }

        if (options.FastUnsafe)
        {
            Add("fsync", "off");
            Add("synchronous_commit", "off");
            Add("full_page_writes", "off");
        }

        Add("logging_collector", "off");
        Add("log_line_prefix", "%m [%p] %q%u@%d ");
        foreach (var (key, value) in options.ExtraSettings)
        {
            Add(key, value);
        }

        return settings;
    }

    /// <summary>Replaces the managed block of postgresql.conf (or appends it) with <paramref name="settings"/>.</summary>
    public static void WriteManagedSettings(string dataDirectory, IReadOnlyList<KeyValuePair<string, string>> settings)
    {
        var path = Path.Combine(dataDirectory, "postgresql.conf");
        var text = File.ReadAllText(path);
        var block = new StringBuilder();
        block.Append(BeginMarker).Append('\n');
        foreach (var (key, value) in settings)
        {
            block.Append(key).Append(" = ").Append(Value(value)).Append('\n');
        }

        block.Append(EndMarker).Append('\n');

        var begin = text.IndexOf(BeginMarker, StringComparison.Ordinal);
        var end = begin < 0 ? -1 : text.IndexOf(EndMarker, begin, StringComparison.Ordinal);
        string updated;
        if (begin >= 0 && end >= 0)
        {
            var afterEnd = end + EndMarker.Length;
            if (afterEnd < text.Length && text[afterEnd] == '\n')
            {
                afterEnd++;
            }

            updated = string.Concat(text.AsSpan(0, begin), block.ToString(), text.AsSpan(afterEnd));
        }
        else
        {
            updated = (text.EndsWith('\n') ? text : text + "\n") + "\n" + block;
        }

        // Rewrite in place: the file keeps its owner (postgres) even when we are root.
        File.WriteAllText(path, updated);
    }

    /// <summary>
    /// Reads the value a server started on this directory would use: postgresql.auto.conf's (ALTER
    /// SYSTEM, or what online recovery wrote there) over the managed block's; null when neither has it.
    /// </summary>
    public static string? ReadEffectiveSetting(string dataDirectory, string key)
    {
        var auto = Path.Combine(dataDirectory, "postgresql.auto.conf");
        var value = File.Exists(auto)
            ? PgPoolConfigFile.Parse(File.ReadAllText(auto), auto).LastOrDefault(e => e.Key == key.ToLowerInvariant())?.Value // the last one wins, as in PostgreSQL
            : null;
        return value ?? ReadManagedSetting(dataDirectory, key);
    }

    /// <summary>Reads one value back from the managed block (null when absent).</summary>
    public static string? ReadManagedSetting(string dataDirectory, string key)
    {
        var path = Path.Combine(dataDirectory, "postgresql.conf");
        if (!File.Exists(path))
        {
            return null;
        }

        string? value = null;
        var inBlock = false;
        foreach (var line in File.ReadLines(path))
        {
            if (line == BeginMarker)
            {
                inBlock = true;
            }
            else if (line == EndMarker)
            {
                inBlock = false;
            }
            else if (inBlock && line.StartsWith(key + " = ", StringComparison.Ordinal))
            {
                value = Unquote(line[(key.Length + 3)..]);
            }
        }

        return value;
    }

    private static string Unquote(string raw) =>
        raw.Length >= 2 && raw[0] == '\'' && raw[^1] == '\''
            ? raw[1..^1].Replace("''", "'", StringComparison.Ordinal).Replace("\\\\", "\\", StringComparison.Ordinal)
            : raw;

    /// <summary>Unix sockets always trusted; host connections from 127.0.0.1 per <paramref name="method"/>, replication included.</summary>
    public static void WriteHba(string dataDirectory, PostgresAuthMethod method)
    {
        var hostMethod = method switch
        {
            PostgresAuthMethod.Trust => "trust",
            PostgresAuthMethod.Md5 => "md5",
            PostgresAuthMethod.ScramSha256 => "scram-sha-256",
            _ => throw new ArgumentOutOfRangeException(nameof(method), method, null),
        };
        var text =
            "# Written by PgPoolConsole. Unix-socket connections are trusted (admin access on this machine);\n" +
            $"# TCP connections from 127.0.0.1 use {hostMethod}.\n" +
            "# TYPE  DATABASE        USER            ADDRESS                 METHOD\n" +
            "local   all             all                                     trust\n" +
            "local   replication     all                                     trust\n" +
            $"host    all             all             127.0.0.1/32            {hostMethod}\n" +
            $"host    replication     all             127.0.0.1/32            {hostMethod}\n";
        File.WriteAllText(Path.Combine(dataDirectory, "pg_hba.conf"), text);
    }

    /// <summary>Numbers and plain lower-case words (on, replica) as they are; anything else quoted.</summary>
    public static string Value(string value) =>
        value.Length > 0 && (value.All(char.IsAsciiDigit) || value.All(c => char.IsAsciiLetterLower(c) || c == '_'))
            ? value
            : Quote(value);

    /// <summary>A postgresql.conf string literal: single quotes, embedded quotes doubled, backslashes escaped.</summary>
    public static string Quote(string value) =>
        "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>A POSIX shell single-quoted word.</summary>
    public static string ShellQuote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
