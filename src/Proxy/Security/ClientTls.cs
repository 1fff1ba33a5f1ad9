using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Proxy.Security;

/// <summary>
/// TLS for client connections (ssl, ssl_cert, ssl_key, ssl_ca_cert, ssl_ciphers,
/// ssl_min_protocol_version), loaded and checked once at start: a missing or unreadable file, a
/// key that does not match the certificate or an unknown cipher name stops the start.
/// </summary>
public sealed class ClientTls : IDisposable
{
    /// <summary>pgpool-II's default ssl_ciphers (OpenSSL syntax); it leaves the system's OpenSSL defaults in force.</summary>
    public const string DefaultCiphers = "HIGH:MEDIUM:+3DES:!aNULL";

    private readonly X509Certificate2[] _caCertificates;

    private ClientTls(X509Certificate2 certificate, X509Certificate2[] caCertificates, SslServerAuthenticationOptions serverOptions)
    {
        Certificate = certificate;
        _caCertificates = caCertificates;
        ServerOptions = serverOptions;
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>The options for <see cref="SslStream.AuthenticateAsServerAsync(SslServerAuthenticationOptions, CancellationToken)"/>.</summary>
    public SslServerAuthenticationOptions ServerOptions { get; }

    /// <summary>
    /// The TLS settings of <paramref name="options"/>, or null when ssl is off. Relative file names
    /// are relative to <paramref name="baseDirectory"/> (the directory of pgpool.conf).
    /// Throws <see cref="ConfigException"/> naming the setting that is wrong.
    /// </summary>
    public static ClientTls? Load(PgPoolOptions options, string baseDirectory)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!options.Ssl)
        {
            return null;
        }

        var certificate = LoadCertificate(Resolve(options.SslCert, baseDirectory), Resolve(options.SslKey, baseDirectory));
        var caCertificates = options.SslCaCert.Length == 0 ? [] : LoadCaCertificates(Resolve(options.SslCaCert, baseDirectory));
        var serverOptions = new SslServerAuthenticationOptions
        {
            ServerCertificateContext = SslStreamCertificateContext.Create(certificate, new X509Certificate2Collection(caCertificates), offline: true),
            EnabledSslProtocols = Protocols(options.SslMinProtocolVersion),
            CipherSuitesPolicy = CipherPolicy(options.SslCiphers),
            CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            ClientCertificateRequired = caCertificates.Length > 0,
            EncryptionPolicy = EncryptionPolicy.RequireEncryption,
        };
        var tls = new ClientTls(certificate, caCertificates, serverOptions);
        if (caCertificates.Length > 0)
        {
            serverOptions.RemoteCertificateValidationCallback = (_, clientCertificate, _, _) => tls.IsAcceptableClientCertificate(clientCertificate);
        }

        return tls;
    }

    /// <summary>
    /// With ssl_ca_cert a client may present a certificate (libpq does when it has one); if it does,
    /// the certificate must chain to one of those CAs. A client without a certificate is accepted
    /// (pool_hba.conf decides how it authenticates).
    /// </summary>
    private bool IsAcceptableClientCertificate(X509Certificate? presented)
    {
        if (presented is null)
        {
            return true;
        }

        using var certificate = X509CertificateLoader.LoadCertificate(presented.GetRawCertData());
        using var chain = new X509Chain();
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.CustomTrustStore.AddRange(_caCertificates);
        chain.ChainPolicy.ApplicationPolicy.Add(new Oid("1.3.6.1.5.5.7.3.2")); // client authentication
        return chain.Build(certificate);
    }

    internal static string Resolve(string path, string baseDirectory) =>
        path.Length == 0 || Path.IsPathRooted(path) ? path : Path.GetFullPath(Path.Combine(baseDirectory, path));

    private static X509Certificate2 LoadCertificate(string certFile, string keyFile)
    {
        RequireFile("ssl_cert", certFile);
        RequireFile("ssl_key", keyFile);
        try
        {
            return LoadPemWithKey(certFile, keyFile);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw Error("ssl_cert", $"cannot load the certificate \"{certFile}\" with the private key \"{keyFile}\" (PEM files; an encrypted key is not supported): {e.Message}");
        }
    }

    /// <summary>A PEM certificate with its (unencrypted) PEM key; throws CryptographicException or ArgumentException.</summary>
    internal static X509Certificate2 LoadPemWithKey(string certFile, string keyFile)
    {
        using var fromPem = X509Certificate2.CreateFromPemFile(certFile, keyFile);
        // A PKCS#12 round trip gives a certificate whose key SslStream can use on every platform.
        return X509CertificateLoader.LoadPkcs12(fromPem.Export(X509ContentType.Pkcs12), null);
    }

    private static X509Certificate2[] LoadCaCertificates(string file)
    {
        RequireFile("ssl_ca_cert", file);
        var collection = new X509Certificate2Collection();
        try
        {
            collection.ImportFromPemFile(file);
        }
        catch (CryptographicException e)
        {
            throw Error("ssl_ca_cert", $"cannot read CA certificates from \"{file}\": {e.Message}");
        }

        return collection.Count > 0 ? [.. collection] : throw Error("ssl_ca_cert", $"\"{file}\" holds no PEM certificate");
    }

    private static void RequireFile(string key, string file)
    {
        if (file.Length == 0)
        {
            throw Error(key, "ssl = on needs ssl_cert and ssl_key");
        }

        if (!File.Exists(file))
        {
            throw Error(key, $"file \"{file}\" does not exist");
        }
    }

