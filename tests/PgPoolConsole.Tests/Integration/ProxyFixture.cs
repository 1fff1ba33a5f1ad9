using PgPoolConsole.Proxy.Cluster;
using System.Globalization;
using System.Text;
using Npgsql;
using PgPoolConsole.Api.Cli;
using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

/// <summary>
/// Real PostgreSQL 15 nodes with the whole product (proxy, PCP, HTTP) running in-process in
/// front of them on free loopback ports. Tests that share it each work in their own database.
/// </summary>
public class ProxyFixture : IAsyncLifetime
{
    private readonly int _nodeCount;
    private readonly bool _archiving;
    private readonly PostgresAuthMethod[] _authMethods;
    private TestDirectory? _directory;
    private readonly List<PostgresInstance> _nodes = [];
    private int _databaseCounter;

    public ProxyFixture()
        : this(2)
    {
    }

    protected ProxyFixture(int nodeCount, bool archiving = false, PostgresAuthMethod[]? authMethods = null)
    {
        _nodeCount = nodeCount;
        _archiving = archiving;
        _authMethods = authMethods ?? [.. Enumerable.Repeat(PostgresAuthMethod.Trust, nodeCount)];
    }

    /// <summary>The postgres role's password on nodes that do not trust 127.0.0.1.</summary>
    public const string Password = "s3cret-pw";

    public IReadOnlyList<PostgresInstance> Nodes => _nodes;

    public ProductHost Host { get; private set; } = null!;

    public int ProxyPort { get; private set; }

    public int PcpPort { get; private set; }

    public int HttpPort { get; private set; }

    public string Directory => _directory!.Path;

    public string ConfigPath => Path.Combine(Directory, "pgpool.conf");

    public string PcpConfPath => Path.Combine(Directory, "pcp.conf");

    /// <summary>Settings appended to the generated pgpool.conf (a subclass's or a test's).</summary>
    protected virtual string ExtraConfiguration => "";

    /// <summary>Serve the control plane over https (needs ssl settings in <see cref="ExtraConfiguration"/>).</summary>
    protected virtual bool HttpsControlPlane => false;

    public async Task InitializeAsync()
    {
        _directory = await TestDirectory.CreateAsync();
        var creating = Enumerable.Range(0, _nodeCount).Select(i => PostgresInstance.CreateAsync(new PostgresInstanceOptions
        {
            BaseDirectory = _directory.Path,
            Name = $"node{i}",
            FastUnsafe = true,
            ArchiveDirectory = _archiving ? Path.Combine(_directory.Path, "archive", $"node{i}") : null,
            AuthMethod = _authMethods[i],
            Password = _authMethods[i] == PostgresAuthMethod.Trust ? null : Password,
        })).ToList();
        try
        {
            _nodes.AddRange(await Task.WhenAll(creating));
        }
        catch
        {
            _nodes.AddRange(creating.Where(t => t.IsCompletedSuccessfully).Select(t => t.Result));
            throw;
        }

        await PrepareNodesAsync();
        await StartProductAsync(ExtraConfiguration);
    }

    /// <summary>Online recovery with the default scripts (installed by <see cref="InstallRecoveryScriptsAsync"/>).</summary>
    protected const string DefaultRecoverySettings =
        "recovery_user = 'postgres'\nrecovery_1st_stage_command = 'recovery_1st_stage'\nrecovery_2nd_stage_command = 'recovery_2nd_stage'\nrecovery_timeout = 60\n";

    /// <summary>Installs the default recovery scripts in every node's data directory.</summary>
    protected async Task InstallRecoveryScriptsAsync()
    {
        foreach (var node in _nodes)
        {
            await PgPoolConsole.Api.Recovery.RecoveryScripts.InstallAsync(node.DataDirectory);
        }
    }

    /// <summary>The address the product reaches node <paramref name="index"/> at.</summary>
    protected virtual string BackendHostname(int index) => "127.0.0.1";

    /// <summary>Runs once the nodes exist, before the product starts (e.g. to install scripts in their data directories).</summary>
    protected virtual Task PrepareNodesAsync() => Task.CompletedTask;

