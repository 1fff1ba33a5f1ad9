using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Health;
using PgPoolConsole.Proxy.Security;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

/// <summary>
/// Node 0 has ssl = on with a certificate for "localhost" only (signed by a test CA) and a
/// pg_hba.conf of hostssl lines only, so it refuses plain TCP connections; database certdb there
/// also wants a client certificate from that CA. Node 1 has ssl = off. The proxy runs with the
/// default backend_sslmode (prefer) and load_balance_mode = off, so reads go to node 0.
/// </summary>
public sealed class BackendTlsFixture() : ProxyFixture(2)
{
    public const string CertDatabase = "certdb";

    public string TlsDirectory => Path.Combine(Directory, "tls");

    /// <summary>Another CA (with a server certificate for 127.0.0.1 nobody uses).</summary>
    public string WrongCaDirectory => Path.Combine(Directory, "wrongca");

    protected override string ExtraConfiguration => "load_balance_mode = off\n";

    protected override async Task PrepareNodesAsync()
    {
        await OsUser.CreateDirectoryForPostgresAsync(TlsDirectory);
        TestCertificates.WriteCaAndServer(TlsDirectory, ["localhost"], clientName: "postgres");
        await OsUser.ChownToPostgresAsync(TlsDirectory, recursive: true);
        System.IO.Directory.CreateDirectory(WrongCaDirectory);
        TestCertificates.WriteCaAndServer(WrongCaDirectory);

        var node = Nodes[0];
        await node.ExecuteAsync($"CREATE DATABASE {CertDatabase}");
        foreach (var (setting, file) in new[] { ("ssl_cert_file", "server.crt"), ("ssl_key_file", "server.key"), ("ssl_ca_file", "ca.crt") })
        {
            await node.ExecuteAsync($"ALTER SYSTEM SET {setting} = '{Path.Combine(TlsDirectory, file)}'");
        }

        await node.ExecuteAsync("SET password_encryption = 'scram-sha-256'; CREATE ROLE scram_tls LOGIN PASSWORD 'tls-and-scram'");
        await node.ExecuteAsync("ALTER SYSTEM SET ssl = on");
        await File.WriteAllTextAsync(Path.Combine(node.DataDirectory, "pg_hba.conf"), $"""
            local     all           all                     trust
            local     replication   all                     trust
            hostssl   {CertDatabase}  all   127.0.0.1/32    trust clientcert=verify-ca
            hostssl   all           scram_tls 127.0.0.1/32  scram-sha-256
            hostssl   all           all     127.0.0.1/32    trust
            hostssl   replication   all     127.0.0.1/32    trust

            """);
        await node.ExecuteAsync("SELECT pg_reload_conf()");
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (await node.QueryScalarAsync<string>("SHOW ssl") != "on")
        {
            Assert.True(DateTime.UtcNow < deadline, "node 0 did not turn ssl on after pg_reload_conf()");
            await Task.Delay(100);
        }
    }
}

