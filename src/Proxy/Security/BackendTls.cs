using System.Net.Security;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Proxy.Security;

/// <summary>libpq's sslmode values.</summary>
public enum BackendSslMode
{
    /// <summary>Plain text only.</summary>
    Disable,

    /// <summary>Plain text first; TLS when the node refuses the plain connection.</summary>
    Allow,

    /// <summary>TLS when the node offers it, plain text otherwise.</summary>
    Prefer,

    /// <summary>TLS or nothing (the certificate is checked only when backend_sslrootcert is set).</summary>
    Require,

    /// <summary>TLS with a certificate that chains to backend_sslrootcert.</summary>
    VerifyCa,

    /// <summary>As <see cref="VerifyCa"/>, and the certificate names the host the proxy connects to.</summary>
    VerifyFull,
}

/// <summary>
/// TLS to one node, loaded and checked once at start from <see cref="BackendTlsOptions"/>: a missing
/// or unreadable file stops the start with an error naming the setting. As in libpq, a given
/// backend_sslrootcert is checked in every mode that ends in TLS; verify-full also checks the host
/// name. Immutable and shared by every connection to the node.
/// </summary>
public sealed class BackendTls
{
    private readonly X509Certificate2Collection? _roots;
    private readonly bool _systemRoots;
    private readonly SslStreamCertificateContext? _clientCertificate;

    private BackendTls(BackendSslMode mode, X509Certificate2Collection? roots, bool systemRoots, SslStreamCertificateContext? clientCertificate)
    {
        Mode = mode;
        _roots = roots;
        _systemRoots = systemRoots;
        _clientCertificate = clientCertificate;
    }

    /// <summary>prefer without certificates: the default.</summary>
    public static BackendTls Default { get; } = new(BackendSslMode.Prefer, null, false, null);

    /// <summary>Plain text only.</summary>
    public static BackendTls Disabled { get; } = new(BackendSslMode.Disable, null, false, null);

    public BackendSslMode Mode { get; }

    /// <summary>The mode as written in the configuration (verify-full, ...).</summary>
    public string ModeName => BackendTlsOptions.Modes[(int)Mode];

    /// <summary>Whether the node's certificate chain is checked (backend_sslrootcert set).</summary>
    public bool VerifiesChain => _roots is not null || _systemRoots;

    /// <summary>
    /// Reads the files <paramref name="options"/> names for backend node <paramref name="nodeId"/>;
    /// relative names are relative to <paramref name="baseDirectory"/> (the configuration file's
    /// folder). Throws <see cref="ConfigException"/> naming the setting that is wrong.
    /// </summary>
    public static BackendTls Load(BackendTlsOptions options, string baseDirectory, int nodeId)
    {
        ArgumentNullException.ThrowIfNull(options);
        var index = Array.IndexOf(BackendTlsOptions.Modes, options.Mode);
        var mode = index >= 0 ? (BackendSslMode)index : throw Error("backend_sslmode", nodeId, $"unknown mode \"{options.Mode}\" (allowed: {string.Join(", ", BackendTlsOptions.Modes)})");
        if (mode == BackendSslMode.Disable)
        {
            return Disabled;
        }

        var systemRoots = options.RootCert == "system";
        X509Certificate2Collection? roots = null;
        if (options.RootCert.Length > 0 && !systemRoots)
        {
            roots = LoadRoots(ClientTls.Resolve(options.RootCert, baseDirectory), nodeId);
        }
        else if (mode is BackendSslMode.VerifyCa or BackendSslMode.VerifyFull && !systemRoots)
        {
            throw Error("backend_sslrootcert", nodeId, $"backend_sslmode = '{options.Mode}' needs the CA certificates that signed the node's certificate, or 'system'");
        }

        SslStreamCertificateContext? clientCertificate = null;
        if (options.Cert.Length > 0 || options.Key.Length > 0)
        {
            clientCertificate = LoadClientCertificate(ClientTls.Resolve(options.Cert, baseDirectory), ClientTls.Resolve(options.Key, baseDirectory), nodeId);
        }

        return mode == BackendSslMode.Prefer && roots is null && !systemRoots && clientCertificate is null
            ? Default
            : new BackendTls(mode, roots, systemRoots, clientCertificate);
    }

