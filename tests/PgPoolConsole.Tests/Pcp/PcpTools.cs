using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Tests.Pcp;

/// <summary>Runs the stock Debian pcp_* tools (/usr/sbin) and <c>pgpoolconsole pcp</c> as child processes.</summary>
public static class PcpTools
{
    public const string Directory = "/usr/sbin";

    /// <summary>Generous: other test runs share the two cores.</summary>
    public static readonly TimeSpan Timeout = TimeSpan.FromSeconds(90);

    private static readonly string Executable = Path.Combine(AppContext.BaseDirectory, "pgpoolconsole.dll");

    /// <summary>Writes a password file readable by its owner only (the tools ignore any other).</summary>
    public static void WritePassFile(string path, string content, UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        File.WriteAllText(path, content);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(path, mode);
        }
    }

    /// <summary><c>/usr/sbin/TOOL ARGS</c> with PCPPASSFILE set (when given) and <paramref name="standardInput"/> as stdin (no tty: the prompt reads it).</summary>
    public static Task<ProcessResult> RunStockAsync(string tool, IEnumerable<string> arguments, string? passFile, string? standardInput = null, TimeSpan? timeout = null) =>
        ProcessRunner.RunAsync(Path.Combine(Directory, tool), arguments, Environment(passFile), standardInput, timeout ?? Timeout);

    /// <summary><c>pgpoolconsole pcp TOOL ARGS</c>; <paramref name="tool"/> may be the stock name (pcp_node_info) or ours (node-info).</summary>
    public static Task<ProcessResult> RunOursAsync(string tool, IEnumerable<string> arguments, string? passFile, string? standardInput = null, TimeSpan? timeout = null) =>
        ProcessRunner.RunAsync("dotnet", [Executable, "pcp", tool, .. arguments], Environment(passFile), standardInput, timeout ?? Timeout);

    /// <summary>The lines of a tool's stdout.</summary>
    public static string[] Lines(this ProcessResult result) =>
        result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries);

    private static Dictionary<string, string?> Environment(string? passFile) => new()
    {
        ["PCPPASSFILE"] = passFile ?? "/nonexistent/pcppass",
    };
}
