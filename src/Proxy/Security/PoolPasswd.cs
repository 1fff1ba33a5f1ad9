using System.Security.Cryptography;
using System.Text;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Security;

/// <summary>How a pool_passwd line stores the password.</summary>
public enum PasswordKind
{
    /// <summary><c>md5</c> + md5(password + user): md5 client authentication; md5 backends.</summary>
    Md5,

    /// <summary><c>SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey</c> (as in pg_authid).</summary>
    ScramSha256,

    /// <summary><c>TEXT</c> + password, or a line without prefix.</summary>
    Text,

    /// <summary><c>AES</c> + base64 of the password encrypted with the pool key (pgpool-II's pg_enc format).</summary>
    Aes,
}

/// <summary>One user's line of pool_passwd. <see cref="Password"/> is set for TEXT and (decrypted) AES lines.</summary>
public sealed record PoolPasswdEntry(string User, PasswordKind Kind, string Secret, string? Password)
{
    /// <summary>md5(password + user) in hex, when known.</summary>
    public string? Md5Hash => Kind == PasswordKind.Md5 ? Secret[3..] : Password is { } p ? PgMd5.Hex(p + User) : null;

    /// <summary>The SCRAM verifier, when stored.</summary>
    public ScramVerifier? Scram => Kind == PasswordKind.ScramSha256 ? ScramVerifier.Parse(Secret) : null;
}

/// <summary>
/// pool_passwd: <c>user:secret</c> lines in pgpool-II's format (md5…, SCRAM-SHA-256$…, TEXT…, AES…).
/// AES lines are decrypted with the pool key (pgpool-II's <c>.pgpoolkey</c>) when the file is read.
/// </summary>
public sealed class PoolPasswd
{
    private readonly Dictionary<string, PoolPasswdEntry> _entries;

    private PoolPasswd(string path, Dictionary<string, PoolPasswdEntry> entries)
    {
        Path = path;
        _entries = entries;
    }

    public string Path { get; }

    public static PoolPasswd Empty { get; } = new("", new(StringComparer.Ordinal));

    public int Count => _entries.Count;

    public PoolPasswdEntry? Find(string user) => _entries.GetValueOrDefault(user);

    /// <summary>Reads the file; a missing file is an empty one. Errors name the file and line.</summary>
    public static PoolPasswd Load(string path, Func<string?> poolKey)
    {
        if (!File.Exists(path))
        {
            return new PoolPasswd(path, new(StringComparer.Ordinal));
        }

        return Parse(File.ReadAllText(path), path, poolKey);
    }

    public static PoolPasswd Parse(string text, string path, Func<string?> poolKey)
    {
        var entries = new Dictionary<string, PoolPasswdEntry>(StringComparer.Ordinal);
        var errors = new List<ConfigMessage>();
        var lineNumber = 0;
        foreach (var raw in text.Split('\n'))
        {
            lineNumber++;
            var line = raw.TrimEnd('\r');
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon <= 0)
            {
                errors.Add(new ConfigMessage(path, lineNumber, null, "expected \"user:password\""));
                continue;
            }

            var user = line[..colon];
            var secret = line[(colon + 1)..];
            try
            {
                entries[user] = ParseEntry(user, secret, poolKey);
            }
            catch (FormatException e)
            {
                errors.Add(new ConfigMessage(path, lineNumber, null, $"user \"{user}\": {e.Message}"));
            }
        }