    /// <summary>
    /// The options for one TLS handshake with <paramref name="host"/>. A certificate the checks
    /// refuse leaves the reason in <paramref name="failure"/>.
    /// </summary>
    internal SslClientAuthenticationOptions ClientOptions(string host, StrongBox<string?> failure)
    {
        var options = new SslClientAuthenticationOptions
        {
            TargetHost = host,
            EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            EncryptionPolicy = EncryptionPolicy.RequireEncryption,
            ClientCertificateContext = _clientCertificate,
            RemoteCertificateValidationCallback = (_, _, chain, errors) => (failure.Value = Check(host, chain, errors)) is null,
        };
        if (_roots is not null)
        {
            var policy = new X509ChainPolicy { TrustMode = X509ChainTrustMode.CustomRootTrust, RevocationMode = X509RevocationMode.NoCheck };
            policy.CustomTrustStore.AddRange(_roots);
            options.CertificateChainPolicy = policy;
        }

        return options;
    }

    /// <summary>Why the node's certificate is not acceptable, or null when it is.</summary>
    private string? Check(string host, X509Chain? chain, SslPolicyErrors errors)
    {
        if (!VerifiesChain)
        {
            return null; // prefer/require without backend_sslrootcert: encrypted, not authenticated (as libpq)
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateNotAvailable))
        {
            return "the server sent no certificate";
        }

        if (errors.HasFlag(SslPolicyErrors.RemoteCertificateChainErrors))
        {
            var status = chain?.ChainStatus.Select(s => s.StatusInformation.Trim()).FirstOrDefault(s => s.Length > 0);
            return $"the server's certificate is not signed by a CA in backend_sslrootcert{(_systemRoots ? " (the system's store)" : "")}{(status is null ? "" : $" ({status})")}";
        }

        if (Mode == BackendSslMode.VerifyFull && errors.HasFlag(SslPolicyErrors.RemoteCertificateNameMismatch))
        {
            return $"the server's certificate does not name host \"{host}\" (backend_sslmode = 'verify-full' checks the backend_hostname against the certificate's subjectAltName)";
        }

        return null;
    }

    private static X509Certificate2Collection LoadRoots(string file, int nodeId)
    {
        RequireFile("backend_sslrootcert", nodeId, file);
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPemFile(file);
        }
        catch (CryptographicException e)
        {
            throw Error("backend_sslrootcert", nodeId, $"cannot read CA certificates from \"{file}\": {e.Message}");
        }

        return collection.Count > 0 ? collection : throw Error("backend_sslrootcert", nodeId, $"\"{file}\" holds no PEM certificate");
    }

    private static SslStreamCertificateContext LoadClientCertificate(string certFile, string keyFile, int nodeId)
    {
        RequireFile("backend_sslcert", nodeId, certFile);
        RequireFile("backend_sslkey", nodeId, keyFile);
        try
        {
            return SslStreamCertificateContext.Create(ClientTls.LoadPemWithKey(certFile, keyFile), null, offline: true);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw Error("backend_sslcert", nodeId, $"cannot load the certificate \"{certFile}\" with the private key \"{keyFile}\" (PEM files; an encrypted key is not supported): {e.Message}");
        }
    }

    private static void RequireFile(string key, int nodeId, string file)
    {
        if (file.Length == 0)
        {
            throw Error(key, nodeId, "is not set");
        }

        if (!File.Exists(file))
        {
            throw Error(key, nodeId, $"file \"{file}\" does not exist");
        }
    }

    private static ConfigException Error(string key, int nodeId, string text) =>
        new([new ConfigMessage("", 0, key, $"{key} (backend node {nodeId}): {text}")]);
}
