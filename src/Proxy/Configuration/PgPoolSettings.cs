namespace PgPoolConsole.Proxy.Configuration;

/// <summary>
/// The catalogue of configuration keys: every key we understand (<see cref="All"/>), the pgpool-II keys
/// we accept but do not use (<see cref="IgnoredParameters"/>), and how a key read from a file is classified.
/// Types, ranges and restart/reload follow pgpool-II 4.3 (src/config/pool_config_variables.c); defaults
/// come from the property initializers of <see cref="PgPoolOptions"/>, <see cref="BackendOptions"/> and
/// <see cref="HealthCheckOptions"/>.
/// </summary>
public static class PgPoolSettings
{
    /// <summary>Backend node ids run from 0 to this (pgpool-II's MAX_NUM_BACKENDS - 1).</summary>
    public const int MaxNodeId = 127;

    private const bool Restart = true;
    private const bool Reload = false;

    private static readonly string[] ClusteringModes =
        ["streaming_replication", "native_replication", "logical_replication", "slony", "raw", "snapshot_isolation"];

    private static readonly string[] MessageLevels =
        ["debug5", "debug4", "debug3", "debug2", "debug1", "info", "notice", "warning", "error", "log", "fatal", "panic"];

    private static readonly SettingDefinition[] Definitions =
    [
        // connections
        Text("listen_addresses", o => o.ListenAddresses, Restart, "Addresses the proxy listens on: host names or IPs separated by commas, '*' for all"),
        Number("port", o => o.Port, Restart, "TCP port the proxy listens on", 1, 65535),
        Text("socket_dir", o => o.SocketDir, Restart, "Directories (comma-separated) of the proxy's Unix-domain socket .s.PGSQL.<port> ('' = no socket)"),
        Text("pcp_listen_addresses", o => o.PcpListenAddresses, Restart, "Addresses the PCP port listens on, '*' for all"),
        Number("pcp_port", o => o.PcpPort, Restart, "TCP port for PCP commands", 1, 65535),
        Text("pcp_socket_dir", o => o.PcpSocketDir, Restart, "Directories (comma-separated) of the PCP Unix-domain socket .s.PGSQL.<pcp_port> ('' = no socket)"),

        // backends
        Node("backend_hostname", SettingType.String, b => b.Hostname, Restart, "Host name or IP address of the node, or the directory of its Unix socket (starting with /)"),
        new("backend_port", SettingType.Integer, SettingScope.PerNode, "Port of the node")
        {
            Minimum = 1, Maximum = 65535, NeedsRestart = Restart, NodeValue = b => b.Port,
        },
        new("backend_weight", SettingType.Real, SettingScope.PerNode, "Load-balance weight of the node")
        {
            Minimum = 0, Maximum = 100_000_000, NodeValue = b => b.Weight,
        },
        Node("backend_data_directory", SettingType.String, b => b.DataDirectory, Reload, "Data directory of the node, for online recovery"),
        new("backend_flag", SettingType.Flags, SettingScope.PerNode, "ALLOW_TO_FAILOVER or DISALLOW_TO_FAILOVER (ALWAYS_PRIMARY is ignored)")
        {
            AllowedValues = ["ALLOW_TO_FAILOVER", "DISALLOW_TO_FAILOVER", "ALWAYS_PRIMARY", "ALWAYS_MASTER"],
            NodeValue = b => b.AllowToFailover ? "ALLOW_TO_FAILOVER" : "DISALLOW_TO_FAILOVER",
        },
        Node("backend_application_name", SettingType.String, b => b.ApplicationName, Reload, "application_name of the node's WAL receiver (streaming replication status only)"),

        // mode
        new("backend_clustering_mode", SettingType.Enumeration, SettingScope.Global, "Clustering mode; only native_replication is supported")
        {
            AllowedValues = ClusteringModes, NeedsRestart = Restart, DefaultOverride = "native_replication",
            OptionsValue = o => o.ReplicationMode ? "native_replication" : "raw",
        },
        new("replication_mode", SettingType.Boolean, SettingScope.Global, "pgpool-II 2.x/3.x spelling of backend_clustering_mode = 'native_replication'")
        {
            NeedsRestart = Restart, DefaultOverride = "on", OptionsValue = o => o.ReplicationMode,
        },
        Flag("load_balance_mode", o => o.LoadBalanceMode, Restart, "Send read-only queries to one node chosen by backend_weight instead of all"),
        Flag("statement_level_load_balance", o => o.StatementLevelLoadBalance, Reload, "Choose the load-balance node per statement instead of per session"),
        Flag("replicate_select", o => o.ReplicateSelect, Reload, "Send SELECTs that are not load balanced to every node"),
        new("write_function_list", SettingType.List, SettingScope.Global, "Functions that write (regular expressions matching whole names, comma separated): a SELECT calling one goes to every node, in addition to volatile functions")
        {
            ListSeparator = ',', OptionsValue = o => o.WriteFunctionList,
        },
        new("read_only_function_list", SettingType.List, SettingScope.Global, "Volatile functions that only read (regular expressions matching whole names, comma separated): a SELECT calling them is load balanced")
        {
            ListSeparator = ',', OptionsValue = o => o.ReadOnlyFunctionList,
        },
        Flag("insert_lock", o => o.InsertLock, Reload, "Lock the table before an INSERT that uses a sequence, so every node assigns the same values"),
        Flag("replication_stop_on_mismatch", o => o.ReplicationStopOnMismatch, Reload, "Detach the minority nodes when their reply kind differs from the majority"),
        Flag("failover_if_affected_tuples_mismatch", o => o.FailoverIfAffectedTuplesMismatch, Reload, "Detach the minority nodes when their INSERT/UPDATE/DELETE row counts differ"),

        // pooling
        Number("num_init_children", o => o.NumInitChildren, Restart, "Maximum number of concurrent client sessions", 1),
        Number("max_pool", o => o.MaxPool, Restart, "Cached backend connection sets per session slot", 1),
        Number("child_life_time", o => o.ChildLifeTime, Restart, "Seconds an idle session slot lives before it is recycled", 0, TimeUnit.Seconds),
        Number("child_max_connections", o => o.ChildMaxConnections, Restart, "Recycle a session slot after this many clients (0 = never)", 0),
        Number("connection_life_time", o => o.ConnectionLifeTime, Restart, "Seconds a cached backend connection may live (0 = no limit)", 0, TimeUnit.Seconds),
        Number("client_idle_limit", o => o.ClientIdleLimit, Reload, "Disconnect a client idle this many seconds (0 = never)", 0, TimeUnit.Seconds),
        Number("reserved_connections", o => o.ReservedConnections, Restart, "Reject clients with an error instead of queueing them when this few slots are left (0 = queue)", 0),
        Flag("connection_cache", o => o.ConnectionCache, Restart, "Keep backend connections for reuse after a client disconnects"),
        new("reset_query_list", SettingType.List, SettingScope.Global, "Statements run on every node when a client disconnects, separated by ';'")
        {
            ListSeparator = ';', OptionsValue = o => o.ResetQueryList,
        },
        Number("authentication_timeout", o => o.AuthenticationTimeout, Restart, "Seconds a client has to authenticate (0 = no limit)", 0, TimeUnit.Seconds),

        // logging
        Flag("log_statement", o => o.LogStatement, Reload, "Log every statement"),
        Flag("log_per_node_statement", o => o.LogPerNodeStatement, Reload, "Log every statement with the node it is sent to"),
        Flag("log_connections", o => o.LogConnections, Reload, "Log each client connection"),
        Flag("log_disconnections", o => o.LogDisconnections, Reload, "Log the end of each client session"),
        Flag("log_hostname", o => o.LogHostname, Reload, "Log client host names instead of addresses"),
        Choice("log_min_messages", MessageLevels, o => o.LogMinMessages, "Lowest level written to the log"),
        Choice("client_min_messages", MessageLevels, o => o.ClientMinMessages, "Lowest level sent to clients"),
        Text("log_line_prefix", o => o.LogLinePrefix, Reload, "printf-style prefix of each log line (%m time, %a process, %p pid)"),
        Text("logdir", o => o.Logdir, Restart, "Directory of the pgpool_status file"),
        Text("pid_file_name", o => o.PidFileName, Restart, "Path of the pid file"),

        // health check: global values, overridable per node
        Health("health_check_period", SettingType.Integer, o => o.Period, "Seconds between health checks (0 = off)", TimeUnit.Seconds),
        Health("health_check_timeout", SettingType.Integer, o => o.Timeout, "Seconds before a health check attempt gives up (0 = wait forever)", TimeUnit.Seconds),
        Health("health_check_user", SettingType.String, o => o.User, "User name for health checks"),
        Health("health_check_password", SettingType.String, o => o.Password, "Password for health checks", secret: true),
        Health("health_check_database", SettingType.String, o => o.Database, "Database for health checks ('' = postgres, then template1)"),
        Health("health_check_max_retries", SettingType.Integer, o => o.MaxRetries, "Failed health checks retried before failover"),
        Health("health_check_retry_delay", SettingType.Integer, o => o.RetryDelay, "Seconds between health check retries", TimeUnit.Seconds),
        Number("connect_timeout", o => o.ConnectTimeout, Reload, "Milliseconds to wait for a TCP connection to a node (0 = no limit)", 0, TimeUnit.Milliseconds),

        // failover
        Text("failover_command", o => o.FailoverCommand, Reload, "Command run when a node is detached (%d node, %h host, %m new main, %M old main, ...)"),
        Text("failback_command", o => o.FailbackCommand, Reload, "Command run when a node is attached again (same placeholders as failover_command)"),
        Flag("failover_on_backend_error", o => o.FailoverOnBackendError, Reload, "Detach a node when reading from or writing to it fails"),

        // recovery
        Text("recovery_user", o => o.RecoveryUser, Reload, "User name for online recovery"),
        Text("recovery_password", o => o.RecoveryPassword, Reload, "Password for online recovery", secret: true),
        Text("recovery_1st_stage_command", o => o.Recovery1stStageCommand, Reload, "Script in the main node's data directory for the first recovery stage"),
        Text("recovery_2nd_stage_command", o => o.Recovery2ndStageCommand, Reload, "Script in the main node's data directory for the second recovery stage"),
        Number("recovery_timeout", o => o.RecoveryTimeout, Reload, "Seconds to wait for the recovered node to start", 0, TimeUnit.Seconds),
        Number("client_idle_limit_in_recovery", o => o.ClientIdleLimitInRecovery, Reload, "While an online recovery waits for open transactions to end, end a session whose transaction is idle this many seconds (-1 = at once, 0 = never); sessions idle outside a transaction stay connected", -1, TimeUnit.Seconds),

        // client security
        Flag("ssl", o => o.Ssl, Restart, "Accept TLS connections from clients"),
        Text("ssl_key", o => o.SslKey, Restart, "Private key file for TLS"),
        Text("ssl_cert", o => o.SslCert, Restart, "Certificate file for TLS"),
        Text("ssl_ca_cert", o => o.SslCaCert, Restart, "CA certificates for verifying client certificates"),
        Text("ssl_ciphers", o => o.SslCiphers, Restart, "Allowed TLS cipher suites (OpenSSL syntax)"),
        new("ssl_min_protocol_version", SettingType.Enumeration, SettingScope.Global, "Oldest TLS version accepted (not a pgpool-II 4.3 key)")
        {
            AllowedValues = ["TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"], NeedsRestart = Restart, OptionsValue = o => o.SslMinProtocolVersion,
        },
        Flag("enable_pool_hba", o => o.EnablePoolHba, Reload, "Authenticate clients with pool_hba.conf"),
        Text("pool_passwd", o => o.PoolPasswd, Restart, "File of user passwords for client authentication"),
        Flag("allow_clear_text_frontend_auth", o => o.AllowClearTextFrontendAuth, Reload, "Ask clients for a clear-text password when pool_passwd has none for the user"),
        Text("pool_key_file", o => o.PoolKeyFile, Reload, "Key file for AES-encrypted pool_passwd lines ('' = $PGPOOLKEYFILE, else ~/.pgpoolkey); not a pgpool-II key"),

        // backend security: global values, overridable per node (backend_sslmode1); ours, after libpq's sslmode, sslrootcert, sslcert, sslkey
        new("backend_sslmode", SettingType.Enumeration, SettingScope.GlobalAndPerNode, "TLS to the node, as libpq's sslmode: disable, allow, prefer (TLS when the node offers it), require, verify-ca, verify-full; not a pgpool-II key")
        {
            AllowedValues = BackendTlsOptions.Modes, NeedsRestart = Restart,
            OptionsValue = o => o.BackendTls.Mode, NodeValue = b => b.Tls.Mode,
        },
        BackendTls("backend_sslrootcert", t => t.RootCert, "CA certificates (PEM) the node's certificate must chain to, 'system' for the system's store; checked whenever set, required by verify-ca and verify-full; not a pgpool-II key"),
        BackendTls("backend_sslcert", t => t.Cert, "Client certificate (PEM) for nodes that ask for one ('' = none); not a pgpool-II key"),
        BackendTls("backend_sslkey", t => t.Key, "Private key (PEM, not encrypted) of backend_sslcert; not a pgpool-II key"),

        // our own
        Text("hangfire_connection_string", o => o.HangfireConnectionString, Restart, "PostgreSQL connection string for the job store ('' = in memory); not a pgpool-II key", secret: true),
        Text("recovery_remote_command", o => o.RecoveryRemoteCommand, Reload, "Command that runs recovery stage scripts ('' = through SQL on the main node, as pgpool-II); not a pgpool-II key"),
        Choice("recovery_pause_timeout_action", ["abort", "cancel", "wait"], o => o.RecoveryPauseTimeoutAction, "When a transaction is still open recovery_timeout seconds into a recovery's pause: abort the recovery, cancel the transaction (its session ends), or wait; not a pgpool-II key"),
        Number("replica_statement_timeout", o => o.ReplicaStatementTimeout, Reload, "Timeout in milliseconds for statements on replica nodes (0 = off); not a pgpool-II key", 0, TimeUnit.Milliseconds),
        Flag("allow_nondeterministic_writes", o => o.AllowNondeterministicWrites, Reload, "Allow writes whose result may differ between nodes (random(), clock_timestamp(), ...); not a pgpool-II key"),

        // web control plane (ours)
        Text("control_plane_api_token", o => o.ControlPlaneApiToken, Reload, "Bearer token accepted by the REST API and the SignalR hub besides pcp.conf users ('' = none); not a pgpool-II key", secret: true),
        Flag("control_plane_anonymous_health", o => o.ControlPlaneAnonymousHealth, Reload, "Serve /health and /health/* without login (for load balancers and monitoring); not a pgpool-II key"),
        Flag("control_plane_anonymous_metrics", o => o.ControlPlaneAnonymousMetrics, Reload, "Serve /metrics without login (for Prometheus); not a pgpool-II key"),
        Number("control_plane_max_failed_logins", o => o.ControlPlaneMaxFailedLogins, Reload, "Failed logins allowed per client address within a minute before further attempts are refused for a minute; not a pgpool-II key", 1),
    ];

