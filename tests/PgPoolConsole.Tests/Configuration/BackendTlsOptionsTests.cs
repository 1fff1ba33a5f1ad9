using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Security;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Configuration;

/// <summary>backend_sslmode, backend_sslrootcert, backend_sslcert, backend_sslkey: parsing, validation at load and the files read at start.</summary>
public class BackendTlsOptionsTests
{
    private const string TwoNodes = "backend_hostname0 = 'db0'\nbackend_hostname1 = 'db1'\n";

    private static ConfigLoadResult Load(string pgpoolConf) =>
        PgPoolOptionsLoader.Load(PgPoolConfigFile.Parse(pgpoolConf, "pgpool.conf"));

    private static string LoadError(string pgpoolConf) =>
        Assert.Throws<ConfigException>(() => Load(pgpoolConf)).Message;

    [Fact]
    public void Load_NoBackendSslKeys_PreferWithoutCertificates()
    {
        var options = Load(TwoNodes).Options;

        Assert.Equal(new BackendTlsOptions(), options.BackendTls);
        Assert.All(options.Backends, b => Assert.Equal(new BackendTlsOptions { Mode = "prefer" }, b.Tls));
        Assert.Contains(options.Effective, s => s is { Name: "backend_sslmode", Value: "prefer", IsDefault: true });
    }

    [Fact]
    public void Load_GlobalKeysWithPerNodeOverride_OverrideOnlyThatNode()
    {
        var options = Load(TwoNodes + """
            backend_sslmode = 'VERIFY-FULL'
            backend_sslrootcert = '/etc/pgpool2/root.crt'
            backend_sslmode1 = 'disable'
            backend_sslcert0 = 'client.crt'
            backend_sslkey0 = 'client.key'
            """).Options;

        Assert.Equal(new BackendTlsOptions { Mode = "verify-full", RootCert = "/etc/pgpool2/root.crt", Cert = "client.crt", Key = "client.key" }, options.Backends[0].Tls);
        Assert.Equal(new BackendTlsOptions { Mode = "disable", RootCert = "/etc/pgpool2/root.crt" }, options.Backends[1].Tls);
        Assert.Equal("verify-full", options.BackendTls.Mode);
        Assert.Contains(options.Effective, s => s is { Name: "backend_sslmode1", Value: "disable" });
    }

    [Fact]
    public void Load_UnknownMode_NamesTheKeyAndTheAllowedModes()
    {
        var error = LoadError(TwoNodes + "backend_sslmode = 'verify'\n");

        Assert.Contains("pgpool.conf:3: invalid value for parameter \"backend_sslmode\": \"verify\" (allowed: disable, allow, prefer, require, verify-ca, verify-full)", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("backend_sslmode = 'verify-ca'\n", "pgpool.conf:3: backend_sslmode = 'verify-ca' needs backend_sslrootcert")]
    [InlineData("backend_sslmode1 = 'verify-full'\n", "pgpool.conf:3: backend_sslmode1 = 'verify-full' needs backend_sslrootcert")]
    [InlineData("backend_sslcert = 'c.crt'\n", "pgpool.conf:3: backend_sslcert needs backend_sslkey")]
    [InlineData("backend_sslkey0 = 'c.key'\n", "pgpool.conf:3: backend_sslkey0 needs backend_sslcert")]
    public void Load_IncompleteTlsSettings_FailNamingTheKey(string settings, string expected)
    {
        var error = LoadError(TwoNodes + settings);

        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_GlobalVerifyFullWithoutRootCert_IsReportedOnceForAllNodes()
    {
        var errors = Assert.Throws<ConfigException>(() => Load(TwoNodes + "backend_sslmode = 'verify-full'\n")).Errors;

        Assert.Single(errors, e => e.Key == "backend_sslmode");
    }

    [Fact]
    public void Load_VerifyFullWithSystemRootCert_IsValid()
    {
        var options = Load(TwoNodes + "backend_sslmode = 'verify-full'\nbackend_sslrootcert = 'system'\n").Options;

        Assert.All(options.Backends, b => Assert.Equal("system", b.Tls.RootCert));
    }

    [Fact]
    public void ReloadDiff_BackendSslModeChanged_NeedsRestart()
    {
        var before = Load(TwoNodes).Options;
        var after = Load(TwoNodes + "backend_sslmode0 = 'require'\n").Options;

        var change = Assert.Single(PgPoolOptionsLoader.ReloadDiff(before, after).Changes);
        Assert.Equal(("backend_sslmode0", true), (change.Name, change.NeedsRestart));
    }

    [Fact]
    public void BackendTlsLoad_MissingRootCertFile_FailsNamingTheKeyAndNode()
    {
        var error = Assert.Throws<ConfigException>(() => BackendTls.Load(new BackendTlsOptions { Mode = "verify-ca", RootCert = "missing.crt" }, "/nonexistent", 3));

        Assert.Equal("backend_sslrootcert (backend node 3): file \"/nonexistent/missing.crt\" does not exist", error.Message);
    }

    [Fact]
    public async Task BackendTlsLoad_RelativeFiles_AreReadFromTheConfigurationFolder()
    {
        await using var directory = await TestDirectory.CreateAsync();
        TestCertificates.WriteCaAndServer(directory.Path, clientName: "postgres");

        var tls = BackendTls.Load(new BackendTlsOptions { Mode = "verify-full", RootCert = "ca.crt", Cert = "client.crt", Key = "client.key" }, directory.Path, 0);

        Assert.Equal(BackendSslMode.VerifyFull, tls.Mode);
        Assert.True(tls.VerifiesChain);
    }

    [Fact]
    public async Task BackendTlsLoad_NotAPemFile_FailsNamingTheKey()
    {
        await using var directory = await TestDirectory.CreateAsync();
        await File.WriteAllTextAsync(directory.Combine("ca.crt"), "not a certificate\n");
        await File.WriteAllTextAsync(directory.Combine("client.crt"), "not a certificate\n");
        await File.WriteAllTextAsync(directory.Combine("client.key"), "not a key\n");

        var rootError = Assert.Throws<ConfigException>(() => BackendTls.Load(new BackendTlsOptions { Mode = "require", RootCert = "ca.crt" }, directory.Path, 0));
        var certError = Assert.Throws<ConfigException>(() => BackendTls.Load(new BackendTlsOptions { Cert = "client.crt", Key = "client.key" }, directory.Path, 1));

        Assert.StartsWith("backend_sslrootcert (backend node 0): ", rootError.Message, StringComparison.Ordinal);
        Assert.StartsWith("backend_sslcert (backend node 1): cannot load the certificate", certError.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("disable", BackendSslMode.Disable)]
    [InlineData("allow", BackendSslMode.Allow)]
    [InlineData("prefer", BackendSslMode.Prefer)]
    [InlineData("require", BackendSslMode.Require)]
    public void BackendTlsLoad_ModeWithoutFiles_DoesNotCheckCertificates(string mode, BackendSslMode expected)
    {
        var tls = BackendTls.Load(new BackendTlsOptions { Mode = mode }, "/nonexistent", 0);

        Assert.Equal((expected, false, mode), (tls.Mode, tls.VerifiesChain, tls.ModeName));
    }
}
