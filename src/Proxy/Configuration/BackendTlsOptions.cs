namespace PgPoolConsole.Proxy.Configuration;

/// <summary>
/// TLS from the proxy to a node (backend_sslmode, backend_sslrootcert, backend_sslcert,
/// backend_sslkey; ours, named after libpq's sslmode, sslrootcert, sslcert and sslkey). File names
/// as written in the configuration; relative ones are read from the configuration file's folder.
/// </summary>
public sealed record BackendTlsOptions
{
    /// <summary>The libpq modes, weakest first.</summary>
    public static readonly string[] Modes = ["disable", "allow", "prefer", "require", "verify-ca", "verify-full"];

    /// <summary>disable, allow, prefer, require, verify-ca or verify-full (libpq's meanings).</summary>
    public string Mode { get; init; } = "prefer";

    /// <summary>PEM CA certificates the node's certificate must chain to; "system" = the operating system's store; '' = none.</summary>
    public string RootCert { get; init; } = "";

    /// <summary>PEM client certificate offered to nodes that ask for one; '' = none.</summary>
    public string Cert { get; init; } = "";

    /// <summary>PEM private key of <see cref="Cert"/> (not encrypted).</summary>
    public string Key { get; init; } = "";
}
