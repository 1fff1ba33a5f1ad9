using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Pcp;

/// <summary>
/// pcp_stop_pgpool against a product of its own: the pgpoolconsole executable started for the
/// test (on the shared nodes, with its own ports and files), which the stop must end.
/// </summary>
[Collection(PcpCollection.Name)]
public sealed class PcpStopTests(PcpFixture fixture) : IAsyncLifetime
{
    private static readonly string Executable = Path.Combine(AppContext.BaseDirectory, "pgpoolconsole.dll");
    private TestDirectory _directory = null!;

    public async Task InitializeAsync()
    {
        await fixture.HealAsync();
        _directory = await TestDirectory.CreateAsync();
    }

    public async Task DisposeAsync() => await _directory.DisposeAsync();

    /// <summary>A running product process: the fixture's pgpool.conf with its own ports, pid file and log directory.</summary>
    private sealed class ProductProcess(Process process, StringBuilder output, int proxyPort, int pcpPort) : IDisposable
    {
        public Process Process { get; } = process;

        public int ProxyPort { get; } = proxyPort;

        public int PcpPort { get; } = pcpPort;

        public string Output
        {
            get
            {
                lock (output)
                {
                    return output.ToString();
                }
            }
        }

        public bool WaitForExit(TimeSpan timeout)
        {
            if (!Process.WaitForExit(timeout))
            {
                return false;
            }

            // Only the wait without a timeout also waits for the redirected output to be read to its end.
            Process.WaitForExit();
            return true;
        }

