using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Security;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

/// <summary>
/// Nodes that demand passwords (node 0 md5, node 1 SCRAM) behind a proxy with TLS (a test CA),
/// pool_hba.conf and pool_passwd: alice has only her SCRAM secret in pool_passwd (pass-through,
/// no password stored), bob an AES-encrypted password, dave a TEXT password (md5 client login),
/// carol only an md5 hash, frank nothing.
/// </summary>
public sealed class SecureProxyFixture() : ProxyFixture(2, authMethods: [PostgresAuthMethod.Md5, PostgresAuthMethod.ScramSha256])
{
    public const string AliceSecret = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU="; // password "pencil"
    public const string DefaultHba = """
        host all dave  127.0.0.1/32 md5
        host all carol 127.0.0.1/32 md5
        host all frank 127.0.0.1/32 trust
        host all all   127.0.0.1/32 scram-sha-256
        """;

    private readonly SemaphoreSlim _rolesGate = new(1, 1);
    private bool _rolesCreated;

    public string CaPath => Path.Combine(Directory, "ca.crt");

    protected override bool HttpsControlPlane => true;

    public string HbaPath => Path.Combine(Directory, "pool_hba.conf");

    protected override string ExtraConfiguration
    {
        get
        {
            if (!File.Exists(CaPath))
            {
                TestCertificates.WriteCaAndServer(Directory);
                File.WriteAllText(HbaPath, DefaultHba);
                var keyPath = Path.Combine(Directory, "pool_key");
                File.WriteAllText(keyPath, "test-pool-key\n");
                if (!OperatingSystem.IsWindows())
                {
                    File.SetUnixFileMode(keyPath, UnixFileMode.UserRead | UnixFileMode.UserWrite);
                }
                File.WriteAllText(Path.Combine(Directory, "pool_passwd"), $"""
                    postgres:TEXT{Password}
                    alice:{AliceSecret}
                    bob:AES{PoolKey.Encrypt("bob-pw", "test-pool-key")}
                    dave:TEXTdave-pw
                    carol:md5{PgMd5.Hex("carol-pw" + "carol")}

                    """);
            }

            return """
                num_init_children = 4
                reserved_connections = 1
                authentication_timeout = 3
                ssl = on
                ssl_cert = 'server.crt'
                ssl_key = 'server.key'
                enable_pool_hba = on
                pool_passwd = 'pool_passwd'
                pool_key_file = 'pool_key'
                """;
        }
    }

    /// <summary>Creates the test roles on every node directly (once).</summary>
    public async Task EnsureRolesAsync()
    {
        await _rolesGate.WaitAsync();
        try
        {
            if (_rolesCreated)
            {
                return;
            }

            foreach (var node in Nodes)
            {
                await using var connection = new NpgsqlConnection(node.ConnectionString(password: Password));
                await connection.OpenAsync();
                await using var command = new NpgsqlCommand($"""
                    CREATE ROLE alice LOGIN PASSWORD '{AliceSecret}';
                    CREATE ROLE bob LOGIN PASSWORD 'bob-pw';
                    CREATE ROLE carol LOGIN PASSWORD 'carol-pw';
                    CREATE ROLE dave LOGIN PASSWORD 'dave-pw';
                    CREATE ROLE frank LOGIN PASSWORD 'frank-pw';
                    CREATE ROLE mallory LOGIN PASSWORD 'pencil';
                    """, connection);
                await command.ExecuteNonQueryAsync();
            }

            _rolesCreated = true;
        }
        finally
        {
            _rolesGate.Release();
        }
    }

    /// <summary>Replaces pool_hba.conf and reloads; returns a scope that puts the default back.</summary>
    public async Task<IAsyncDisposable> UseHbaAsync(string text)
    {
        await File.WriteAllTextAsync(HbaPath, text);
        Assert.True(Host.Services.GetRequiredService<ReloadService>().Reload().Succeeded);
        return new Restore(this);
    }

    private sealed class Restore(SecureProxyFixture fixture) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            await File.WriteAllTextAsync(fixture.HbaPath, DefaultHba);
            fixture.Host.Services.GetRequiredService<ReloadService>().Reload();
        }
    }
}