    /// <summary>Old spellings and the key they stand for.</summary>
    private static readonly Dictionary<string, string> Aliases = new(StringComparer.Ordinal)
    {
        ["fail_over_on_backend_error"] = "failover_on_backend_error",
        ["black_function_list"] = "write_function_list", // pgpool-II 3.x
        ["white_function_list"] = "read_only_function_list",
        ["unix_socket_directories"] = "socket_dir", // pgpool-II 4.4
    };

    /// <summary>Settings that pgpool-II also accepts per node but we only globally.</summary>
    private static readonly HashSet<string> GlobalOnlyHere = ["connect_timeout"];

    /// <summary>
    /// pgpool-II keys (4.3 and older) for features we do not implement: watchdog, query cache, streaming
    /// replication, logging collector, parallel mode and the like. Accepted without a warning.
    /// </summary>
    private static readonly string[] Ignored =
    [
        // connection and process handling
        "serialize_accept", "listen_backlog_multiplier", "process_management_mode", "process_management_strategy",
        "min_spare_children", "max_spare_children", "backend_socket_dir", "pcp_timeout", "allow_inet_domain_socket",
        "wd_ipc_socket_dir", "unix_socket_group", "unix_socket_permissions",
        // other clustering modes
        "master_slave_mode", "master_slave_sub_mode", "parallel_mode", "replication_timeout", "replication_strict",
        "sr_check_period", "sr_check_user", "sr_check_password", "sr_check_database", "delay_threshold",
        "delay_threshold_by_time", "log_standby_delay", "prefer_lower_delay_standby", "follow_master_command",
        "follow_primary_command", "search_primary_node_timeout", "detach_false_primary", "auto_failback",
        "auto_failback_interval", "failover_on_backend_shutdown", "disable_load_balance_on_write",
        "database_redirect_preference_list", "app_name_redirect_preference_list",
        "dml_adaptive_object_relationship_list", "primary_routing_query_pattern_list", "black_query_pattern_list",
        "ignore_leading_white_space", "allow_sql_comments", "lobj_lock_table", "check_temp_table", "check_unlogged_table",
        "relcache_expire", "relcache_size", "relcache_query_target", "enable_shared_relcache",
        // system db of 2.x/3.x
        "enable_query_cache", "pgpool2_hostname", "system_db_hostname", "system_db_port", "system_db_dbname",
        "system_db_schema", "system_db_user", "system_db_password",
        // logging we leave to the host
        "print_timestamp", "debug_level", "log_destination", "syslog_facility", "syslog_ident", "log_error_verbosity",
        "log_client_messages", "log_backend_messages", "log_pcp_processes", "logging_collector", "log_directory",
        "log_filename", "log_truncate_on_rotation", "log_rotation_age", "log_rotation_size", "log_file_mode",
        // query cache
        "memory_cache_enabled", "memqcache_method", "memqcache_memcached_host", "memqcache_memcached_port",
        "memqcache_total_size", "memqcache_max_num_cache", "memqcache_expire", "memqcache_auto_cache_invalidation",
        "memqcache_maxcache", "memqcache_cache_block_size", "memqcache_oiddir", "white_memqcache_table_list",
        "black_memqcache_table_list", "cache_safe_memqcache_table_list", "cache_unsafe_memqcache_table_list",
        // watchdog
        "use_watchdog", "trusted_servers", "trusted_server_command", "ping_path", "wd_hostname", "wd_port",
        "wd_priority", "wd_authkey", "delegate_ip", "if_cmd_path", "ifconfig_path", "if_up_cmd", "if_down_cmd",
        "arping_path", "arping_cmd", "clear_memqcache_on_escalation", "wd_escalation_command",
        "wd_de_escalation_command", "failover_when_quorum_exists", "failover_require_consensus",
        "allow_multiple_failover_requests_from_node", "enable_consensus_with_half_votes", "wd_remove_shutdown_nodes",
        "wd_lost_node_removal_timeout", "wd_no_show_node_removal_timeout", "wd_monitoring_interfaces_list",
        "wd_lifecheck_method", "wd_interval", "wd_heartbeat_port", "wd_heartbeat_keepalive", "wd_heartbeat_deadtime",
        "wd_life_point", "wd_lifecheck_query", "wd_lifecheck_dbname", "wd_lifecheck_user", "wd_lifecheck_password",
        // TLS details we do not implement
        "ssl_ca_cert_dir", "ssl_crl_file", "ssl_prefer_server_ciphers", "ssl_ecdh_curve", "ssl_dh_params_file",
        "ssl_passphrase_command",
    ];

