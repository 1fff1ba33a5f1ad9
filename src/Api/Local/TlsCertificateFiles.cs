using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PgPoolConsole.Api.Local;

/// <summary>PEM certificate and key files for ssl_cert / ssl_key (the demo's self-signed certificate, test CAs).</summary>
public static class TlsCertificateFiles
{
    /// <summary>
    /// Writes a self-signed server certificate valid for <paramref name="names"/> (host names or IP
    /// addresses, all put in subjectAltName) for ten years; the key file gets mode 0600.
    /// Clients connect with sslmode=require, or verify-full with the certificate itself as root.
    /// </summary>
    public static void WriteSelfSigned(string certPath, string keyPath, IReadOnlyList<string> names)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = ServerRequest(names, key);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddYears(10));
        Write(certPath, certificate.ExportCertificatePem(), keyPath, key.ExportPkcs8PrivateKeyPem());
    }

    /// <summary>A certificate request for a TLS server named <paramref name="names"/> (first name as CN).</summary>
    public static CertificateRequest ServerRequest(IReadOnlyList<string> names, ECDsa key)
    {
        ArgumentOutOfRangeException.ThrowIfZero(names.Count);
        var request = new CertificateRequest($"CN={names[0]}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        foreach (var name in names)
        {
            if (IPAddress.TryParse(name, out var address))
            {
                san.AddIpAddress(address);
            }
            else
            {
                san.AddDnsName(name);
            }
        }

        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        return request;
    }

    /// <summary>Writes a certificate and its key as PEM; the key file is readable by its owner only.</summary>
    public static void Write(string certPath, string certificatePem, string keyPath, string keyPem)
    {
        File.WriteAllText(certPath, certificatePem + "\n");
        File.WriteAllText(keyPath, "");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        File.WriteAllText(keyPath, keyPem + "\n");
    }
}
