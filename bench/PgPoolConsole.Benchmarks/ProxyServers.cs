using System.Diagnostics;
using System.Globalization;
using System.Text;
using Npgsql;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Benchmarks;

/// <summary>
/// A proxy (stock pgpool-II or our PgPoolConsole) run as its own process in the foreground (-n)
/// with its output appended to a log file, in a folder of its own, in front of the benchmark nodes.
/// </summary>
public abstract class ProxyProcess : IAsyncDisposable
{
    private Process? _process;

    protected ProxyProcess(string name, string directory, IReadOnlyList<PostgresInstance> nodes, int numInitChildren, int maxPool)
    {
        Name = name;
        Directory = directory;
        Nodes = nodes;
        NumInitChildren = numInitChildren;
        MaxPool = maxPool;
        Port = LocalPorts.GetFreePort();
        PcpPort = LocalPorts.GetFreePort();
        System.IO.Directory.CreateDirectory(directory);
    }

    /// <summary>"pgpool-II" or "ours".</summary>
    public string Name { get; }

    /// <summary>The folder with this proxy's configuration, log, pid file and status file.</summary>
    public string Directory { get; }

    public IReadOnlyList<PostgresInstance> Nodes { get; }

    public int NumInitChildren { get; }

    public int MaxPool { get; }

    /// <summary>Reach the nodes through their Unix-socket directories (else over 127.0.0.1).</summary>
    public bool BackendSockets { get; init; }

    /// <summary>The client port on 127.0.0.1.</summary>
    public int Port { get; }

    public int PcpPort { get; }

    public string ConfigPath => Path.Combine(Directory, "pgpool.conf");

    public string PcpConfPath => Path.Combine(Directory, "pcp.conf");

    public string LogPath => Path.Combine(Directory, "proxy.log");

    /// <summary>The main process (ours: the only one; pgpool-II: the parent of its children).</summary>
    public int Pid => _process?.Id ?? throw new InvalidOperationException($"{Name} is not running");

    /// <summary>Environment variables for the proxy process (for example DOTNET_PerfMapEnabled for perf).</summary>
    public Dictionary<string, string> Environment { get; } = [];

    /// <summary>The exact command line, for docs/benchmarks.md.</summary>
    public string CommandLine { get; private set; } = "";

    /// <summary>Writes the configuration, starts the process and waits until <c>SELECT 1</c> works through it.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var conf = new StringBuilder();
        conf.Append("# Written by bench/PgPoolConsole.Benchmarks: the same settings for pgpool-II and PgPoolConsole.\n");
        void Setting(string name, string value) => conf.Append(name).Append(" = ").Append(value).Append('\n');
        Setting("backend_clustering_mode", "'native_replication'");
        Setting("listen_addresses", "'127.0.0.1'");
        Setting("port", Text(Port));
        Setting("pcp_listen_addresses", "'127.0.0.1'");
        Setting("pcp_port", Text(PcpPort));
        Setting("num_init_children", Text(NumInitChildren));
        Setting("max_pool", Text(MaxPool));
        Setting("load_balance_mode", "on");
        Setting("health_check_period", "0");
        Setting("logdir", $"'{Directory}'");
        Setting("pid_file_name", $"'{Path.Combine(Directory, "pgpool.pid")}'");
        for (var i = 0; i < Nodes.Count; i++)
        {
            Setting($"backend_hostname{i}", BackendSockets ? $"'{Nodes[i].SocketDirectory}'" : "'127.0.0.1'");
            Setting($"backend_port{i}", Text(Nodes[i].Port));
            Setting($"backend_weight{i}", "1");
            Setting($"backend_data_directory{i}", $"'{Nodes[i].DataDirectory}'");
            Setting($"backend_flag{i}", "'ALLOW_TO_FAILOVER'");
        }

        AppendSettings(Setting);
        await File.WriteAllTextAsync(ConfigPath, conf.ToString(), cancellationToken);
        await File.WriteAllTextAsync(PcpConfPath, $"postgres:{PgMd5.Hex("postgres")}\n", cancellationToken);