    /// <summary>Ignored keys that carry a node number (watchdog and heartbeat peers).</summary>
    private static readonly string[] IgnoredPerNode =
    [
        "hostname", "wd_port", "pgpool_port", "heartbeat_hostname", "heartbeat_port", "heartbeat_device",
        "heartbeat_destination", "heartbeat_destination_port", "other_pgpool_hostname", "other_pgpool_port",
        "other_wd_port",
    ];

    private static readonly Dictionary<string, SettingDefinition> ByName =
        Definitions.ToDictionary(d => d.Name, StringComparer.Ordinal);

    private static readonly HashSet<string> IgnoredNames = new(Ignored, StringComparer.Ordinal);

    private static readonly HashSet<string> IgnoredPerNodeNames = new(IgnoredPerNode, StringComparer.Ordinal);

    /// <summary>Every key we understand, in display order (per-node keys without the node number).</summary>
    public static IReadOnlyList<SettingDefinition> All => Definitions;

    /// <summary>pgpool-II keys accepted without effect (per-node ones without the node number).</summary>
    public static IReadOnlyCollection<string> IgnoredParameters { get; } = [.. Ignored, .. IgnoredPerNode];

    /// <summary>The definition for a key without node number; old spellings are accepted.</summary>
    public static SettingDefinition? Find(string name)
    {
        var key = name.ToLowerInvariant();
        return ByName.GetValueOrDefault(Aliases.GetValueOrDefault(key, key));
    }