public sealed class ClientSecurityTests(SecureProxyFixture proxy) : IClassFixture<SecureProxyFixture>, IAsyncLifetime
{
    public Task InitializeAsync() => proxy.EnsureRolesAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private Task<ProcessResult> PsqlAsync(string user, string? password, string connectionOptions, params string[] sql) =>
        Psql.RunAsync(new PsqlOptions("127.0.0.1", proxy.ProxyPort, user, $"dbname=postgres {connectionOptions}") { Password = password }, sql);

    [Fact]
    public async Task Psql_SslRequire_IsEncrypted_AndScramLogsInWithoutAStoredPassword()
    {
        var result = await PsqlAsync("alice", "pencil", "sslmode=require", "SELECT current_user", "\\conninfo");

        Assert.True(result.Succeeded, result.Describe());
        Assert.Contains("alice", result.StandardOutput);
        Assert.Contains("SSL connection (protocol: TLSv1.3", result.StandardOutput);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("localhost")]
    public async Task Psql_VerifyFull_TrustsTheCaSignedCertificate(string host)
    {
        var result = await PsqlAsync("alice", "pencil", $"host={host} sslmode=verify-full sslrootcert={proxy.CaPath}", "SELECT 1");

        Assert.True(result.Succeeded, result.Describe());
    }

    [Fact]
    public async Task Psql_VerifyFull_WithAnotherCa_IsRefusedByTheClient()
    {
        var otherCa = Path.Combine(proxy.Directory, "other");
        System.IO.Directory.CreateDirectory(otherCa);
        TestCertificates.WriteCaAndServer(otherCa);

        var result = await PsqlAsync("alice", "pencil", $"sslmode=verify-full sslrootcert={otherCa}/ca.crt", "SELECT 1");

        Assert.False(result.Succeeded);
        Assert.Contains("certificate verify failed", result.StandardError);
    }

    [Fact]
    public async Task HostSslRule_RefusesUnencryptedClients()
    {
        await using var _ = await proxy.UseHbaAsync("hostssl all all 127.0.0.1/32 scram-sha-256\n");

        var plain = await PsqlAsync("alice", "pencil", "sslmode=disable", "SELECT 1");
        var encrypted = await PsqlAsync("alice", "pencil", "sslmode=require", "SELECT 1");

        Assert.False(plain.Succeeded);
        Assert.Contains("no pool_hba.conf entry for host \"127.0.0.1\", user \"alice\", database \"postgres\", no encryption", plain.StandardError);
        Assert.True(encrypted.Succeeded, encrypted.Describe());
    }

    [Theory]
    [InlineData("alice", "wrong")]
    [InlineData("nobody", "pencil")] // an unknown user gets the same answer as a wrong password
    public async Task Scram_WrongPasswordOrUnknownUser_IsRefused(string user, string password)
    {
        var result = await PsqlAsync(user, password, "sslmode=disable", "SELECT 1");

        Assert.False(result.Succeeded);
        Assert.Contains($"password authentication failed for user \"{user}\"", result.StandardError);
    }

    [Fact]
    public async Task AesPassword_LogsInToAnMd5AndAScramBackend()
    {
        var result = await PsqlAsync("bob", "bob-pw", "sslmode=disable", "SELECT current_user");

        Assert.True(result.Succeeded, result.Describe());
        Assert.Equal("bob", result.StandardOutput.Trim());
    }

    [Fact]
    public async Task Md5ClientLogin_RightAndWrongPassword()
    {
        var right = await PsqlAsync("dave", "dave-pw", "sslmode=disable", "SELECT current_user");
        var wrong = await PsqlAsync("dave", "dave-pw2", "sslmode=disable", "SELECT current_user");

        Assert.True(right.Succeeded, right.Describe());
        Assert.Equal("dave", right.StandardOutput.Trim());
        Assert.False(wrong.Succeeded);
        Assert.Contains("password authentication failed for user \"dave\"", wrong.StandardError);
    }

