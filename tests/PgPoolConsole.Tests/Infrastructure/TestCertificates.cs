using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Tests.Infrastructure;

/// <summary>A test CA and a server certificate it signed (for localhost and 127.0.0.1), as PEM files.</summary>
public static class TestCertificates
{
    /// <summary>
    /// Writes ca.crt, server.crt and server.key into <paramref name="directory"/>: the server
    /// certificate names <paramref name="serverNames"/> (default localhost and 127.0.0.1). With
    /// <paramref name="clientName"/> also client.crt and client.key (CN = that name, for client
    /// authentication).
    /// </summary>
    public static void WriteCaAndServer(string directory, IReadOnlyList<string>? serverNames = null, string? clientName = null)
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=PgPoolConsole Test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(now.AddHours(-1), now.AddYears(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = TlsCertificateFiles.ServerRequest(serverNames ?? ["localhost", "127.0.0.1"], serverKey);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        using var server = request.Create(ca, now.AddHours(-1), now.AddMonths(6), RandomNumberGenerator.GetBytes(12));

        File.WriteAllText(Path.Combine(directory, "ca.crt"), ca.ExportCertificatePem() + "\n");
        TlsCertificateFiles.Write(Path.Combine(directory, "server.crt"), server.ExportCertificatePem(), Path.Combine(directory, "server.key"), serverKey.ExportPkcs8PrivateKeyPem());
        if (clientName is not null)
        {
            using var clientKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
            var clientRequest = new CertificateRequest($"CN={clientName}", clientKey, HashAlgorithmName.SHA256);
            clientRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
            clientRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
            clientRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.2")], false));
            clientRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
            using var client = clientRequest.Create(ca, now.AddHours(-1), now.AddMonths(6), RandomNumberGenerator.GetBytes(12));
            TlsCertificateFiles.Write(Path.Combine(directory, "client.crt"), client.ExportCertificatePem(), Path.Combine(directory, "client.key"), clientKey.ExportPkcs8PrivateKeyPem());
        }
    }
}
