namespace PgPoolConsole.Proxy.Configuration;

/// <summary>One <c>user:md5hex</c> line of pcp.conf.</summary>
public sealed record PcpUser(string User, string Md5Hex, int Line);

/// <summary>
/// pcp.conf: one <c>user:md5hex</c> per line (the hash as printed by pg_md5), <c>#</c> comment lines and
/// blank lines skipped. Like pgpool-II, nothing is trimmed: the user name is everything before the first
/// ':' and the rest must be exactly 32 lower-case hex digits.
/// </summary>
public sealed class PcpConfFile
{
    private PcpConfFile(IReadOnlyList<PcpUser> users, IReadOnlyList<ConfigMessage> warnings)
    {
        Users = users;
        Warnings = warnings;
    }

    /// <summary>In file order.</summary>
    public IReadOnlyList<PcpUser> Users { get; }

    /// <summary>Lines that parse but probably do not do what was meant.</summary>
    public IReadOnlyList<ConfigMessage> Warnings { get; }

    /// <summary>Reads the text; throws <see cref="ConfigException"/> listing every malformed line.</summary>
    public static PcpConfFile Parse(string text, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(text);
        var users = new List<PcpUser>();
        var warnings = new List<ConfigMessage>();
        var errors = new List<ConfigMessage>();
        foreach (var (lineNumber, line) in ConfigLines.Split(text))
        {
            if (line.Trim().Length == 0 || line.TrimStart().StartsWith('#'))
            {
                continue;
            }

            var colon = line.IndexOf(':', StringComparison.Ordinal);
            if (colon < 0)
            {
                errors.Add(new ConfigMessage(sourceName, lineNumber, null,
                    "expected \"user:md5hash\" (the hash as printed by pg_md5), but the line has no ':'"));
                continue;
            }

            var user = line[..colon];
            var hash = line[(colon + 1)..];
            if (hash.Length != 32 || !hash.All(c => char.IsAsciiDigit(c) || c is >= 'a' and <= 'f'))
            {
                errors.Add(new ConfigMessage(sourceName, lineNumber, null,
                    $"the password of user \"{user}\" must be an MD5 hash of 32 lower-case hex digits (as printed by pg_md5), not \"{hash}\""));
                continue;
            }

            if (user.Trim() != user)
            {
                warnings.Add(new ConfigMessage(sourceName, lineNumber, null,
                    $"user name \"{user}\" has spaces around it; they are part of the name, as in pgpool-II"));
            }

            if (users.FirstOrDefault(u => u.User == user) is { } earlier)
            {
                warnings.Add(new ConfigMessage(sourceName, lineNumber, null,
                    $"user \"{user}\" is also listed at line {earlier.Line}"));
            }

            users.Add(new PcpUser(user, hash, lineNumber));
        }

        return errors.Count > 0 ? throw new ConfigException([.. errors]) : new PcpConfFile([.. users], [.. warnings]);
    }
}
