using System.Diagnostics.CodeAnalysis;
using System.Security.Cryptography;
using System.Text;

namespace PgPoolConsole.Proxy.Configuration;

/// <summary>What pg_md5 prints: the MD5 of a password's UTF-8 bytes as 32 lower-case hex digits (pcp.conf format).</summary>
public static class Md5
{
    [SuppressMessage("Security", "CA5351:Do Not Use Broken Cryptographic Algorithms",
        Justification = "pcp.conf stores MD5 hashes; compatibility with pgpool-II's pg_md5 requires MD5.")]
    public static string Hex(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return Convert.ToHexStringLower(MD5.HashData(Encoding.UTF8.GetBytes(text)));
    }
}