#pragma warning disable SYSLIB0039 // TLS 1.0 and 1.1 only when the administrator asks for them
    internal static SslProtocols Protocols(string minimum) => minimum switch
    {
        "TLSv1" => SslProtocols.Tls | SslProtocols.Tls11 | SslProtocols.Tls12 | SslProtocols.Tls13,
        "TLSv1.1" => SslProtocols.Tls11 | SslProtocols.Tls12 | SslProtocols.Tls13,
        "TLSv1.3" => SslProtocols.Tls13,
        _ => SslProtocols.Tls12 | SslProtocols.Tls13,
    };
#pragma warning restore SYSLIB0039

    /// <summary>
    /// ssl_ciphers: pgpool's default (OpenSSL syntax) keeps the system's OpenSSL defaults; any other
    /// value is a ':'-separated list of cipher suite names, IANA spelling (TLS_AES_256_GCM_SHA384,
    /// TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384) or OpenSSL spelling of the common suites
    /// (ECDHE-RSA-AES256-GCM-SHA384).
    /// </summary>
    internal static CipherSuitesPolicy? CipherPolicy(string ciphers)
    {
        if (ciphers.Length == 0 || ciphers == DefaultCiphers || !OperatingSystem.IsLinux())
        {
            return null;
        }

        var suites = new List<TlsCipherSuite>();
        foreach (var name in ciphers.Split(':', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!TryParseSuite(name, out var suite))
            {
                throw Error("ssl_ciphers", $"\"{name}\" is not a cipher suite name; list suites separated by ':' (IANA names such as TLS_AES_256_GCM_SHA384 or OpenSSL names such as ECDHE-RSA-AES256-GCM-SHA384); OpenSSL keywords (HIGH, !aNULL, ...) are only understood as pgpool's default \"{DefaultCiphers}\"");
            }

            suites.Add(suite);
        }

        return new CipherSuitesPolicy(suites);
    }

    internal static bool TryParseSuite(string name, out TlsCipherSuite suite)
    {
        if (name.StartsWith("TLS_", StringComparison.Ordinal) && Enum.TryParse(name, ignoreCase: false, out suite) && Enum.IsDefined(suite))
        {
            return true;
        }

        // OpenSSL spelling of the ECDHE/DHE AEAD suites: KX-AUTH-CIPHER-MAC.
        var parts = name.Split('-');
        suite = default;
        if (parts.Length < 3)
        {
            return false;
        }

        var exchange = parts[0] switch
        {
            "ECDHE" when parts[1] is "RSA" or "ECDSA" => $"ECDHE_{parts[1]}",
            "DHE" when parts[1] == "RSA" => "DHE_RSA",
            _ => null,
        };
        if (exchange is null)
        {
            return false;
        }

        var rest = string.Join('-', parts[2..]) switch
        {
            "AES128-GCM-SHA256" => "AES_128_GCM_SHA256",
            "AES256-GCM-SHA384" => "AES_256_GCM_SHA384",
            "CHACHA20-POLY1305" => "CHACHA20_POLY1305_SHA256",
            "AES128-SHA256" => "AES_128_CBC_SHA256",
            "AES256-SHA384" => "AES_256_CBC_SHA384",
            _ => null,
        };
        return rest is not null && Enum.TryParse($"TLS_{exchange}_WITH_{rest}", out suite) && Enum.IsDefined(suite);
    }

    private static ConfigException Error(string key, string text) => new([new ConfigMessage("", 0, key, $"{key}: {text}")]);

    public void Dispose()
    {
        Certificate.Dispose();
        foreach (var ca in _caCertificates)
        {
            ca.Dispose();
        }
    }
}