    [Fact]
    public async Task Md5HashOnly_CannotLogInToAScramBackend_AndSaysWhy()
    {
        var result = await PsqlAsync("carol", "carol-pw", "sslmode=disable", "SELECT 1");

        Assert.False(result.Succeeded);
        Assert.Contains("requires scram-sha-256 authentication for user \"carol\", but the proxy holds only an md5 hash", result.StandardError);
    }

    [Fact]
    public async Task UserWithoutPoolPasswdEntry_GetsNoClearTextPrompt_UnlessEncrypted()
    {
        var plain = await PsqlAsync("frank", "frank-pw", "sslmode=disable", "SELECT 1");
        var encrypted = await PsqlAsync("frank", "frank-pw", "sslmode=require", "SELECT current_user");

        Assert.False(plain.Succeeded);
        Assert.Contains("the backend requires a password for user \"frank\", and pool_passwd has none", plain.StandardError);
        Assert.True(encrypted.Succeeded, encrypted.Describe());
        Assert.Equal("frank", encrypted.StandardOutput.Trim());
    }

    [Fact]
    public async Task HbaRules_RejectByUserDatabaseAndAddress()
    {
        await using var _ = await proxy.UseHbaAsync("""
            host all       mallory 127.0.0.1/32 reject
            host template1 all     127.0.0.1/32 reject
            host all       postgres 127.0.0.0/8  scram-sha-256
            host all       all     10.0.0.0/8   scram-sha-256
            """);

        var byUser = await PsqlAsync("mallory", "pencil", "sslmode=disable", "SELECT 1");
        var byDatabase = await Psql.RunAsync(new PsqlOptions("127.0.0.1", proxy.ProxyPort, "postgres", "dbname=template1 sslmode=disable") { Password = ProxyFixture.Password }, ["SELECT 1"]);
        var byAddress = await PsqlAsync("alice", "pencil", "sslmode=disable", "SELECT 1");
        var allowed = await PsqlAsync("postgres", ProxyFixture.Password, "sslmode=disable", "SELECT 1");

        Assert.Contains("pool_hba.conf rejects connection for host \"127.0.0.1\", user \"mallory\", database \"postgres\"", byUser.StandardError);
        Assert.Contains("pool_hba.conf rejects connection for host \"127.0.0.1\", user \"postgres\", database \"template1\"", byDatabase.StandardError);
        Assert.Contains("no pool_hba.conf entry for host \"127.0.0.1\", user \"alice\"", byAddress.StandardError);
        Assert.True(allowed.Succeeded, allowed.Describe());
    }

    [Fact]
    public async Task HbaLocalLines_ApplyToTheUnixSocket_AndHostLinesToTcp()
    {
        await using var _ = await proxy.UseHbaAsync("""
            local all mallory                reject
            local all all                    scram-sha-256
            host  all postgres 127.0.0.1/32  reject
            """);

        var rejected = await Psql.RunAsync(new PsqlOptions(proxy.Directory, proxy.ProxyPort, "mallory", "postgres") { Password = "pencil" }, ["SELECT 1"]);
        var local = await Psql.RunAsync(new PsqlOptions(proxy.Directory, proxy.ProxyPort, "alice", "postgres") { Password = "pencil" }, ["SELECT current_user"]);
        var overTcp = await PsqlAsync("postgres", ProxyFixture.Password, "sslmode=disable", "SELECT 1");

        Assert.Contains("pool_hba.conf rejects connection for host \"[local]\", user \"mallory\", database \"postgres\"", rejected.StandardError);
        Assert.True(local.Succeeded, local.Describe());
        Assert.Equal("alice", local.StandardOutput.Trim());
        Assert.Contains("pool_hba.conf rejects connection for host \"127.0.0.1\", user \"postgres\"", overTcp.StandardError);
    }

    [Fact]
    public async Task Npgsql_WithVerifyFullAndScram()
    {
        var builder = new NpgsqlConnectionStringBuilder(proxy.ConnectionString("postgres", "alice", "pencil"))
        {
            SslMode = SslMode.VerifyFull,
            RootCertificate = proxy.CaPath,
        };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT current_user", connection);

        Assert.Equal("alice", await command.ExecuteScalarAsync());
    }