    /// <summary>Writes pgpool.conf and pcp.conf for the nodes and starts the product.</summary>
    public async Task StartProductAsync(string extraConfiguration = "", bool discardStatus = true)
    {
        ProxyPort = LocalPorts.GetFreePort();
        PcpPort = LocalPorts.GetFreePort();
        HttpPort = LocalPorts.GetFreePort();
        var conf = new StringBuilder();
        conf.AppendLine("backend_clustering_mode = 'native_replication'");
        conf.AppendLine("listen_addresses = '127.0.0.1'");
        conf.AppendLine(CultureInfo.InvariantCulture, $"port = {ProxyPort}");
        conf.AppendLine("pcp_listen_addresses = '127.0.0.1'");
        conf.AppendLine(CultureInfo.InvariantCulture, $"pcp_port = {PcpPort}");
        conf.AppendLine("pcp_socket_dir = ''");
        conf.AppendLine(CultureInfo.InvariantCulture, $"socket_dir = '{Directory}'");
        conf.AppendLine("num_init_children = 64");
        conf.AppendLine("max_pool = 2"); // 64 x 2 idle connections per node stay well below the nodes' max_connections (200), as pgpool-II's docs ask
        conf.AppendLine("health_check_period = 0");
        conf.AppendLine("health_check_user = 'postgres'");
        conf.AppendLine(CultureInfo.InvariantCulture, $"health_check_password = '{Password}'");
        conf.AppendLine("health_check_timeout = 5");
        conf.AppendLine(CultureInfo.InvariantCulture, $"logdir = '{Directory}'");
        conf.AppendLine(CultureInfo.InvariantCulture, $"pid_file_name = '{Directory}/pgpool.pid'");
        for (var i = 0; i < _nodes.Count; i++)
        {
            conf.AppendLine(CultureInfo.InvariantCulture, $"backend_hostname{i} = '{BackendHostname(i)}'");
            conf.AppendLine(CultureInfo.InvariantCulture, $"backend_port{i} = {_nodes[i].Port}");
            conf.AppendLine(CultureInfo.InvariantCulture, $"backend_weight{i} = 1");
            conf.AppendLine(CultureInfo.InvariantCulture, $"backend_data_directory{i} = '{_nodes[i].DataDirectory}'");
        }

        conf.AppendLine(extraConfiguration);
        await File.WriteAllTextAsync(ConfigPath, conf.ToString());
        await File.WriteAllTextAsync(PcpConfPath, $"postgres:{PgMd5.Hex("postgres")}\n");
        var args = new List<string> { "-n", "-f", ConfigPath, "-F", PcpConfPath, "--urls", $"{(HttpsControlPlane ? "https" : "http")}://127.0.0.1:{HttpPort}" };
        if (discardStatus)
        {
            args.Add("-D");
        }

        Host = ProductHost.Create(CommandLine.Parse(args));
        await Host.StartAsync();
    }

    public async Task StopProductAsync()
    {
        await Host.StopAsync(ShutdownMode.Fast);
        await Host.DisposeAsync();
    }

    /// <summary>Restarts the product with other settings (and every node attached again unless <paramref name="discardStatus"/> is false).</summary>
    public async Task RestartProductAsync(string extraConfiguration = "", bool discardStatus = true)
    {
        await StopProductAsync();
        await StartProductAsync(extraConfiguration, discardStatus);
    }

    /// <summary>Restarts the product with the fixture's own settings; -D (discard the node status file) when <paramref name="discardStatus"/>.</summary>
    public Task RestartWithSameSettingsAsync(bool discardStatus) => RestartProductAsync(ExtraConfiguration, discardStatus);

    /// <summary>The settings this fixture adds to every configuration it writes.</summary>
    public string ExtraConfigurationText => ExtraConfiguration;

    public virtual async Task DisposeAsync()
    {
        try
        {
            if (Host is not null)
            {
                await StopProductAsync();
            }
        }
        finally
        {
            await Task.WhenAll(_nodes.Select(n => n.DisposeAsync().AsTask()));
            if (_directory is not null)
            {
                await _directory.DisposeAsync();
            }
        }
    }

    /// <summary>Npgsql connection string through the proxy.</summary>
    public string ConnectionString(string database, string user = "postgres", string? password = null) =>
        new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = ProxyPort,
            Username = user,
            Password = password,
            Database = database,
            Pooling = false,
            Timeout = 15,
            CommandTimeout = 120,
            IncludeErrorDetail = true,
        }.ConnectionString;

    /// <summary>An open Npgsql connection through the proxy.</summary>
    public async Task<NpgsqlConnection> OpenAsync(string database, string user = "postgres", string? password = null)
    {
        var connection = new NpgsqlConnection(ConnectionString(database, user, password));
        await connection.OpenAsync();
        return connection;
    }

    public PsqlOptions PsqlOptions(string database) => new("127.0.0.1", ProxyPort, "postgres", database);

    /// <summary>Runs psql through the proxy.</summary>
    public Task<ProcessResult> PsqlAsync(string database, params string[] sqlOrArgs) =>
        Psql.RunAsync("127.0.0.1", ProxyPort, "postgres", database, sqlOrArgs);

    /// <summary>Creates a fresh database through the proxy (so on every node) and returns its name.</summary>
    public async Task<string> CreateDatabaseAsync(string prefix)
    {
        var name = $"{prefix}_{Interlocked.Increment(ref _databaseCounter)}".ToLowerInvariant();
        (await PsqlAsync("postgres", $"CREATE DATABASE {name}")).EnsureSuccess();
        return name;
    }

    /// <summary>
    /// Drops every database but postgres on every node, directly (nodes a test let diverge may
    /// differ), so a later comparison of whole nodes sees only what its own test created.
    /// </summary>
    public async Task DropDatabasesAsync()
    {
        foreach (var node in _nodes.Where(n => n.IsRunning))
        {
            foreach (var database in await NodeSql.ReadColumnAsync(node, "postgres", "SELECT datname FROM pg_database WHERE datname NOT IN ('postgres', 'template0', 'template1')"))
            {
                await node.ExecuteAsync($"DROP DATABASE {NodeSql.QuoteIdentifier(database)} WITH (FORCE)");
            }
        }
    }

    /// <summary>Puts every node back in service: resumed, started, attached (for tests that break nodes).</summary>
    public async Task HealAsync()
    {
        foreach (var node in _nodes)
        {
            if (node.IsPaused)
            {
                await node.ResumeAsync();
            }

            if (!node.IsRunning)
            {
                await node.StartAsync();
            }
        }

        if (Host.Store.Current.Nodes.Any(n => !n.IsUsable))
        {
            await RestartProductAsync(ExtraConfiguration);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ProxyCollection : ICollectionFixture<ProxyFixture>
{
    public const string Name = "proxy on two nodes";
}
