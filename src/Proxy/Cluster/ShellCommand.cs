using System.Diagnostics;
using System.Text;

namespace PgPoolConsole.Proxy.Cluster;

/// <summary>The result of a shell command run by the proxy (failover/failback commands, recovery scripts).</summary>
public sealed record ShellCommandResult(int ExitCode, string Output, bool TimedOut)
{
    public bool Succeeded => ExitCode == 0 && !TimedOut;
}

/// <summary>Runs a command line with /bin/sh -c, capturing stdout and stderr together, with a timeout.</summary>
public static class ShellCommand
{
    public static async Task<ShellCommandResult> RunAsync(string commandLine, TimeSpan timeout, CancellationToken cancellationToken, IReadOnlyDictionary<string, string>? environment = null, string? workingDirectory = null)
    {
        var startInfo = new ProcessStartInfo("/bin/sh")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Environment.CurrentDirectory,
        };
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add(commandLine);
        if (environment is not null)
        {
            foreach (var (name, value) in environment)
            {
                startInfo.Environment[name] = value;
            }
        }

        using var process = new Process { StartInfo = startInfo };
        var output = new StringBuilder();
        var gate = new object();
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            try
            {
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // already exited
            }

            await process.WaitForExitAsync(CancellationToken.None);
            cancellationToken.ThrowIfCancellationRequested();
            return new ShellCommandResult(-1, Text(), TimedOut: true);
        }

        // Let the asynchronous readers drain.
        process.WaitForExit();
        return new ShellCommandResult(process.ExitCode, Text(), TimedOut: false);

        void Append(string? line)
        {
            if (line is null)
            {
                return;
            }

            lock (gate)
            {
                if (output.Length < 1_000_000)
                {
                    output.AppendLine(line);
                }
            }
        }

        string Text()
        {
            lock (gate)
            {
                return output.ToString().TrimEnd();
            }
        }
    }

    /// <summary>Quotes a value for use as one word in /bin/sh.</summary>
    public static string Quote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}
