using System.Runtime.InteropServices;

namespace PgPoolConsole.Api.Hosting;

/// <summary>Sends POSIX signals to another process (stop / reload of a running instance).</summary>
internal static partial class Signals
{
    public const int SigHup = 1;
    public const int SigInt = 2;
    public const int SigQuit = 3;
    public const int SigUsr1 = 10;
    public const int SigUsr2 = 12;
    public const int SigTerm = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "signal")]
    private static partial nint SetDisposition(int signal, nint handler);

    private const nint DefaultDisposition = 0; // SIG_DFL
    private const nint IgnoreDisposition = 1; // SIG_IGN

    /// <summary>
    /// Sets <paramref name="signal"/> back to its default disposition when it is ignored, so that
    /// a handler can be registered: .NET leaves an inherited SIG_IGN alone, and nohup starts a
    /// process with SIGHUP ignored.
    /// </summary>
    public static void StopIgnoring(int signal)
    {
        var previous = SetDisposition(signal, DefaultDisposition);
        if (previous != IgnoreDisposition)
        {
            SetDisposition(signal, previous); // it was not ignored: leave it as it was
        }
    }

    /// <summary>Returns false when the process does not exist (or cannot be signalled).</summary>
    public static bool Send(int pid, int signal) => Kill(pid, signal) == 0;

    public static bool IsAlive(int pid) => Kill(pid, 0) == 0 || Marshal.GetLastPInvokeError() == 1; // EPERM: exists
}