        public void Dispose()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true); // only the process this test started
            }

            Process.Dispose();
        }
    }

    /// <summary>Starts the product; with -D (every node attached, whatever pgpool_status says) unless <paramref name="keepStatus"/>.</summary>
    private async Task<ProductProcess> StartProductAsync(bool keepStatus = false)
    {
        var proxyPort = LocalPorts.GetFreePort();
        var pcpPort = LocalPorts.GetFreePort();
        var config = _directory.Combine("pgpool.conf");
        await File.WriteAllTextAsync(config, await File.ReadAllTextAsync(fixture.ConfigPath) + string.Join('\n',
            "",
            $"port = {proxyPort.ToString(CultureInfo.InvariantCulture)}",
            $"pcp_port = {pcpPort.ToString(CultureInfo.InvariantCulture)}",
            "pcp_socket_dir = ''",
            $"logdir = '{_directory.Path}'",
            $"pid_file_name = '{_directory.Path}/pgpool.pid'",
            ""));
        string[] discard = keepStatus ? [] : ["-D"];
        var start = new ProcessStartInfo("dotnet", [Executable, "-n", .. discard, "-f", config, "-F", fixture.PcpConfPath, "--urls", $"http://127.0.0.1:{LocalPorts.GetFreePort().ToString(CultureInfo.InvariantCulture)}"])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        var output = new StringBuilder();
        var process = Process.Start(start)!;
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var product = new ProductProcess(process, output, proxyPort, pcpPort);
        await Eventually.TrueAsync(() => process.HasExited || (!LocalPorts.IsFree(pcpPort) && !LocalPorts.IsFree(proxyPort)), TimeSpan.FromSeconds(60), "the product listens");
        Assert.False(process.HasExited, product.Output);
        return product;
    }

    private Task<ProcessResult> StopAsync(ProductProcess product, string mode) =>
        PcpTools.RunStockAsync("pcp_stop_pgpool", ["-h", "127.0.0.1", "-p", product.PcpPort.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "-w", "-m", mode], fixture.PassFile);

    private static async Task<NpgsqlConnection> OpenSessionAsync(ProductProcess product)
    {
        var connection = new NpgsqlConnection($"Host=127.0.0.1;Port={product.ProxyPort.ToString(CultureInfo.InvariantCulture)};Username=postgres;Database=postgres;Pooling=false;Timeout=15");
        await connection.OpenAsync();
        return connection;
    }

    [Fact]
    public async Task StopFast_AnswersThenTheProductExitsAndEndsSessions()
    {
        using var product = await StartProductAsync();
        await using var session = await OpenSessionAsync(product);

        var result = await StopAsync(product, "fast");

        Assert.True(result.StandardError.Length == 0, result.Describe());
        Assert.Equal("pcp_stop_pgpool -- Command Successful\n", result.StandardOutput);
        Assert.True(product.WaitForExit(TimeSpan.FromSeconds(60)), "the product exits\n" + product.Output);
        Assert.Equal(0, product.Process.ExitCode);
        Assert.True(LocalPorts.IsFree(product.ProxyPort) && LocalPorts.IsFree(product.PcpPort), "nothing listens any more");
        await using var command = new NpgsqlCommand("SELECT 1", session);
        await Assert.ThrowsAnyAsync<Exception>(() => command.ExecuteScalarAsync());
        Assert.Contains("PCP: fast shutdown requested", product.Output);
    }

    /// <summary>
    /// A table whose every COMMIT takes 50 ms on each node (a deferred trigger sleeps), and a pgbench
    /// script inserting into it: with 8 clients, some COMMIT is nearly always between the nodes.
    /// </summary>
    private async Task<string> SlowCommitsAsync(string database)
    {
        (await fixture.PsqlAsync(database,
            "CREATE TABLE slow_commit (client int, n int)",
            "CREATE FUNCTION slow_commit_wait() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.05); RETURN NULL; END $$",
            "CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT ON slow_commit DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit_wait()")).EnsureSuccess();
        var script = _directory.Combine("insert.sql");
        await File.WriteAllTextAsync(script, "\\set n random(1, 1000000000)\nINSERT INTO slow_commit VALUES (:client_id, :n);\n");
        return script;
    }

    private static async Task<Task<PgbenchResult>> StartCommittingAsync(ProductProcess product, string script, string database)
    {
        var run = Pgbench.RunAsync(["-h", "127.0.0.1", "-p", product.ProxyPort.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "-n", "-c", "8", "-j", "2", "-T", "30", "-f", script, database], null, TimeSpan.FromMinutes(2));
        await Task.Delay(TimeSpan.FromSeconds(5));
        if (run.IsCompleted)
        {
            Assert.Fail("pgbench ended early: " + (await run).Process.Describe());
        }

        return run;
    }

    [Fact]
    public async Task StopFast_UnderPgbench_CutsNoCommitBetweenTheNodes()
    {
        var database = await fixture.CreateDatabaseAsync("stopload");
        var script = await SlowCommitsAsync(database);
        using var product = await StartProductAsync();
        var run = await StartCommittingAsync(product, script, database);

        var result = await StopAsync(product, "fast");

        Assert.Equal("pcp_stop_pgpool -- Command Successful\n", result.StandardOutput);
        Assert.True(product.WaitForExit(TimeSpan.FromSeconds(60)), "the product exits\n" + product.Output);
        var bench = await run;
        Assert.True(bench.AbortedClients > 0, bench.Process.Describe()); // the stop ended the sessions
        Assert.True(bench.TransactionsProcessed > 0, bench.Process.Describe());
        // Cut between the nodes, a COMMIT that reached node 1 and not the main node left node 1 with rows node 0 never got.
        await NodeComparer.AssertAllTablesIdenticalAsync(fixture.Nodes, database);
        // Nothing was left in doubt, so the next start (without -D) detaches nothing.
        using var restarted = await StartProductAsync(keepStatus: true);
        Assert.DoesNotContain(" down ", (await NodeInfoAsync(restarted, 1)).StandardOutput, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task StopFast_DuringALongWrite_CancelsItOnEveryNode_AndCommitsNothing(bool inClientTransaction)
    {
        var database = await fixture.CreateDatabaseAsync(inClientTransaction ? "longtx" : "longwrite");
        (await fixture.PsqlAsync(database, "CREATE TABLE long_write (n int)")).EnsureSuccess();
        using var product = await StartProductAsync();
        await using var session = new NpgsqlConnection($"Host=127.0.0.1;Port={product.ProxyPort.ToString(CultureInfo.InvariantCulture)};Username=postgres;Database={database};Pooling=false;Include Error Detail=true");
        await session.OpenAsync();
        await using var transaction = inClientTransaction ? await session.BeginTransactionAsync() : null;
        // About 1000 s on each node: a fast stop that waited for it would not end within the test.
        await using var command = new NpgsqlCommand("INSERT INTO long_write SELECT n FROM generate_series(1, 100000) n WHERE pg_sleep(0.01) IS NOT NULL", session, transaction) { CommandTimeout = 0 };
        var write = command.ExecuteNonQueryAsync();
        await Task.Delay(TimeSpan.FromSeconds(1));
        Assert.False(write.IsCompleted);

        var result = await StopAsync(product, "fast");

        Assert.Equal("pcp_stop_pgpool -- Command Successful\n", result.StandardOutput);
        var exited = product.WaitForExit(TimeSpan.FromSeconds(60));
        if (!exited)
        {
            // Else the write would keep the nodes busy for the rest of the run.
            foreach (var node in fixture.Nodes)
            {
                await node.ExecuteAsync($"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'");
            }
        }

        Assert.True(exited, "the product exits without waiting for the write\n" + product.Output);
        var error = await Assert.ThrowsAsync<PostgresException>(() => write);
        Assert.Equal("57P01", error.SqlState);
        Assert.Equal("fast shutdown: the running statement was cancelled on every node and its transaction rolled back", error.Detail);
        Assert.Contains("received fast shutdown request", product.Output, StringComparison.Ordinal);
        foreach (var node in fixture.Nodes)
        {
            Assert.Equal(0L, await node.QueryScalarAsync<long>("SELECT count(*) FROM long_write", database));
            Assert.Equal(0L, await node.QueryScalarAsync<long>($"SELECT count(*) FROM pg_stat_activity WHERE datname = '{database}' AND query LIKE 'INSERT INTO long_write%'"));
        }
    }

    [Fact]
    public async Task StopFast_DuringACopyFromStdin_AbortsItOnEveryNode()
    {
        var database = await fixture.CreateDatabaseAsync("longcopy");
        (await fixture.PsqlAsync(database, "CREATE TABLE long_copy (n int)")).EnsureSuccess();
        using var product = await StartProductAsync();
        await using var session = new NpgsqlConnection($"Host=127.0.0.1;Port={product.ProxyPort.ToString(CultureInfo.InvariantCulture)};Username=postgres;Database={database};Pooling=false;Include Error Detail=true");
        await session.OpenAsync();
        using var stop = new CancellationTokenSource();
        var copy = Task.Run(async () =>
        {
            // A client that keeps sending rows until something stops it.
            using var rows = await session.BeginTextImportAsync("COPY long_copy FROM STDIN");
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                await rows.WriteLineAsync(n.ToString(CultureInfo.InvariantCulture));
                await rows.FlushAsync();
                await Task.Delay(1);
            }
        });
        await Eventually.TrueAsync(async () => (await fixture.Nodes[1].QueryScalarAsync<long>("SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'COPY long_copy%'")) > 0, TimeSpan.FromSeconds(10), "the COPY runs on node 1");

        var result = await StopAsync(product, "fast");

        Assert.Equal("pcp_stop_pgpool -- Command Successful\n", result.StandardOutput);
        var exited = product.WaitForExit(TimeSpan.FromSeconds(60));
        await stop.CancelAsync();
        Assert.True(exited, "the product exits without waiting for the COPY to end\n" + product.Output);
        await Assert.ThrowsAnyAsync<Exception>(() => copy.WaitAsync(TimeSpan.FromSeconds(30)));
        foreach (var node in fixture.Nodes)
        {
            Assert.Equal(0L, await node.QueryScalarAsync<long>("SELECT count(*) FROM long_copy", database));
        }
    }

    [Fact]
    public async Task KilledUnderPgbench_TheNextStartDetachesTheNodeACutCommitMayHaveLeftDifferent()
    {
        var database = await fixture.CreateDatabaseAsync("killload");
        var script = await SlowCommitsAsync(database);
        using (var product = await StartProductAsync(keepStatus: true))
        {
            var run = await StartCommittingAsync(product, script, database);
            product.Process.Kill(); // SIGKILL: nothing of the product runs after it
            Assert.True(product.WaitForExit(TimeSpan.FromSeconds(30)));
            await run;
        }

        using (var restarted = await StartProductAsync(keepStatus: true))
        {
            await Eventually.TrueAsync(() => restarted.Output.Contains("backend node 1 is detached: the previous run of pgpoolconsole ended (killed or crashed) in the middle of", StringComparison.Ordinal), TimeSpan.FromSeconds(30), "the restart says why node 1 is detached");
            Assert.Contains("Bring it back with online recovery (pcp_recovery_node -n 1)", restarted.Output, StringComparison.Ordinal);
            Assert.Contains(" 3 0.500000 down ", (await NodeInfoAsync(restarted, 1)).StandardOutput, StringComparison.Ordinal);
            Assert.Equal("pcp_stop_pgpool -- Command Successful\n", (await StopAsync(restarted, "fast")).StandardOutput);
            Assert.True(restarted.WaitForExit(TimeSpan.FromSeconds(60)), restarted.Output);
        }

        // pgpool_status keeps it detached across another restart; -D would attach it (with a warning).
        using var again = await StartProductAsync(keepStatus: true);
        Assert.Contains(" 3 0.500000 down ", (await NodeInfoAsync(again, 1)).StandardOutput, StringComparison.Ordinal);
    }

    private Task<ProcessResult> NodeInfoAsync(ProductProcess product, int nodeId) =>
        PcpTools.RunStockAsync("pcp_node_info", ["-h", "127.0.0.1", "-p", product.PcpPort.ToString(CultureInfo.InvariantCulture), "-U", "postgres", "-w", "-n", nodeId.ToString(CultureInfo.InvariantCulture)], fixture.PassFile);

    [Fact]
    public async Task StopSmart_WaitsForTheConnectedClient()
    {
        using var product = await StartProductAsync();
        var session = await OpenSessionAsync(product);

        var result = await StopAsync(product, "smart");

        Assert.Equal("pcp_stop_pgpool -- Command Successful\n", result.StandardOutput);
        Assert.False(product.WaitForExit(TimeSpan.FromSeconds(2)), "smart shutdown waits for the client");
        await using (var command = new NpgsqlCommand("SELECT 42", session))
        {
            Assert.Equal(42, await command.ExecuteScalarAsync());
        }

        await session.DisposeAsync();
        Assert.True(product.WaitForExit(TimeSpan.FromSeconds(60)), "the product exits once the client left\n" + product.Output);
        Assert.True(LocalPorts.IsFree(product.PcpPort));
    }
}
