using System.Diagnostics;
using System.Text;

namespace PgPoolConsole.Api.Local;

/// <summary>
/// Runs a child process to completion: arguments as a list (no shell, no quoting problems), both
/// output streams read concurrently as UTF-8 (no pipe-full deadlock), optional standard input, a
/// timeout that kills the whole process tree, and cancellation that does the same and then throws.
/// </summary>
public static class ProcessRunner
{
    /// <summary>Used when no timeout is given.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(2);

    // How long to wait for the output pipes to reach end-of-file once the process itself is gone.
    // A daemon started by the child (pg_ctl without -l, `cmd &`) can keep a pipe open forever.
    private static readonly TimeSpan DrainGrace = TimeSpan.FromSeconds(2);

    private static readonly UTF8Encoding Utf8NoBom = new(encoderShouldEmitUTF8Identifier: false);

    /// <summary>Runs <paramref name="fileName"/> with <paramref name="arguments"/>.</summary>
    /// <param name="environment">Variables to set in the child (a null value removes the variable); the rest is inherited.</param>
    /// <param name="standardInput">Written to the child's stdin, which is then closed; null gives an empty stdin.</param>
    /// <param name="timeout">After this the process tree is killed and the result says <see cref="ProcessResult.TimedOut"/>.</param>
    /// <param name="workingDirectory">The child's working directory; null inherits ours.</param>
    public static Task<ProcessResult> RunAsync(
        string fileName,
        IEnumerable<string> arguments,
        IReadOnlyDictionary<string, string?>? environment = null,
        string? standardInput = null,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default,
        string? workingDirectory = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(fileName);
        ArgumentNullException.ThrowIfNull(arguments);

        var startInfo = new ProcessStartInfo(fileName);
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        if (workingDirectory is not null)
        {
            startInfo.WorkingDirectory = workingDirectory;
        }

        ApplyEnvironment(startInfo, environment);
        return RunAsync(startInfo, standardInput, timeout, cancellationToken);
    }

    /// <summary>Sets (or, for null values, removes) variables in <paramref name="startInfo"/>'s environment.</summary>
    public static void ApplyEnvironment(ProcessStartInfo startInfo, IReadOnlyDictionary<string, string?>? environment)
    {
        ArgumentNullException.ThrowIfNull(startInfo);
        if (environment is null)
        {
            return;
        }

        foreach (var (name, value) in environment)
        {
            if (value is null)
            {
                startInfo.Environment.Remove(name);
            }
            else
            {
                startInfo.Environment[name] = value;
            }
        }
    }

    /// <summary>
    /// Runs a prepared <see cref="ProcessStartInfo"/> (for example one from <see cref="OsUser.RunAsPostgres"/>).
    /// Redirection, encodings and UseShellExecute are set here; the rest of <paramref name="startInfo"/> is used as is.
    /// </summary>
    public static async Task<ProcessResult> RunAsync(
        ProcessStartInfo startInfo,
        string? standardInput = null,
        TimeSpan? timeout = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(startInfo);
        cancellationToken.ThrowIfCancellationRequested();

        startInfo.UseShellExecute = false;
        startInfo.RedirectStandardInput = true;
        startInfo.RedirectStandardOutput = true;
        startInfo.RedirectStandardError = true;
        startInfo.StandardInputEncoding = Utf8NoBom;
        startInfo.StandardOutputEncoding = Utf8NoBom;
        startInfo.StandardErrorEncoding = Utf8NoBom;
        var commandLine = startInfo.ArgumentList.Count == 0
            ? startInfo.FileName
            : startInfo.FileName + " " + string.Join(' ', startInfo.ArgumentList);

        using var process = new Process { StartInfo = startInfo };
        var stopwatch = Stopwatch.StartNew();
        try
        {
            process.Start();
        }
        catch (Exception ex) when (ex is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
            throw new InvalidOperationException($"Could not start `{commandLine}`: {ex.Message}", ex);
        }

        var stdout = new StringBuilder();
        var stderr = new StringBuilder();
        var stdoutPump = PumpAsync(process.StandardOutput, stdout);
        var stderrPump = PumpAsync(process.StandardError, stderr);
        var stdinTask = FeedAsync(process.StandardInput, standardInput);

        using var timeoutCts = new CancellationTokenSource(timeout ?? DefaultTimeout);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(timeoutCts.Token, cancellationToken);
        var timedOut = false;
        try
        {
            await process.WaitForExitAsync(linked.Token);
        }
        catch (OperationCanceledException)
        {
            KillTree(process);
            timedOut = !cancellationToken.IsCancellationRequested;
            // Reap it so the exit code is final; a killed tree goes quickly.
            using var reapCts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await process.WaitForExitAsync(reapCts.Token);
            }
            catch (OperationCanceledException)
            {
                // Unkillable (D state); report what we have.
            }
        }

        await DrainAsync(stdinTask, stdoutPump, stderrPump);
        stopwatch.Stop();
        cancellationToken.ThrowIfCancellationRequested();

        var exitCode = timedOut || !process.HasExited ? -1 : process.ExitCode;
        return new ProcessResult(commandLine, exitCode, Snapshot(stdout), Snapshot(stderr), stopwatch.Elapsed, timedOut);
    }

    private static async Task DrainAsync(Task stdinTask, Task stdoutPump, Task stderrPump)
    {
        var all = Task.WhenAll(stdinTask, stdoutPump, stderrPump);
        await Task.WhenAny(all, Task.Delay(DrainGrace));
    }

    private static void KillTree(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
            // Already exited.
        }
        catch (System.ComponentModel.Win32Exception)
        {
            // Raced with exit, or a process we may not signal.
        }
    }

    private static async Task PumpAsync(StreamReader reader, StringBuilder sink)
    {
        var buffer = new char[8192];
        try
        {
            while (true)
            {
                var read = await reader.ReadAsync(buffer.AsMemory());
                if (read == 0)
                {
                    return;
                }

                lock (sink)
                {
                    sink.Append(buffer, 0, read);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The process was disposed while a daemonised grandchild still held the pipe.
        }
    }

    private static async Task FeedAsync(StreamWriter writer, string? input)
    {
        try
        {
            if (!string.IsNullOrEmpty(input))
            {
                await writer.WriteAsync(input);
                await writer.FlushAsync();
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException)
        {
            // The child exited (or closed stdin) without reading everything: not our error to report.
        }
        finally
        {
            try
            {
                writer.Close();
            }
            catch (IOException)
            {
                // Broken pipe on close.
            }
        }
    }

    private static string Snapshot(StringBuilder sink)
    {
        lock (sink)
        {
            return sink.ToString();
        }
    }
}
