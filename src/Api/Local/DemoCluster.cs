using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Protocol;
using System.Globalization;
using System.Text;

namespace PgPoolConsole.Api.Local;

/// <summary>
/// The local playground behind <c>pgpoolconsole demo</c>: PostgreSQL 15 nodes (node0 on 5433,
/// node1 on 5434 by default) with trust authentication on 127.0.0.1, plus a commented pgpool.conf
/// and a pcp.conf, all in one folder. The nodes do not archive WAL: online recovery streams from a
/// replication slot, and an archive nothing prunes filled gigabytes in an afternoon of pgbench. The first
/// run creates it; later runs reuse it and start the nodes that are stopped, except a node that
/// pgpool_status marks "down" (detached), which stays as it is. Files are never rewritten on reuse.
/// </summary>
public sealed class DemoCluster
{
    /// <summary>The PCP user and its password (pcp.conf stores md5hex(password)).</summary>
    public const string PcpUser = "postgres";

    /// <summary>The PCP password.</summary>
    public const string PcpPassword = "postgres";

    private DemoCluster(DemoClusterOptions options, string folder, IReadOnlyList<PostgresInstance> nodes, IReadOnlyList<int> detached, bool created)
    {
        Options = options;
        Folder = folder;
        Nodes = nodes;
        DetachedNodeIds = detached;
        Created = created;
    }

    /// <summary>The options of this run.</summary>
    public DemoClusterOptions Options { get; }

    /// <summary>The demo folder (full path).</summary>
    public string Folder { get; }

    /// <summary>The nodes, node0 first; each keeps running after this object is gone.</summary>
    public IReadOnlyList<PostgresInstance> Nodes { get; }

    /// <summary>Nodes that pgpool_status says are down; they were not started.</summary>
    public IReadOnlyList<int> DetachedNodeIds { get; }

    /// <summary>True when this run created the folder's nodes or files (false when all were reused).</summary>
    public bool Created { get; private set; }

    /// <summary>The pgpool.conf to run the proxy with.</summary>
    public string PgpoolConfPath => Path.Combine(Folder, "pgpool.conf");

    /// <summary>The demo's self-signed TLS certificate (ssl_cert) for localhost and 127.0.0.1.</summary>
    public string CertificatePath => Path.Combine(Folder, "server.crt");

    /// <summary>The private key of <see cref="CertificatePath"/> (ssl_key).</summary>
    public string KeyPath => Path.Combine(Folder, "server.key");

    /// <summary>The pcp.conf (user postgres, password postgres).</summary>
    public string PcpConfPath => Path.Combine(Folder, "pcp.conf");

    /// <summary>Where failover_command appends a line per failover.</summary>
    public string FailoverLogPath => Path.Combine(Folder, "failover.log");

    /// <summary>Where failback_command appends a line per failback.</summary>
    public string FailbackLogPath => Path.Combine(Folder, "failback.log");

    /// <summary>pgpool's node status file (logdir/pgpool_status: one line per node, up/down/unused).</summary>
    public string StatusFilePath => StatusFileIn(Folder);

    /// <summary>The proxy's pid file (pid_file_name).</summary>
    public string PidFilePath => Path.Combine(Folder, "pgpool.pid");

    /// <summary>Where Debian's libpq looks when no host is given (psql -p 9999).</summary>
    private const string LibpqSocketDirectory = "/var/run/postgresql";

    /// <summary>libpq's default socket directory when this process may create a socket there (root or the postgres user), else /tmp.</summary>
    private static string ClientSocketDirectory() =>
        Directory.Exists(LibpqSocketDirectory) && Hosting.UnixSockets.CannotCreateFilesIn(LibpqSocketDirectory) is null ? LibpqSocketDirectory : "/tmp";

