namespace PgPoolConsole.Proxy.Protocol;

/// <summary>
/// The peer broke the framing or the message flow of the protocol. The connection cannot be
/// resynchronised and must be closed after reporting <see cref="Exception.Message"/>.
/// </summary>
public sealed class PgProtocolException(string message) : Exception(message)
{
    /// <summary>SQLSTATE to report to a client: protocol_violation.</summary>
    public string SqlState => "08P01";
}

/// <summary>The peer closed the connection (possibly in the middle of a message).</summary>
public sealed class PgConnectionClosedException(string message, Exception? inner = null) : IOException(message, inner)
{
    public bool MidMessage { get; init; }
}