    internal static SettingDefinition Get(string name) => ByName[name];

    /// <summary>What a (lower-case) key from a configuration source refers to.</summary>
    internal static KeyInfo Classify(string key)
    {
        key = Aliases.GetValueOrDefault(key, key);
        if (ByName.TryGetValue(key, out var definition))
        {
            return new KeyInfo(definition.Scope == SettingScope.PerNode ? KeyKind.NodeIdMissing : KeyKind.Global, definition);
        }

        if (IgnoredNames.Contains(key))
        {
            return new KeyInfo(KeyKind.Ignored);
        }

        var (baseName, digits) = SplitNodeSuffix(key);
        if (digits.Length == 0)
        {
            return new KeyInfo(KeyKind.Unknown);
        }

        if (IgnoredPerNodeNames.Contains(baseName))
        {
            return new KeyInfo(KeyKind.Ignored);
        }

        if (!ByName.TryGetValue(baseName, out definition))
        {
            return new KeyInfo(KeyKind.Unknown);
        }

        if (definition.Scope == SettingScope.Global)
        {
            return new KeyInfo(GlobalOnlyHere.Contains(baseName) ? KeyKind.NodeNotSupported : KeyKind.Unknown, definition);
        }

        return int.TryParse(digits, out var nodeId) && nodeId <= MaxNodeId
            ? new KeyInfo(KeyKind.PerNode, definition, nodeId)
            : new KeyInfo(KeyKind.NodeIdOutOfRange, definition);
    }

