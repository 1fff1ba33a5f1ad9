using System.Diagnostics;
using System.Globalization;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

/// <summary>The pgpoolconsole executable as an operator runs it.</summary>
public sealed class CommandLineTests : IAsyncLifetime
{
    private static readonly string Executable = Path.Combine(AppContext.BaseDirectory, "pgpoolconsole.dll");
    private TestDirectory _directory = null!;

    public async Task InitializeAsync() => _directory = await TestDirectory.CreateAsync();

    public async Task DisposeAsync() => await _directory.DisposeAsync();

    private static Task<ProcessResult> RunAsync(params string[] args) =>
        ProcessRunner.RunAsync("dotnet", [Executable, .. args], timeout: TimeSpan.FromSeconds(60));

    private string WriteConfig(string text)
    {
        var path = _directory.Combine("pgpool.conf");
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public async Task Version_PrintsTheProductVersion()
    {
        var result = await RunAsync("--version");

        Assert.Equal(0, result.ExitCode);
        Assert.Matches(@"^pgpoolconsole \d+\.\d+\.\d+", result.StandardOutput);
    }

    [Fact]
    public async Task Md5_PrintsWhatPgMd5Prints()
    {
        var result = await RunAsync("md5", "postgres");

        Assert.Equal("e8a48653851e28c69d0506508fb27fc5", result.EnsureSuccess().StandardOutput.Trim());
    }

    [Fact]
    public async Task Passwd_AddsAndUpdatesUsersInPoolPasswdBesideTheConfig()
    {
        var config = WriteConfig("backend_hostname0 = '127.0.0.1'\npool_passwd = 'pool_passwd'\npool_key_file = 'key'\n");
        var keyFile = _directory.Combine("key");
        await File.WriteAllTextAsync(keyFile, "k3y\n");
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(keyFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        (await RunAsync("-f", config, "passwd", "-u", "alice", "pencil")).EnsureSuccess();
        (await RunAsync("-f", config, "passwd", "--md5", "-u", "bob", "pw")).EnsureSuccess();
        (await RunAsync("-f", config, "passwd", "--aes", "-u", "alice", "new-pw")).EnsureSuccess();

        var passwd = Proxy.Security.PoolPasswd.Load(_directory.Combine("pool_passwd"), () => "k3y");
        Assert.Equal("new-pw", passwd.Find("alice")!.Password);
        Assert.Equal("md5" + Proxy.Protocol.PgMd5.Hex("pw" + "bob"), passwd.Find("bob")!.Secret);
        Assert.Equal(2, passwd.Count);
    }

    [Fact]
    public async Task Passwd_StoresAScramSecretByDefault()
    {
        var config = WriteConfig("backend_hostname0 = '127.0.0.1'\n");

        (await RunAsync("-f", config, "passwd", "-u", "alice", "pencil")).EnsureSuccess();

        var line = (await File.ReadAllTextAsync(_directory.Combine("pool_passwd"))).Trim();
        Assert.StartsWith("alice:SCRAM-SHA-256$4096:", line);
        var verifier = Proxy.Security.ScramVerifier.Parse(line["alice:".Length..]);
        Assert.True(Proxy.Security.ScramVerifier.Create("pencil", 4096, verifier.Salt).SameSecretAs(verifier));
    }

    [Fact]
    public async Task InvalidValues_StopStartUp_NamingFileLineKeyAndWhatIsAllowed()
    {
        var config = WriteConfig("port = 99999\nbackend_hostname0 = '127.0.0.1'\nload_balance_mode = maybe\n");

        var result = await RunAsync("-n", "-f", config);

        Assert.Equal(3, result.ExitCode);
        Assert.Contains($"{config}:1: invalid value for parameter \"port\": \"99999\" (allowed: an integer from 1 to 65535)", result.StandardError);
        Assert.Contains($"{config}:3: invalid value for parameter \"load_balance_mode\": \"maybe\" (allowed: on, off, true, false, yes, no, 1, 0)", result.StandardError);
    }

    [Theory]
    [InlineData("*")]
    [InlineData("localhost")]
    public async Task ListenAddresses_ServeIPv4AndIPv6Clients_AndPoolHbaSeesIPv4ClientsAsIPv4(string listenAddresses)
    {
        // pgpool binds '*' and 'localhost' for both protocols; on our dual-stack socket an IPv4
        // client must still be 127.0.0.1 (not ::ffff:127.0.0.1) for pool_hba.conf and the log.
        await File.WriteAllTextAsync(_directory.Combine("pool_hba.conf"), "host all all 127.0.0.1/32 reject\n");
        await using var product = await StartInForegroundAsync($"listen_addresses = '{listenAddresses}'\nenable_pool_hba = on");
        await Eventually.TrueAsync(() => Accepts(System.Net.IPAddress.IPv6Loopback, product.ProxyPort), TimeSpan.FromSeconds(10), "::1 is bound (after 127.0.0.1)");

        var overIPv4 = await Psql.RunAsync("127.0.0.1", product.ProxyPort, "postgres", "postgres", "SELECT 1");
        var overIPv6 = await Psql.RunAsync("::1", product.ProxyPort, "postgres", "postgres", "SELECT 1");

        Assert.Contains("pool_hba.conf rejects connection for host \"127.0.0.1\", user \"postgres\"", overIPv4.StandardError);
        Assert.Contains("no pool_hba.conf entry for host \"::1\", user \"postgres\"", overIPv6.StandardError);
    }

    private static bool Accepts(System.Net.IPAddress address, int port)
    {
        using var client = new System.Net.Sockets.Socket(address.AddressFamily, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Tcp);
        try
        {
            client.Connect(address, port);
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    [Fact]
    public async Task UnwritableSocketDirectory_StopsStartUp_NamingTheKey()
    {
        // /proc refuses new files even to root (chmod would not: the tests run as root).
        var config = WriteConfig($"backend_hostname0 = '127.0.0.1'\npcp_socket_dir = '/proc'\npid_file_name = '{_directory.Path}/pgpool.pid'\n");

        var result = await RunAsync("-n", "-f", config);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("pgpoolconsole: pcp_socket_dir: cannot create the socket in \"/proc\": ", result.StandardError);
        Assert.DoesNotContain("   at ", result.StandardError); // a message, not a stack trace
    }

    [Fact]
    public async Task MissingSocketDirectory_StopsStartUp_NamingTheKey()
    {
        var config = WriteConfig($"backend_hostname0 = '127.0.0.1'\nsocket_dir = '{_directory.Path}/nowhere'\npid_file_name = '{_directory.Path}/pgpool.pid'\n");

        var result = await RunAsync("-n", "-f", config);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"socket_dir: directory \"{_directory.Path}/nowhere\" does not exist (set socket_dir = '' for no Unix-domain socket)", result.StandardError);
    }

    [Fact]
    public async Task SyntaxError_NamesTheLine()
    {
        var config = WriteConfig("replication_mode = true\nbackend_hostname0 = node01'\n");

        var result = await RunAsync("-n", "-f", config);

        Assert.Equal(3, result.ExitCode);
        Assert.Contains($"{config}:2: syntax error near \"node01'\"", result.StandardError);
    }

    [Fact]
    public async Task UnknownOption_IsRefused()
    {
        var result = await RunAsync("--frobnicate");

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("unrecognized argument \"--frobnicate\"", result.StandardError);
    }

    /// <summary>A product started in the foreground (-n) on one node that is not running; its stderr is collected.</summary>
    private sealed class ForegroundProduct(Process process, System.Text.StringBuilder stderr, string config, int proxyPort) : IAsyncDisposable
    {
        public Process Process { get; } = process;

        public string Config { get; } = config;

        public int ProxyPort { get; } = proxyPort;

        public string StandardError
        {
            get
            {
                lock (stderr)
                {
                    return stderr.ToString();
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            if (!Process.HasExited)
            {
                Process.Kill(entireProcessTree: true);
                await Process.WaitForExitAsync();
            }

            Process.Dispose();
        }
    }

    private async Task<ForegroundProduct> StartInForegroundAsync(string extraConfig, string? inlineCompletions = null, bool underNohup = false)
    {
        var proxyPort = LocalPorts.GetFreePort();
        var config = WriteConfig(string.Join('\n',
            "replication_mode = on",
            "listen_addresses = '127.0.0.1'",
            $"port = {proxyPort.ToString(CultureInfo.InvariantCulture)}",
            $"pcp_port = {LocalPorts.GetFreePort().ToString(CultureInfo.InvariantCulture)}",
            "pcp_socket_dir = ''",
            "backend_hostname0 = '127.0.0.1'",
            $"backend_port0 = {LocalPorts.GetFreePort().ToString(CultureInfo.InvariantCulture)}",
            extraConfig,
            $"socket_dir = '{_directory.Path}'",
            $"logdir = '{_directory.Path}'",
            $"pid_file_name = '{_directory.Path}/pgpool.pid'",
            ""));
        string[] command = ["dotnet", Executable, "-n", "-f", config, "--urls", $"http://127.0.0.1:{LocalPorts.GetFreePort()}"];
        var startInfo = new ProcessStartInfo(underNohup ? "nohup" : command[0], underNohup ? command : command[1..])
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        startInfo.Environment["DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS"] = inlineCompletions; // null: not set, the product's default
        var process = Process.Start(startInfo)!;
        var stderr = new System.Text.StringBuilder();
        process.ErrorDataReceived += (_, e) => { lock (stderr) { stderr.AppendLine(e.Data); } };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var product = new ForegroundProduct(process, stderr, config, proxyPort);
        await Eventually.TrueAsync(() => process.HasExited || (File.Exists(_directory.Combine("pgpool.pid")) && !LocalPorts.IsFree(proxyPort)), TimeSpan.FromSeconds(30), "the product starts listening");
        Assert.False(process.HasExited, product.StandardError);
        return product;
    }

    [Fact]
    public async Task StartInForeground_ThenStopFast_EndsTheProcessAndRemovesThePidFile()
    {
        await using var product = await StartInForegroundAsync("heatlh_check_period = 10");
        var socket = _directory.Combine($".s.PGSQL.{product.ProxyPort.ToString(CultureInfo.InvariantCulture)}");
        await Eventually.TrueAsync(() => File.Exists(socket), TimeSpan.FromSeconds(10), "the proxy listens on its Unix-domain socket in socket_dir"); // bound after the TCP port

        var stop = await RunAsync("stop", "-m", "fast", "-f", product.Config); // options after the command, as pgpool-II takes them too

        Assert.Equal(0, stop.ExitCode);
        Assert.Contains("done.", stop.StandardOutput);
        Assert.True(product.Process.WaitForExit(TimeSpan.FromSeconds(20)), "the product exits after stop");
        Assert.False(File.Exists(_directory.Combine("pgpool.pid")));
        Assert.False(File.Exists(socket), "the socket is removed at exit");
        Assert.Contains($"{product.Config}:8: unknown configuration parameter \"heatlh_check_period\"", product.StandardError);
    }

    [Fact]
    public async Task Reload_UnderNohup_ReadsTheConfigurationAgain_AsPgpoolDoes()
    {
        // nohup starts the process with SIGHUP ignored, which .NET would keep.
        await using var product = await StartInForegroundAsync("", underNohup: true);
        await File.AppendAllTextAsync(product.Config, "client_idle_limit = 5\n");

        var reload = await RunAsync("-f", product.Config, "reload");

        Assert.Equal(0, reload.ExitCode);
        await Eventually.TrueAsync(() => product.StandardError.Contains("reload: parameter \"client_idle_limit\" changed", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the product reloads on SIGHUP");
        Assert.False(product.Process.HasExited);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("0")]
    public async Task SocketIo_RunsInlineOnOneSocketThreadPerCore_UnlessTheEnvironmentTurnsItOff(string? inlineCompletions)
    {
        await using var product = await StartInForegroundAsync("", inlineCompletions);

        // The runtime starts one socket (epoll) thread per core when completions run inline, else one per 30 cores.
        var socketThreads = Directory.GetDirectories($"/proc/{product.Process.Id.ToString(CultureInfo.InvariantCulture)}/task")
            .Count(task => File.ReadAllText(Path.Combine(task, "comm")).Trim() == ".NET Sockets");
        Assert.Equal(inlineCompletions is null ? Environment.ProcessorCount : Math.Max(1, (int)Math.Round(Environment.ProcessorCount / 30.0)), socketThreads);
    }

    [Fact]
    public async Task SecondStartWithTheSameConfig_IsRefusedByThePidFile_AndTheRunningOneKeepsItsSocket()
    {
        await using var product = await StartInForegroundAsync("");
        var socket = _directory.Combine($".s.PGSQL.{product.ProxyPort.ToString(CultureInfo.InvariantCulture)}");
        await Eventually.TrueAsync(() => File.Exists(socket), TimeSpan.FromSeconds(10), "the proxy listens on its Unix-domain socket");

        var second = await RunAsync("-n", "-f", product.Config);

        Assert.Equal(1, second.ExitCode);
        Assert.Contains($"pgpoolconsole: pid file \"{_directory.Path}/pgpool.pid\" names a running process ({product.Process.Id.ToString(CultureInfo.InvariantCulture)}): is pgpoolconsole already running?", second.StandardError);
        Assert.DoesNotContain("   at ", second.StandardError); // a message, not a stack trace
        Assert.False(product.Process.HasExited);
        Assert.True(File.Exists(socket), "the running instance keeps its socket");
    }

    [Fact]
    public async Task PortInUse_StopsStartUp_WithOneMessageNamingTheAddress()
    {
        using var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        var port = ((System.Net.IPEndPoint)holder.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
        var config = WriteConfig($"listen_addresses = '127.0.0.1'\nport = {port}\npcp_port = {LocalPorts.GetFreePort().ToString(CultureInfo.InvariantCulture)}\nsocket_dir = ''\npcp_socket_dir = ''\nbackend_hostname0 = '127.0.0.1'\nlogdir = '{_directory.Path}'\npid_file_name = '{_directory.Path}/pgpool.pid'\n");

        var result = await RunAsync("-n", "-f", config, "--urls", $"http://127.0.0.1:{LocalPorts.GetFreePort().ToString(CultureInfo.InvariantCulture)}");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"pgpoolconsole: could not listen: Failed to bind to address http://127.0.0.1:{port}: address already in use.", result.StandardError);
        Assert.DoesNotContain("   at ", result.StandardError);
        Assert.False(File.Exists(_directory.Combine("pgpool.pid")));
    }

    [Fact]
    public async Task UnixSocketInUse_StopsStartUp_WithAMessageNamingIt()
    {
        var port = LocalPorts.GetFreePort().ToString(CultureInfo.InvariantCulture);
        var path = _directory.Combine($".s.PGSQL.{port}");
        using var holder = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        holder.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(path));
        holder.Listen();
        var config = WriteConfig($"listen_addresses = '127.0.0.1'\nport = {port}\nsocket_dir = '{_directory.Path}'\npcp_socket_dir = ''\nbackend_hostname0 = '127.0.0.1'\nlogdir = '{_directory.Path}'\npid_file_name = '{_directory.Path}/pgpool.pid'\n");

        var result = await RunAsync("-n", "-f", config);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"pgpoolconsole: could not listen on \"{path}\": another process is listening there (address already in use)", result.StandardError);
        Assert.DoesNotContain("   at ", result.StandardError);
    }

    [Fact]
    public async Task DemoHelp_PrintsTheDemoOptions_AndCreatesNothing()
    {
        var folder = _directory.Combine("demo");

        var result = await RunAsync("demo", folder, "--help");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("--node-ports=PORT,PORT...", result.StandardOutput);
        Assert.False(Directory.Exists(folder));
    }

    [Theory]
    [InlineData("--bogus", "demo: unknown option \"--bogus\"")]
    [InlineData("--nodes=0", "demo: --nodes takes a number from 1 to 16, not \"0\"")]
    [InlineData("--nodes=2 --node-ports=7001,7002,7003", "demo: --nodes 2 but --node-ports names 3 port(s)")]
    [InlineData("--node-ports=7001,7001", "demo: The demo's node, proxy, PCP and dashboard ports must all differ.")]
    [InlineData("--port", "demo: option --port requires a value")]
    public async Task DemoWithBadOptions_IsRefused_NamingTheOption(string options, string error)
    {
        var folder = _directory.Combine("demo");

        var result = await RunAsync(["demo", folder, .. options.Split(' ')]);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains($"pgpoolconsole: {error}", result.StandardError);
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public async Task DemoWithANodePortInUse_SaysWhich_AndCreatesNothing()
    {
        using var holder = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        holder.Start();
        var taken = ((System.Net.IPEndPoint)holder.LocalEndpoint).Port.ToString(CultureInfo.InvariantCulture);
        var folder = _directory.Combine("demo");

        var result = await RunAsync("demo", folder, "--node-ports", $"{LocalPorts.GetFreePort().ToString(CultureInfo.InvariantCulture)},{taken}");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains($"Port {taken} on 127.0.0.1, wanted by demo node1, is in use by another program.", result.StandardError);
        Assert.DoesNotContain("   at ", result.StandardError);
        Assert.False(Directory.Exists(folder));
    }

    [Fact]
    public async Task DemoWithThreeNodes_ReplicatesToAllThree_AndStopStopsTheNodes()
    {
        var folder = _directory.Combine("demo");
        int[] nodePorts = [LocalPorts.GetFreePort(), LocalPorts.GetFreePort(), LocalPorts.GetFreePort()];
        var proxyPort = LocalPorts.GetFreePort();
        var startInfo = new ProcessStartInfo("dotnet",
        [
            Executable, "demo", folder, "--nodes", "3", "--node-ports", string.Join(',', nodePorts),
            $"--port={proxyPort.ToString(CultureInfo.InvariantCulture)}", "--pcp-port", LocalPorts.GetFreePort().ToString(CultureInfo.InvariantCulture),
            "--urls", $"http://127.0.0.1:{LocalPorts.GetFreePort().ToString(CultureInfo.InvariantCulture)}",
        ])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var demo = Process.Start(startInfo)!;
        var output = new System.Text.StringBuilder();
        demo.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        demo.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        demo.BeginOutputReadLine();
        demo.BeginErrorReadLine();
        string Output() { lock (output) { return output.ToString(); } }
        try
        {
            await Eventually.TrueAsync(() => demo.HasExited || !LocalPorts.IsFree(proxyPort), TimeSpan.FromSeconds(120), "the demo's proxy listens");
            Assert.False(demo.HasExited, Output());

            var nodes = (await Psql.RunAsync("127.0.0.1", proxyPort, "postgres", "postgres", "SHOW pool_nodes")).EnsureSuccess().StandardOutput;
            Assert.Equal(3, nodes.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
            (await Psql.RunAsync("127.0.0.1", proxyPort, "postgres", "postgres", "CREATE TABLE three (id int)", "INSERT INTO three VALUES (1), (2)")).EnsureSuccess();
            foreach (var port in nodePorts)
            {
                Assert.Equal("2", (await Psql.RunAsync("127.0.0.1", port, "postgres", "postgres", "SELECT count(*) FROM three")).EnsureSuccess().StandardOutput.Trim());
            }

            var stop = await RunAsync("-f", Path.Combine(folder, "pgpool.conf"), "stop", "-m", "fast");

            Assert.Equal(0, stop.ExitCode);
            Assert.True(demo.WaitForExit(TimeSpan.FromSeconds(60)), Output());
            Assert.Equal(0, demo.ExitCode);
            Assert.All(nodePorts, port => Assert.True(LocalPorts.IsFree(port), $"node on {port} stopped with the demo"));
        }
        finally
        {
            if (!demo.HasExited)
            {
                demo.Kill(entireProcessTree: true);
            }

            foreach (var node in Directory.Exists(folder) ? Directory.GetDirectories(folder, "node*") : [])
            {
                if (File.Exists(Path.Combine(node, "postmaster.pid")))
                {
                    await ProcessRunner.RunAsync("runuser", ["-u", "postgres", "--", PostgresBinaries.Get("pg_ctl"), "-D", node, "stop", "-m", "immediate"]);
                }

                // The demo keeps its nodes' socket directories for its next run; this one has none.
                var sockets = PostgresConfigFiles.SocketDirectoryFor(node);
                if (Directory.Exists(sockets))
                {
                    Directory.Delete(sockets, recursive: true);
                }
            }
        }
    }

    [Fact]
    public async Task Stop_WhenNothingRuns_SaysSo()
    {
        var config = WriteConfig($"backend_hostname0 = '127.0.0.1'\npid_file_name = '{_directory.Path}/none.pid'\n");

        var result = await RunAsync("-f", config, "stop");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("is pgpoolconsole running?", result.StandardError);
    }
}