public sealed class BackendTlsTests(BackendTlsFixture proxy) : IClassFixture<BackendTlsFixture>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private const string SslOfThisBackend = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

    private BackendEndpoint Endpoint(int node, string host, BackendTlsOptions tls) =>
        new(node, host, proxy.Nodes[node].Port) { Tls = BackendTls.Load(tls, proxy.TlsDirectory, node) };

    private static Task<BackendConnection> ConnectAsync(BackendEndpoint endpoint, string database = "postgres") =>
        new BackendConnector(Timeout).ConnectAsync(
            endpoint,
            [new("user", "postgres"), new("database", database)],
            _ => ValueTask.FromResult<string?>(null),
            CancellationToken.None).WaitAsync(Timeout);

    private static async Task<string> RefusalAsync(BackendEndpoint endpoint, string database = "postgres")
    {
        var error = await Assert.ThrowsAsync<BackendRejectedException>(() => ConnectAsync(endpoint, database));
        return error.Error.Hint is { } hint ? $"{error.Message} HINT: {hint}" : error.Message;
    }

    /// <summary>"TLS connections/all connections" of sessions named <paramref name="applicationName"/> on a node, read on the node itself.</summary>
    private static Task<string?> TlsShareAsync(PostgresInstance node, string applicationName) =>
        node.QueryScalarAsync<string>($"SELECT count(*) FILTER (WHERE s.ssl) || '/' || count(*) FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = '{applicationName}'");

    [Fact]
    public async Task Prefer_NodeRequiringTls_SessionUsesTlsThereAndPlainTextOnTheNodeWithoutSsl()
    {
        var database = await proxy.CreateDatabaseAsync("tls_prefer");
        var builder = new NpgsqlConnectionStringBuilder(proxy.ConnectionString(database)) { ApplicationName = "backend-tls-prefer" };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync().WaitAsync(Timeout);

        await using var command = new NpgsqlCommand(SslOfThisBackend, connection);
        var viaProxy = await command.ExecuteScalarAsync().WaitAsync(Timeout);

        Assert.Equal(true, viaProxy);
        Assert.Equal("1/1", await TlsShareAsync(proxy.Nodes[0], "backend-tls-prefer"));
        Assert.Equal("0/1", await TlsShareAsync(proxy.Nodes[1], "backend-tls-prefer"));
    }

    [Fact]
    public async Task Prefer_NextClientOfTheSameUserAndDatabase_ReusesTheCachedTlsConnection()
    {
        var database = await proxy.CreateDatabaseAsync("tls_reuse");
        const string Sql = "SELECT pg_backend_pid() || ' ' || ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()";

        var first = await proxy.PsqlAsync(database, Sql);
        var second = await proxy.PsqlAsync(database, Sql);

        Assert.True(first.Succeeded && second.Succeeded, first.Describe() + second.Describe());
        Assert.EndsWith(" true", first.StandardOutput.Trim(), StringComparison.Ordinal);
        Assert.Equal(first.StandardOutput.Trim(), second.StandardOutput.Trim());
    }

    [Fact]
    public async Task Prefer_PsqlWritesThroughTheProxy_ReachBothNodes()
    {
        var database = await proxy.CreateDatabaseAsync("tls_writes");

        var result = await proxy.PsqlAsync(database,
            "CREATE TABLE t (id int PRIMARY KEY, note text)",
            "INSERT INTO t SELECT g, 'row ' || g FROM generate_series(1, 100) g",
            "UPDATE t SET note = 'changed' WHERE id <= 10",
            SslOfThisBackend);

        Assert.True(result.Succeeded, result.Describe());
        Assert.Equal("t", result.StandardOutput.Trim().Split('\n')[^1]);
        foreach (var node in proxy.Nodes)
        {
            Assert.Equal("100/10", await node.QueryScalarAsync<string>("SELECT count(*) || '/' || count(*) FILTER (WHERE note = 'changed') FROM t", database));
        }
    }

    [Fact]
    public async Task HealthCheck_NodeRequiringTls_SucceedsOverTls()
    {
        var checker = proxy.Host.Services.GetRequiredService<HealthChecker>();
        var before = proxy.Host.Store.Statistics(0).Health.SuccessCount;

        var healthy = await checker.CheckAndActAsync(0, CancellationToken.None).WaitAsync(Timeout);

        Assert.True(healthy);
        Assert.Equal(before + 1, proxy.Host.Store.Statistics(0).Health.SuccessCount);
        Assert.True(proxy.Host.Store.Current.Find(0)!.IsUsable);
    }

    [Fact]
    public async Task HealthProbe_SslModeDisableAgainstNodeRequiringTls_IsALoginRefusalNotADeadNode()
    {
        var node = proxy.Host.Store.Current.Find(0)! with { Tls = BackendTls.Disabled };

        var probe = await NodeProbe.ProbeAsync(node, proxy.Host.Configuration.Options.Backends[0].HealthCheck, CancellationToken.None).WaitAsync(Timeout);

        Assert.True(probe.RefusedLogin, probe.Failure);
        Assert.Contains("no encryption", probe.Failure, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Disable_NodeRequiringTls_RefusedWithAHintNamingTheSetting()
    {
        var refusal = await RefusalAsync(Endpoint(0, "127.0.0.1", new BackendTlsOptions { Mode = "disable" }));

        Assert.Contains("no pg_hba.conf entry", refusal, StringComparison.Ordinal);
        Assert.Contains("HINT: backend node 0 (127.0.0.1:", refusal, StringComparison.Ordinal);
        Assert.Contains("backend_sslmode is 'disable' for it; set backend_sslmode (or backend_sslmode0) to prefer or stronger", refusal, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0, "allow", true)]
    [InlineData(1, "allow", false)]
    [InlineData(0, "prefer", true)]
    [InlineData(1, "prefer", false)]
    [InlineData(0, "require", true)]
    public async Task Connector_SslModes_EncryptAsLibpqDoes(int node, string mode, bool encrypted)
    {
        await using var connection = await ConnectAsync(Endpoint(node, "127.0.0.1", new BackendTlsOptions { Mode = mode }));

        Assert.Equal(encrypted, connection.IsTls);
    }

    [Fact]
    public async Task NodeRequiringTlsAndScram_LogsInWithScramOverTls_AndAWrongPasswordIsRefused()
    {
        var endpoint = Endpoint(0, "localhost", new BackendTlsOptions { Mode = "verify-full", RootCert = "ca.crt" });
        Task<BackendConnection> Login(string password) => new BackendConnector(Timeout).ConnectAsync(
            endpoint,
            [new("user", "scram_tls"), new("database", "postgres")],
            _ => ValueTask.FromResult<string?>(password),
            CancellationToken.None).WaitAsync(Timeout);

        await using (var connection = await Login("tls-and-scram"))
        {
            Assert.True(connection.IsTls);
            var method = await BackendQuery.RunAsync(connection, "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()", CancellationToken.None);
            Assert.Equal("t", method.Scalar);
        }

        var refused = await Assert.ThrowsAsync<BackendRejectedException>(() => Login("wrong"));
        Assert.Equal("28P01", refused.Error.SqlState);
    }

    [Fact]
    public async Task Require_NodeWithoutSsl_RefusedNamingTheNode()
    {
        var refusal = await RefusalAsync(Endpoint(1, "127.0.0.1", new BackendTlsOptions { Mode = "require" }));

        Assert.StartsWith($"backend node 1 (127.0.0.1:{proxy.Nodes[1].Port}) does not accept TLS connections (it answered 'N' to SSLRequest", refusal, StringComparison.Ordinal);
        Assert.EndsWith("but backend_sslmode is 'require' for it", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyFull_RightCaAndHostName_Connects()
    {
        await using var connection = await ConnectAsync(Endpoint(0, "localhost", new BackendTlsOptions { Mode = "verify-full", RootCert = "ca.crt" }));

        Assert.True(connection.IsTls);
    }

    [Fact]
    public async Task VerifyFull_HostNameNotInCertificate_Refused()
    {
        var refusal = await RefusalAsync(Endpoint(0, "127.0.0.1", new BackendTlsOptions { Mode = "verify-full", RootCert = "ca.crt" }));

        Assert.Equal($"backend node 0 (127.0.0.1:{proxy.Nodes[0].Port}): certificate verification failed: the server's certificate does not name host \"127.0.0.1\" (backend_sslmode = 'verify-full' checks the backend_hostname against the certificate's subjectAltName)", refusal);
    }

    [Fact]
    public async Task VerifyCa_HostNameNotInCertificate_ConnectsBecauseOnlyTheChainIsChecked()
    {
        await using var connection = await ConnectAsync(Endpoint(0, "127.0.0.1", new BackendTlsOptions { Mode = "verify-ca", RootCert = "ca.crt" }));

        Assert.True(connection.IsTls);
    }

    [Theory]
    [InlineData("verify-full", "localhost")]
    [InlineData("verify-ca", "127.0.0.1")]
    [InlineData("require", "127.0.0.1")]
    public async Task WrongCa_Refused(string mode, string host)
    {
        var refusal = await RefusalAsync(Endpoint(0, host, new BackendTlsOptions { Mode = mode, RootCert = Path.Combine(proxy.WrongCaDirectory, "ca.crt") }));

        Assert.StartsWith($"backend node 0 ({host}:{proxy.Nodes[0].Port}): certificate verification failed: the server's certificate is not signed by a CA in backend_sslrootcert", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ClientCertificate_NodeDemandingOne_ConnectsOnlyWithIt()
    {
        var withCertificate = new BackendTlsOptions { Mode = "verify-full", RootCert = "ca.crt", Cert = "client.crt", Key = "client.key" };

        await using (var connection = await ConnectAsync(Endpoint(0, "localhost", withCertificate), BackendTlsFixture.CertDatabase))
        {
            Assert.True(connection.IsTls);
        }

        var refusal = await RefusalAsync(Endpoint(0, "localhost", withCertificate with { Cert = "", Key = "" }), BackendTlsFixture.CertDatabase);
        Assert.Contains("certificate", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Product_VerifyFullOnNode0_ServesClientsOverVerifiedTls_AndCancelsQueries()
    {
        try
        {
            await proxy.RestartProductAsync(proxy.ExtraConfigurationText + """
                backend_hostname0 = 'localhost'
                backend_sslmode0 = 'verify-full'
                backend_sslrootcert = 'tls/ca.crt'
                """);
            var database = await proxy.CreateDatabaseAsync("tls_verify_full");
            await using var connection = await proxy.OpenAsync(database).WaitAsync(Timeout);
            await using var ssl = new NpgsqlCommand(SslOfThisBackend, connection);
            Assert.Equal(true, await ssl.ExecuteScalarAsync().WaitAsync(Timeout));

            // CancelRequest goes to the nodes in plain text; PostgreSQL takes it before pg_hba.conf.
            await using var sleep = new NpgsqlCommand("SELECT pg_sleep(60)", connection);
            var running = sleep.ExecuteNonQueryAsync();
            await Task.Delay(TimeSpan.FromSeconds(1));
            sleep.Cancel();
            var cancelled = await Assert.ThrowsAsync<OperationCanceledException>(() => running.WaitAsync(Timeout));
            Assert.Equal("57014", Assert.IsType<PostgresException>(cancelled.InnerException).SqlState);
        }
        finally
        {
            await proxy.RestartWithSameSettingsAsync(discardStatus: true);
        }
    }

    [Fact]
    public async Task Product_WrongCaOrSslModeDisable_ClientGetsAnErrorNamingTheNode()
    {
        try
        {
            await proxy.RestartProductAsync(proxy.ExtraConfigurationText + $"backend_sslmode0 = 'verify-ca'\nbackend_sslrootcert0 = '{Path.Combine(proxy.WrongCaDirectory, "ca.crt")}'\n");
            var wrongCa = await Assert.ThrowsAsync<PostgresException>(() => proxy.OpenAsync("postgres").WaitAsync(Timeout));
            Assert.StartsWith("backend node 0 (127.0.0.1:", wrongCa.MessageText, StringComparison.Ordinal);
            Assert.Contains("certificate verification failed: the server's certificate is not signed by a CA in backend_sslrootcert", wrongCa.MessageText, StringComparison.Ordinal);
            Assert.True(proxy.Host.Store.Current.Find(0)!.IsUsable, "a refused certificate is a configuration problem, not a dead node");

            await proxy.RestartProductAsync(proxy.ExtraConfigurationText + "backend_sslmode = 'disable'\n");
            var disabled = await Assert.ThrowsAsync<PostgresException>(() => proxy.OpenAsync("postgres").WaitAsync(Timeout));
            Assert.Equal("28000", disabled.SqlState);
            Assert.Contains("backend_sslmode is 'disable'", disabled.Hint, StringComparison.Ordinal);
        }
        finally
        {
            await proxy.RestartWithSameSettingsAsync(discardStatus: true);
        }
    }
}
