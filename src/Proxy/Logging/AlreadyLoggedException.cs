namespace PgPoolConsole.Proxy.Logging;

/// <summary>
/// A failure the product has already logged with its cause (a failed online recovery), thrown on
/// so that the caller's bookkeeping (Hangfire's job state) records it too. Loggers that see it
/// again print its message, not a stack trace that would say nothing about the cause.
/// </summary>
public sealed class AlreadyLoggedException(string message) : Exception(message);