        return errors.Count > 0 ? throw new ConfigException(errors) : new PoolPasswd(path, entries);
    }

    internal static PoolPasswdEntry ParseEntry(string user, string secret, Func<string?> readPoolKey)
    {
        if (secret.StartsWith("md5", StringComparison.Ordinal) && secret.Length == 35 && secret[3..].All(char.IsAsciiHexDigitLower))
        {
            return new PoolPasswdEntry(user, PasswordKind.Md5, secret, null);
        }

        if (secret.StartsWith("SCRAM-SHA-256$", StringComparison.Ordinal))
        {
            _ = ScramVerifier.Parse(secret);
            return new PoolPasswdEntry(user, PasswordKind.ScramSha256, secret, null);
        }

        if (secret.StartsWith("AES", StringComparison.Ordinal))
        {
            if (readPoolKey() is not { } poolKey)
            {
                throw new FormatException("the password is AES-encrypted but no pool key was found (pool_key_file, PGPOOLKEYFILE or ~/.pgpoolkey)");
            }

            return new PoolPasswdEntry(user, PasswordKind.Aes, secret, PoolKey.Decrypt(secret[3..], poolKey));
        }

        var password = secret.StartsWith("TEXT", StringComparison.Ordinal) ? secret[4..] : secret;
        return new PoolPasswdEntry(user, PasswordKind.Text, secret, password);
    }

    /// <summary>Adds or replaces a user's line in the file (created with mode 0600 if missing).</summary>
    public static void Update(string path, string user, string secret)
    {
        if (user.Contains(':', StringComparison.Ordinal) || user.Contains('\n', StringComparison.Ordinal) || secret.Contains('\n', StringComparison.Ordinal))
        {
            throw new ArgumentException("user names in pool_passwd cannot contain ':' or line breaks", nameof(user));
        }

        var lines = File.Exists(path) ? File.ReadAllLines(path).ToList() : [];
        var line = user + ":" + secret;
        var index = lines.FindIndex(l => l.StartsWith(user + ":", StringComparison.Ordinal));
        if (index >= 0)
        {
            lines[index] = line;
        }
        else
        {
            lines.Add(line);
        }

        var existed = File.Exists(path);
        File.WriteAllText(path, string.Join('\n', lines) + "\n");
        if (!existed && !OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}

/// <summary>
/// The key that encrypts AES lines of pool_passwd, compatible with pgpool-II's pg_enc: AES-256-CBC
/// with key and IV from OpenSSL's EVP_BytesToKey(SHA-1, no salt, one round) over the key text.
/// The key is the first line of the key file (pool_key_file, else $PGPOOLKEYFILE, else ~/.pgpoolkey).
/// </summary>
public static class PoolKey
{
    /// <summary>The key file to use: <paramref name="configured"/>, else $PGPOOLKEYFILE, else ~/.pgpoolkey.</summary>
    public static string FilePath(string configured) =>
        configured.Length > 0 ? configured
        : Environment.GetEnvironmentVariable("PGPOOLKEYFILE") is { Length: > 0 } fromEnvironment ? fromEnvironment
        : System.IO.Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".pgpoolkey");

    /// <summary>The key, or null when the file does not exist. A key file others can read is refused.</summary>
    public static string? Read(string path)
    {
        if (!File.Exists(path))
        {
            return null;
        }

        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
        {
            throw new ConfigException([new ConfigMessage(path, 0, null, "the pool key file must not be accessible by group or others (chmod 600)")]);
        }

        var key = File.ReadLines(path).FirstOrDefault()?.TrimEnd('\r') ?? "";
        return key.Length == 0 ? throw new ConfigException([new ConfigMessage(path, 1, null, "the pool key file is empty")]) : key;
    }

    public static string Encrypt(string password, string key)
    {
        using var aes = Create(key);
        return Convert.ToBase64String(aes.EncryptCbc(Encoding.UTF8.GetBytes(password), aes.IV));
    }

    public static string Decrypt(string base64, string key)
    {
        try
        {
            using var aes = Create(key);
            return Encoding.UTF8.GetString(aes.DecryptCbc(Convert.FromBase64String(base64), aes.IV));
        }
        catch (Exception e) when (e is CryptographicException or FormatException)
        {
            throw new FormatException("cannot decrypt the AES password with the pool key (wrong key?)", e);
        }
    }

    private static Aes Create(string key)
    {
        // EVP_BytesToKey: D1 = SHA1(key), D2 = SHA1(D1 + key), D3 = SHA1(D2 + key); key = 32 bytes, iv = next 16.
        var keyBytes = Encoding.UTF8.GetBytes(key);
        var material = new List<byte>();
        var previous = Array.Empty<byte>();
        while (material.Count < 48)
        {
            previous = SHA1.HashData([.. previous, .. keyBytes]);
            material.AddRange(previous);
        }

        var aes = Aes.Create();
        aes.Key = [.. material.Take(32)];
        aes.IV = [.. material.Skip(32).Take(16)];
        return aes;
    }
}