        var (fileName, arguments) = StartCommand();
        CommandLine = fileName + " " + string.Join(' ', arguments);
        // exec: the process we hold is the proxy itself, not a shell.
        var startInfo = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = Directory };
        startInfo.ArgumentList.Add("-c");
        startInfo.ArgumentList.Add("exec \"$0\" \"$@\" >>" + ShellQuote(LogPath) + " 2>&1 </dev/null");
        startInfo.ArgumentList.Add(fileName);
        foreach (var argument in arguments)
        {
            startInfo.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in Environment)
        {
            startInfo.Environment[name] = value;
        }

        _process = Process.Start(startInfo) ?? throw new InvalidOperationException($"could not start {CommandLine}");
        await WaitUntilReadyAsync(TimeSpan.FromSeconds(60), cancellationToken);
    }

    /// <summary>Stops the proxy the documented way (<c>-m fast stop</c>), killing it after 30 s if it is still there.</summary>
    public async Task StopAsync()
    {
        if (_process is null || _process.HasExited)
        {
            return;
        }

        var (fileName, arguments) = StopCommand();
        await ProcessRunner.RunAsync(fileName, arguments, timeout: TimeSpan.FromSeconds(60));
        using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        try
        {
            await _process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync(CancellationToken.None);
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await StopAsync();
        }
        finally
        {
            _process?.Dispose();
            GC.SuppressFinalize(this);
        }
    }

    /// <summary>The tail of the proxy's log, for error messages.</summary>
    public string LogTail(int lines = 30)
    {
        try
        {
            return string.Join('\n', File.ReadLines(LogPath).TakeLast(lines));
        }
        catch (IOException)
        {
            return "";
        }
    }

    /// <summary>
    /// Npgsql connections through the proxy: no pooling (each open is a real client connection) and
    /// no type loading (a plain client's startup, without Npgsql's catalog queries).
    /// </summary>
    public NpgsqlDataSource CreateDataSource(int timeoutSeconds = 15)
    {
        var builder = new NpgsqlDataSourceBuilder(new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = Port,
            Username = "postgres",
            Database = "postgres",
            Pooling = false,
            Timeout = timeoutSeconds,
            CommandTimeout = 60,
        }.ConnectionString);
        builder.ConfigureTypeLoading(typeLoading => typeLoading.EnableTypeLoading(false));
        return builder.Build();
    }

    protected abstract (string FileName, IReadOnlyList<string> Arguments) StartCommand();

    protected abstract (string FileName, IReadOnlyList<string> Arguments) StopCommand();

    /// <summary>Settings only one of the two understands or needs.</summary>
    protected virtual void AppendSettings(Action<string, string> setting)
    {
    }

    private async Task WaitUntilReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (DateTime.UtcNow < deadline)
        {
            if (_process!.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} at start:\n{LogTail()}");
            }

            try
            {
                await using var dataSource = CreateDataSource(timeoutSeconds: 3);
                await using var connection = await dataSource.OpenConnectionAsync(cancellationToken);
                await using var command = new NpgsqlCommand("SELECT 1", connection);
                await command.ExecuteScalarAsync(cancellationToken);
                return;
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
            {
                last = ex;
            }

            await Task.Delay(200, cancellationToken);
        }

        throw new TimeoutException($"{Name} did not answer SELECT 1 within {timeout}:\n{LogTail()}", last);
    }

    protected static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string ShellQuote(string value) => "'" + value.Replace("'", "'\\''", StringComparison.Ordinal) + "'";
}

/// <summary>Stock pgpool-II 4.3.5 from the Debian package (/usr/sbin/pgpool), native replication mode.</summary>
public sealed class PgpoolServer(string directory, IReadOnlyList<PostgresInstance> nodes, int numInitChildren, int maxPool)
    : ProxyProcess("pgpool-II", directory, nodes, numInitChildren, maxPool)
{
    public const string Executable = "/usr/sbin/pgpool";

    protected override (string FileName, IReadOnlyList<string> Arguments) StartCommand() =>
        (Executable, ["-n", "-f", ConfigPath, "-F", PcpConfPath]);

    protected override (string FileName, IReadOnlyList<string> Arguments) StopCommand() =>
        (Executable, ["-f", ConfigPath, "-m", "fast", "stop"]);

    protected override void AppendSettings(Action<string, string> setting)
    {
        // Sockets in our folder, not /var/run/postgresql or /tmp where another pgpool may live.
        setting("unix_socket_directories", $"'{Directory}'");
        setting("pcp_socket_dir", $"'{Directory}'");
        // No streaming-replication checks: there is no streaming replication in this mode.
        setting("sr_check_period", "0");
    }
}

/// <summary>Our proxy, the Release build of src/Api, run as `dotnet pgpoolconsole.dll -n -f ... -F ... --urls ...`.</summary>
public sealed class OursServer(string directory, IReadOnlyList<PostgresInstance> nodes, int numInitChildren, int maxPool, string dll)
    : ProxyProcess("ours", directory, nodes, numInitChildren, maxPool)
{
    public int HttpPort { get; } = LocalPorts.GetFreePort();

    protected override (string FileName, IReadOnlyList<string> Arguments) StartCommand() =>
        ("/usr/bin/env", ["dotnet", dll, "-n", "-D", "-f", ConfigPath, "-F", PcpConfPath, "--urls", $"http://127.0.0.1:{Text(HttpPort)}"]);

    protected override (string FileName, IReadOnlyList<string> Arguments) StopCommand() =>
        ("/usr/bin/env", ["dotnet", dll, "-f", ConfigPath, "-m", "fast", "stop"]);

    protected override void AppendSettings(Action<string, string> setting)
    {
        setting("pcp_socket_dir", "''");
    }
}