    [Fact]
    public async Task ControlPlane_ServesHttpsWithTheSameCertificate()
    {
        using var ca = System.Security.Cryptography.X509Certificates.X509CertificateLoader.LoadCertificateFromFile(proxy.CaPath);
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, certificate, chain, _) =>
            {
                chain!.ChainPolicy.TrustMode = System.Security.Cryptography.X509Certificates.X509ChainTrustMode.CustomRootTrust;
                chain.ChainPolicy.CustomTrustStore.Add(ca);
                chain.ChainPolicy.RevocationMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck;
                return chain.Build(certificate!) && certificate!.MatchesHostname("localhost");
            },
        };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(15) };

        var response = await http.GetAsync(new Uri($"https://localhost:{proxy.HttpPort}/health"));

        Assert.True(response.IsSuccessStatusCode, response.StatusCode.ToString());
    }

    [Fact]
    public async Task HalfOpenConnections_DoNotHoldSessionSlots_AndAreClosedAfterAuthenticationTimeout()
    {
        // num_init_children = 4: 100 silent sockets and 100 that stop in the middle of SCRAM.
        var stalled = new List<TcpClient>();
        try
        {
            for (var i = 0; i < 100; i++)
            {
                var silent = new TcpClient();
                await silent.ConnectAsync("127.0.0.1", proxy.ProxyPort);
                stalled.Add(silent);
                var midLogin = new TcpClient();
                await midLogin.ConnectAsync("127.0.0.1", proxy.ProxyPort);
                await midLogin.GetStream().WriteAsync(RawClient.Startup("alice", "postgres"));
                stalled.Add(midLogin);
            }

            var started = DateTime.UtcNow;
            var result = await PsqlAsync("alice", "pencil", "sslmode=require", "SELECT 1");

            Assert.True(result.Succeeded, result.Describe());
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(3), "the real client got in before authentication_timeout");
            foreach (var client in stalled)
            {
                var buffer = new byte[4096];
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(15));
                while (await client.GetStream().ReadAsync(buffer, timeout.Token) > 0)
                {
                    // the SASL request; then the proxy closes the connection
                }
            }
        }
        finally
        {
            foreach (var client in stalled)
            {
                client.Dispose();
            }
        }
    }

    [Fact]
    public async Task OversizedMessageBeforeAuthentication_IsRefused()
    {
        using var client = new TcpClient();
        await client.ConnectAsync("127.0.0.1", proxy.ProxyPort);
        var stream = client.GetStream();
        await stream.WriteAsync(RawClient.Startup("alice", "postgres"));
        // A password message that claims 100 MB: refused at once, before anything is buffered.
        await stream.WriteAsync(new byte[] { (byte)'p', 0x06, 0x00, 0x00, 0x00 });
        var received = new MemoryStream();
        var buffer = new byte[4096];
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        int read;
        while ((read = await stream.ReadAsync(buffer, timeout.Token)) > 0)
        {
            received.Write(buffer, 0, read);
        }

        var text = System.Text.Encoding.UTF8.GetString(received.ToArray());
        Assert.Contains("08P01", text);
        Assert.Contains("more than the limit of 65535", text);
    }

    [Fact]
    public async Task TooManyClients_IsRefusedWith53300()
    {
        // num_init_children = 4 with reserved_connections = 1: a client that finds no free slot is refused.
        var open = new List<NpgsqlConnection>();
        try
        {
            PostgresException? refused = null;
            for (var i = 0; i < 5 && refused is null; i++)
            {
                var connection = new NpgsqlConnection(proxy.ConnectionString("postgres", "alice", "pencil"));
                try
                {
                    await connection.OpenAsync();
                    open.Add(connection);
                }
                catch (PostgresException e)
                {
                    refused = e;
                    await connection.DisposeAsync();
                }
            }

            Assert.NotNull(refused);
            Assert.Equal("53300", refused.SqlState);
            Assert.Contains("too many clients already", refused.MessageText, StringComparison.OrdinalIgnoreCase);
        }
        finally
        {
            foreach (var connection in open)
            {
                await connection.DisposeAsync();
            }
        }
    }
}