    /// <summary>The closest known key when it is only a small typo away, else null.</summary>
    internal static string? Suggest(string key)
    {
        var (baseName, digits) = SplitNodeSuffix(key);
        IEnumerable<string> candidates = digits.Length == 0
            ? Definitions.Where(d => d.Scope != SettingScope.PerNode).Select(d => d.Name).Concat(Ignored).Concat(Aliases.Keys)
            : Definitions.Where(d => d.Scope != SettingScope.Global).Select(d => d.Name).Concat(IgnoredPerNode);
        var target = digits.Length == 0 ? key : baseName;
        var allowed = target.Length >= 12 ? 3 : 2;
        var best = candidates
            .Select(name => (name, distance: EditDistance(target, name)))
            .Where(c => c.distance <= allowed)
            .OrderBy(c => c.distance)
            .FirstOrDefault();
        return best.name is null ? null : best.name + digits;
    }

    private static (string BaseName, string Digits) SplitNodeSuffix(string key)
    {
        var end = key.Length;
        while (end > 0 && char.IsAsciiDigit(key[end - 1]))
        {
            end--;
        }

        return (key[..end], key[end..]);
    }

    /// <summary>Optimal string alignment distance: insertions, deletions, substitutions, adjacent swaps.</summary>
    private static int EditDistance(string a, string b)
    {
        var d = new int[a.Length + 1, b.Length + 1];
        for (var i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (var j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            for (var j = 1; j <= b.Length; j++)
            {
                var cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }

    private static SettingDefinition Flag(string name, Func<PgPoolOptions, object> value, bool restart, string description) =>
        new(name, SettingType.Boolean, SettingScope.Global, description) { NeedsRestart = restart, OptionsValue = value };

    private static SettingDefinition Text(
        string name, Func<PgPoolOptions, object> value, bool restart, string description, bool secret = false) =>
        new(name, SettingType.String, SettingScope.Global, description)
        {
            NeedsRestart = restart, IsSecret = secret, OptionsValue = value,
        };

    private static SettingDefinition Number(
        string name, Func<PgPoolOptions, object> value, bool restart, string description, int minimum,
        TimeUnit? unit = null) =>
        Number(name, value, restart, description, minimum, int.MaxValue, unit);

    private static SettingDefinition Number(
        string name, Func<PgPoolOptions, object> value, bool restart, string description, int minimum, int maximum,
        TimeUnit? unit = null) =>
        new(name, SettingType.Integer, SettingScope.Global, description)
        {
            NeedsRestart = restart, Minimum = minimum, Maximum = maximum, Unit = unit, OptionsValue = value,
        };

    private static SettingDefinition Choice(
        string name, string[] values, Func<PgPoolOptions, object> value, string description) =>
        new(name, SettingType.Enumeration, SettingScope.Global, description) { AllowedValues = values, OptionsValue = value };

    private static SettingDefinition Health(
        string name, SettingType type, Func<HealthCheckOptions, object> value, string description,
        TimeUnit? unit = null, bool secret = false) =>
        new(name, type, SettingScope.GlobalAndPerNode, description)
        {
            Minimum = 0, Maximum = int.MaxValue, Unit = unit, IsSecret = secret,
            OptionsValue = o => value(o.HealthCheck), NodeValue = b => value(b.HealthCheck),
        };

    private static SettingDefinition BackendTls(string name, Func<BackendTlsOptions, object> value, string description) =>
        new(name, SettingType.String, SettingScope.GlobalAndPerNode, description)
        {
            NeedsRestart = Restart, OptionsValue = o => value(o.BackendTls), NodeValue = b => value(b.Tls),
        };

    private static SettingDefinition Node(
        string name, SettingType type, Func<BackendOptions, object> value, bool restart, string description) =>
        new(name, type, SettingScope.PerNode, description) { NeedsRestart = restart, NodeValue = value };
}

internal enum KeyKind
{
    Global,
    PerNode,
    Ignored,
    Unknown,

    /// <summary>A per-node key without node number (backend_port).</summary>
    NodeIdMissing,

    /// <summary>A per-node key with a node number above <see cref="PgPoolSettings.MaxNodeId"/>.</summary>
    NodeIdOutOfRange,

    /// <summary>A key pgpool-II accepts per node that we only accept globally (connect_timeout1).</summary>
    NodeNotSupported,
}

internal readonly record struct KeyInfo(KeyKind Kind, SettingDefinition? Definition = null, int NodeId = -1);