    /// <summary>How to connect, for printing: psql, dashboard, pcp, and where the files are.</summary>
    public string ConnectionHelp
    {
        get
        {
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"PgPoolConsole demo cluster in {Folder}\n");
            for (var i = 0; i < Nodes.Count; i++)
            {
                var node = Nodes[i];
                var state = node.IsRunning ? "running" : DetachedNodeIds.Contains(i) ? "stopped, detached in pgpool_status" : "stopped";
                text.Append(CultureInfo.InvariantCulture, $"  node{i}: PostgreSQL 15 on 127.0.0.1:{node.Port} ({state}), data {node.DataDirectory}\n");
            }

            text.Append(CultureInfo.InvariantCulture, $"  config: {PgpoolConfPath}, {PcpConfPath}\n");
            text.Append(CultureInfo.InvariantCulture, $"  failover/failback log: {FailoverLogPath}, {FailbackLogPath}\n\n");
            text.Append("Connect through the proxy:\n");
            text.Append(CultureInfo.InvariantCulture, $"  psql -h 127.0.0.1 -p {Options.ProxyPort} -U postgres postgres\n");
            text.Append("Dashboard:\n");
            text.Append(CultureInfo.InvariantCulture, $"  http://127.0.0.1:{Options.DashboardPort}\n");
            text.Append(CultureInfo.InvariantCulture, $"PCP (password {PcpPassword}):\n");
            text.Append(CultureInfo.InvariantCulture, $"  pcp_node_info -h 127.0.0.1 -p {Options.PcpPort} -U {PcpUser} -a\n");
            return text.ToString();
        }
    }

    /// <summary>Creates the demo folder on first use, or reuses it; returns with the nodes running (detached ones excepted).</summary>
    public static async Task<DemoCluster> StartAsync(DemoClusterOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var folder = Path.GetFullPath(options.Folder);
        // A folder made with more nodes (demo --nodes 3) keeps them all on reuse.
        var nodeCount = options.NodePorts.Count;
        while (PostgresInstance.Exists(NodeOptions(options, folder, nodeCount)))
        {
            nodeCount++;
        }

        var nodeOptions = Enumerable.Range(0, nodeCount).Select(i => NodeOptions(options, folder, i)).ToArray();
        var toCreate = nodeOptions.Where(o => !PostgresInstance.Exists(o)).ToArray();
        foreach (var node in toCreate)
        {
            ThrowIfPortTaken(node.Port, node.Name); // before anything is written, so a refused start leaves nothing behind
        }

        await OsUser.CreateDirectoryForPostgresAsync(folder, cancellationToken: cancellationToken);
        var detached = ReadDetachedNodes(StatusFileIn(folder), nodeCount);
        var nodes = new PostgresInstance[nodeOptions.Length];
        for (var i = 0; i < nodes.Length; i++)
        {
            nodes[i] = toCreate.Contains(nodeOptions[i])
                ? await PostgresInstance.CreateAsync(nodeOptions[i], cancellationToken)
                : await PostgresInstance.OpenAsync(nodeOptions[i] with { Port = 0 }, cancellationToken); // the port on file wins, so an existing pgpool.conf stays right
        }

        var created = toCreate.Length > 0;

        for (var i = 0; i < nodes.Length; i++)
        {
            if (!nodes[i].IsRunning && !detached.Contains(i))
            {
                ThrowIfPortTaken(nodes[i].Port, $"node{i}");
                await nodes[i].StartAsync(cancellationToken);
            }
        }

        // The default online-recovery scripts go where pgpool-II's contract expects them: in every
        // node's data directory (any node may be the main node a recovery copies from).
        foreach (var node in nodes.Where(n => Directory.Exists(n.DataDirectory)))
        {
            await Recovery.RecoveryScripts.InstallAsync(node.DataDirectory, cancellationToken);
        }

        var cluster = new DemoCluster(options, folder, nodes, detached, created);
        if (!File.Exists(cluster.PgpoolConfPath))
        {
            await File.WriteAllTextAsync(cluster.PgpoolConfPath, cluster.PgpoolConf(), cancellationToken);
            cluster.Created = true;
        }

        if (!File.Exists(cluster.CertificatePath) || !File.Exists(cluster.KeyPath))
        {
            TlsCertificateFiles.WriteSelfSigned(cluster.CertificatePath, cluster.KeyPath, ["localhost", "127.0.0.1"]);
        }

        if (!File.Exists(cluster.PcpConfPath))
        {
            await File.WriteAllTextAsync(cluster.PcpConfPath, PcpConf(), cancellationToken);
            cluster.Created = true;
        }

        return cluster;
    }

    /// <summary>Stops every node (the folder stays for the next run).</summary>
    public Task StopNodesAsync(ShutdownMode mode = ShutdownMode.Fast, CancellationToken cancellationToken = default) =>
        Task.WhenAll(Nodes.Select(node => node.StopAsync(mode, cancellationToken)));

    /// <summary>
    /// Stops every node at once and deletes the demo folder with everything in it, so the next
    /// <see cref="StartAsync"/> builds a fresh demo.
    /// </summary>
    public async Task DeleteAsync(CancellationToken cancellationToken = default)
    {
        foreach (var node in Nodes)
        {
            await node.DestroyAsync(cancellationToken);
        }

        if (Directory.Exists(Folder))
        {
            Directory.Delete(Folder, recursive: true);
        }
    }

    private static string StatusFileIn(string folder) => Path.Combine(folder, "pgpool_status");

    private static PostgresInstanceOptions NodeOptions(DemoClusterOptions options, string folder, int index) => new()
    {
        BaseDirectory = folder,
        Name = $"node{index}",
        Port = index < options.NodePorts.Count ? options.NodePorts[index] : 0, // beyond them only nodes that exist: their port is on file
        AuthMethod = PostgresAuthMethod.Trust,
        KeepOnDispose = true,
    };

    private static void ThrowIfPortTaken(int port, string node)
    {
        if (!LocalPorts.IsFree(port))
        {
            throw new InvalidOperationException(
                $"Port {port} on 127.0.0.1, wanted by demo {node}, is in use by another program. Stop it, or create the demo in a new folder with other ports (pgpoolconsole demo --help).");
        }
    }

    private static int[] ReadDetachedNodes(string statusFile, int nodeCount)
    {
        if (!File.Exists(statusFile))
        {
            return [];
        }

        var lines = File.ReadAllLines(statusFile);
        return Enumerable.Range(0, Math.Min(lines.Length, nodeCount))
            .Where(i => string.Equals(lines[i].Trim(), "down", StringComparison.OrdinalIgnoreCase))
            .ToArray();
    }

    private static string PcpConf() =>
        "# pcp.conf for the PgPoolConsole demo: username:md5(password). User postgres, password postgres.\n" +
        "# Make another entry with: echo \"name:$(printf %s 'password' | md5sum | cut -d' ' -f1)\" >> pcp.conf\n" +
        $"{PcpUser}:{PgMd5.Hex(PcpPassword)}\n";

    private string PgpoolConf()
    {
        var conf = new StringBuilder();
        void Line(string text = "") => conf.Append(text).Append('\n');
        void Setting(string name, string value, string? comment = null) =>
            Line(comment is null ? $"{name} = {value}" : $"{name} = {value}".PadRight(38) + "  # " + comment);
        void Section(string title)
        {
            Line();
            Line("#------------------------------------------------------------------------------");
            Line("# " + title);
            Line("#------------------------------------------------------------------------------");
        }

        static string Quoted(string value) => $"'{value}'";
        static string Number(int value) => value.ToString(CultureInfo.InvariantCulture);

        Line($"# pgpool.conf for the PgPoolConsole demo: {Number(Nodes.Count)} local PostgreSQL 15 nodes in native replication mode.");
        Line("# Written by `pgpoolconsole demo` on its first run; later runs leave it alone, so edit freely.");
        Line("# Stock pgpool-II 4.3 reads it too: pgpool -n -f pgpool.conf -F pcp.conf");

        Section("Clustering mode");
        Setting("backend_clustering_mode", Quoted("native_replication"), "writes go to every node, reads are balanced");

        Section("Connections");
        Setting("listen_addresses", Quoted("127.0.0.1"));
        Setting("port", Number(Options.ProxyPort), $"psql -h 127.0.0.1 -p {Number(Options.ProxyPort)} -U postgres postgres");
        var socketDirectory = ClientSocketDirectory();
        Setting("socket_dir", Quoted(socketDirectory), socketDirectory == LibpqSocketDirectory
            ? $"psql -p {Number(Options.ProxyPort)} -U postgres postgres (libpq's default directory)"
            : $"psql -h {socketDirectory} -p {Number(Options.ProxyPort)} -U postgres postgres");
        Setting("pcp_listen_addresses", Quoted("127.0.0.1"));
        Setting("pcp_port", Number(Options.PcpPort), $"pcp_node_info -h 127.0.0.1 -p {Number(Options.PcpPort)} -U postgres -a");

        Section("Client security: TLS with a self-signed certificate made for the demo");
        Line("# psql \"host=127.0.0.1 port=" + Number(Options.ProxyPort) + " user=postgres dbname=postgres sslmode=require\"");
        Line("# For production see README.md: a CA-signed certificate, pool_hba.conf and pool_passwd.");
        Setting("ssl", "on");
        Setting("ssl_cert", Quoted("server.crt"), "relative names are relative to this file's folder");
        Setting("ssl_key", Quoted("server.key"));

        Section("Backends: PostgreSQL 15 nodes in this folder, trust authentication on 127.0.0.1");
        for (var i = 0; i < Nodes.Count; i++)
        {
            var node = Nodes[i];
            var id = Number(i);
            Setting($"backend_hostname{id}", Quoted(node.Host));
            Setting($"backend_port{id}", Number(node.Port));
            Setting($"backend_weight{id}", "1", "share of load-balanced reads");
            Setting($"backend_data_directory{id}", Quoted(node.DataDirectory));
            Setting($"backend_flag{id}", Quoted("ALLOW_TO_FAILOVER"));
            Setting($"backend_application_name{id}", Quoted($"node{id}"));
            if (i + 1 < Nodes.Count)
            {
                Line();
            }
        }

        Section("Load balancing");
        Setting("load_balance_mode", "on", "a session's reads go to one node, chosen by weight");

        Section("Health check");
        Setting("health_check_period", "5", "seconds between checks; 0 turns them off");
        Setting("health_check_timeout", "5", "seconds before a check counts as failed");
        Setting("health_check_user", Quoted("postgres"));
        Setting("health_check_password", Quoted(string.Empty), "trust authentication: no password");
        Setting("health_check_max_retries", "0");

        Section("Failover and failback: each event appends a line to a log in this folder");
        Line("# %d node id, %h host, %p port, %m new main node id, %M old main node id");
        Setting("failover_command", Quoted($"echo \"$(date -Iseconds) %d %h %p %m %M\" >> \"{FailoverLogPath}\""));
        Setting("failback_command", Quoted($"echo \"$(date -Iseconds) %d %h %p %m %M\" >> \"{FailbackLogPath}\""));

        Section("Online recovery");
        Setting("recovery_user", Quoted("postgres"));
        Setting("recovery_password", Quoted(string.Empty));
        Line("# Scripts in the main node's data directory, run there as the postgres OS user with pgpool-II's");
        Line("# arguments: base backup + standby streaming, then promotion (see scripts/recovery).");
        Setting("recovery_1st_stage_command", Quoted("recovery_1st_stage"));
        Setting("recovery_2nd_stage_command", Quoted("recovery_2nd_stage"));
        Setting("recovery_timeout", "90", "seconds for the pause and for the node to come up");

        Section("Logs and files");
        Setting("logdir", Quoted(Folder), "node status survives restarts in logdir/pgpool_status");
        Setting("pid_file_name", Quoted(PidFilePath));
        return conf.ToString();
    }
}
