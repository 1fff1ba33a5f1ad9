namespace PgPoolConsole.Api.Hosting;

/// <summary>
/// The product cannot start for a reason outside it that its operator must fix (another instance
/// owns the pid file, another process listens on an address); printed as a message, not a stack trace.
/// </summary>
public sealed class ProductStartException(string message) : Exception(message);
