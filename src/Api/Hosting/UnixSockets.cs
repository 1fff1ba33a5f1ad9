using System.Net.Sockets;
using PgPoolConsole.Api.Cli;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Api.Hosting;

/// <summary>
/// The Unix-domain sockets of the proxy (socket_dir) and PCP (pcp_socket_dir): <c>.s.PGSQL.PORT</c> in
/// each listed directory, the name libpq and the pcp tools look for (<c>psql -p 9999</c> without -h).
/// pgpool-II 4.4 takes a comma list in these keys (unix_socket_directories); so do we.
/// </summary>
internal static class UnixSockets
{
    /// <summary>Linux's limit for a socket path (sun_path), without the terminating NUL.</summary>
    private const int MaxPathBytes = 107;

    /// <summary>The socket paths for <paramref name="directories"/>; a missing directory or an overlong path is a start-up error naming the key.</summary>
    public static IReadOnlyList<string> Paths(string key, string directories, int port)
    {
        var paths = new List<string>();
        foreach (var directory in directories.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!Directory.Exists(directory))
            {
                throw new CommandLineException($"{key}: directory \"{directory}\" does not exist (set {key} = '' for no Unix-domain socket)");
            }

            if (CannotCreateFilesIn(directory) is { } reason)
            {
                throw new CommandLineException($"{key}: cannot create the socket in \"{directory}\": {reason}");
            }

            var path = PgSocketPaths.For(directory, port);
            if (System.Text.Encoding.UTF8.GetByteCount(path) > MaxPathBytes)
            {
                throw new CommandLineException($"{key}: socket path \"{path}\" is longer than {MaxPathBytes} bytes");
            }

            if (!paths.Contains(path, StringComparer.Ordinal))
            {
                paths.Add(path);
            }
        }

        return paths;
    }

    /// <summary>Why this process may not create a file (a socket is one) in <paramref name="directory"/>, or null when it may.</summary>
    public static string? CannotCreateFilesIn(string directory)
    {
        var probe = Path.Combine(directory, $".pgpoolconsole-probe-{Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)}");
        try
        {
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ex.Message;
        }
    }

    /// <summary>A socket file left by a process that died would make the bind fail; remove it if nobody listens.</summary>
    public static void DeleteStale(string path)
    {
        if (!File.Exists(path))
        {
            return;
        }

        try
        {
            using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException)
        {
            File.Delete(path);
            return;
        }

        throw new ProductStartException($"could not listen on \"{path}\": another process is listening there (address already in use)");
    }

    /// <summary>Like pgpool (chmod 0777): any OS user may connect; pool_hba.conf's local lines decide who gets in.</summary>
    public static void OpenToEveryone(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, (UnixFileMode)0x1FF);
        }
    }
}
