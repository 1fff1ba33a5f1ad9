using System.Globalization;
using System.Text;

namespace PgPoolConsole.Api.Local;

/// <summary>
/// The outcome of one child process run by <see cref="ProcessRunner"/>. A timeout is a value here,
/// not an exception: the process tree was killed and <see cref="TimedOut"/> is true.
/// </summary>
/// <param name="CommandLine">The command as run, for messages (arguments are not shell-quoted).</param>
/// <param name="ExitCode">The exit code, or -1 when the process timed out and was killed.</param>
/// <param name="StandardOutput">Everything the process wrote to stdout (UTF-8).</param>
/// <param name="StandardError">Everything the process wrote to stderr (UTF-8).</param>
/// <param name="Elapsed">Wall-clock time from start to exit (or to the kill).</param>
/// <param name="TimedOut">True when the timeout expired and the process tree was killed.</param>
public sealed record ProcessResult(
    string CommandLine,
    int ExitCode,
    string StandardOutput,
    string StandardError,
    TimeSpan Elapsed,
    bool TimedOut)
{
    /// <summary>True when the process exited by itself with code 0.</summary>
    public bool Succeeded => ExitCode == 0 && !TimedOut;

    /// <summary>Returns this result, or throws <see cref="ProcessFailedException"/> when it did not succeed.</summary>
    public ProcessResult EnsureSuccess() => Succeeded ? this : throw new ProcessFailedException(this);

    /// <summary>A multi-line description: command, exit code or timeout, and the tail of both streams.</summary>
    public string Describe()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"`{CommandLine}` ");
        sb.Append(TimedOut
            ? string.Create(CultureInfo.InvariantCulture, $"timed out after {Elapsed.TotalSeconds:0.0} s and was killed")
            : string.Create(CultureInfo.InvariantCulture, $"exited with code {ExitCode} after {Elapsed.TotalSeconds:0.0} s"));
        AppendTail(sb, "stdout", StandardOutput);
        AppendTail(sb, "stderr", StandardError);
        return sb.ToString();
    }

    private static void AppendTail(StringBuilder sb, string name, string text)
    {
        const int MaxChars = 4000;
        if (text.Length == 0)
        {
            return;
        }

        sb.AppendLine().Append(name).Append(':').AppendLine();
        sb.Append(text.Length <= MaxChars ? text : "…" + text[^MaxChars..]);
    }
}

/// <summary>Thrown by <see cref="ProcessResult.EnsureSuccess"/>.</summary>
public sealed class ProcessFailedException : Exception
{
    public ProcessFailedException(ProcessResult result)
        : base(result.Describe()) => Result = result;

    /// <summary>The failed run.</summary>
    public ProcessResult Result { get; }
}
