namespace PgPoolConsole.Proxy.Pcp;

/// <summary>How a PCP connection ended, for the host that owns the transport.</summary>
public enum PcpConnectionEnd
{
    /// <summary>Ended normally or after an error that was sent: close the transport gracefully.</summary>
    Closed,

    /// <summary>The client stopped reading its replies: abort the transport (a graceful close would wait to send them).</summary>
    ClientNotReading,
}
