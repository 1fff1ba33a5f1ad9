using System.Globalization;
using System.Text;

namespace PgPoolConsole.Proxy.Pcp;

/// <summary>
/// The password file of the stock pcp_* tools, read when they run with -w: <c>$PCPPASSFILE</c>,
/// else <c>.pcppass</c> in the home directory of the effective OS user (from the passwd
/// database; $HOME is ignored). A file that group or others may read, or that is not a regular
/// file, is ignored without a word, as the tools do. Lines are
/// <c>hostname:port:username:password</c>; <c>*</c> matches anything, <c>\:</c> and <c>\\</c>
/// escape, the first matching line wins. The host is the -h text as typed, <c>localhost</c>
/// without -h.
/// </summary>
public static class PcpPassFile
{
    public const string EnvironmentVariable = "PCPPASSFILE";

    public const string DefaultHost = "localhost";

    /// <summary>The file the tools would read (it may not exist).</summary>
    public static string? DefaultPath()
    {
        if (Environment.GetEnvironmentVariable(EnvironmentVariable) is { Length: > 0 } fromEnvironment)
        {
            return fromEnvironment;
        }

        return HomeOf(Environment.UserName) is { } home ? Path.Combine(home, ".pcppass") : null;
    }

    /// <summary>The password for the connection, or null when the file is missing, unsafe or has no matching line.</summary>
    public static string? Find(string? path, string? host, int port, string user)
    {
        if (path is null || !IsPrivateRegularFile(path))
        {
            return null;
        }

        var portText = port.ToString(CultureInfo.InvariantCulture);
        host = string.IsNullOrEmpty(host) ? DefaultHost : host;
        foreach (var line in File.ReadLines(path))
        {
            var fields = SplitLine(line);
            if (fields.Count == 4 && Matches(fields[0], host) && Matches(fields[1], portText) && Matches(fields[2], user))
            {
                return fields[3];
            }
        }

        return null;
    }

    private static bool Matches(string pattern, string value) => pattern == "*" || pattern == value;

    /// <summary>Up to four fields; the fourth (the password) takes the rest of the line, unescaped.</summary>
    private static List<string> SplitLine(string line)
    {
        var fields = new List<string>();
        var current = new StringBuilder();
        for (var i = 0; i < line.Length; i++)
        {
            var c = line[i];
            if (c == '\\' && i + 1 < line.Length)
            {
                current.Append(line[++i]);
            }
            else if (c == ':' && fields.Count < 3)
            {
                fields.Add(current.ToString());
                current.Clear();
            }
            else
            {
                current.Append(c);
            }
        }

        fields.Add(current.ToString());
        return fields;
    }

    private static bool IsPrivateRegularFile(string path)
    {
        try
        {
            var info = new FileInfo(path);
            if (!info.Exists || info.Attributes.HasFlag(FileAttributes.Directory))
            {
                return false;
            }

            const UnixFileMode GroupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
                | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
            return OperatingSystem.IsWindows() || (File.GetUnixFileMode(path) & GroupOrOthers) == 0;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>The home directory of <paramref name="user"/> in /etc/passwd; $HOME when the user is not there.</summary>
    private static string? HomeOf(string user)
    {
        try
        {
            foreach (var line in File.ReadLines("/etc/passwd"))
            {
                var fields = line.Split(':');
                if (fields.Length >= 6 && fields[0] == user)
                {
                    return fields[5];
                }
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // no passwd file (not Linux)
        }

        return Environment.GetEnvironmentVariable("HOME");
    }
}
