namespace PgPoolConsole.Proxy.Configuration;

/// <summary>
/// The proxy's configuration: pgpool.conf keys (pgpool-II 4.3 names; 2.x/3.x spellings are accepted)
/// plus a few of our own. Defaults are pgpool-II 4.3's compiled-in defaults except where noted.
/// Built by <see cref="PgPoolOptionsLoader"/>; see <see cref="PgPoolSettings"/> for the key of each property.
/// </summary>
public sealed class PgPoolOptions
{
    // connections

    /// <summary>listen_addresses; '*' means all; comma list allowed. Our default is 127.0.0.1 (pgpool's is localhost).</summary>
    public string ListenAddresses { get; init; } = "127.0.0.1";

    public int Port { get; init; } = 9999;

    /// <summary>socket_dir: directories (comma list, as pgpool-II 4.4's unix_socket_directories) of the proxy's Unix-domain socket; '' = none. pgpool's default.</summary>
    public string SocketDir { get; init; } = "/tmp";

    /// <summary>pcp_listen_addresses; '*' means all (pgpool-II 4.3's default is localhost, as here).</summary>
    public string PcpListenAddresses { get; init; } = "localhost";

    public int PcpPort { get; init; } = 9898;

    /// <summary>pcp_socket_dir: directories (comma list) of the PCP Unix-domain socket; '' = none.</summary>
    public string PcpSocketDir { get; init; } = "/tmp";

    /// <summary>Only configured slots, ordered by Id.</summary>
    public IReadOnlyList<BackendOptions> Backends { get; init; } = [];

    // mode

    /// <summary>
    /// replication_mode = on (2.x/3.x) or backend_clustering_mode = 'native_replication' (4.x); the loader
    /// rejects every other mode, and uses native replication when neither key is given.
    /// </summary>
    public bool ReplicationMode { get; init; }

    public bool LoadBalanceMode { get; init; } = true;

    public bool StatementLevelLoadBalance { get; init; }

    public bool ReplicateSelect { get; init; }

    /// <summary>write_function_list (black_function_list): comma-separated patterns of functions that write.</summary>
    public string WriteFunctionList { get; init; } = "";

    /// <summary>read_only_function_list (white_function_list): comma-separated patterns of volatile functions that only read.</summary>
    public string ReadOnlyFunctionList { get; init; } = "";

    public bool InsertLock { get; init; } = true;

    public bool ReplicationStopOnMismatch { get; init; }

    public bool FailoverIfAffectedTuplesMismatch { get; init; }

    // pooling

    public int NumInitChildren { get; init; } = 32;

    public int MaxPool { get; init; } = 4;

    /// <summary>Seconds.</summary>
    public int ChildLifeTime { get; init; } = 300;

    public int ChildMaxConnections { get; init; }

    /// <summary>Seconds, 0 = no limit.</summary>
    public int ConnectionLifeTime { get; init; }

    /// <summary>Seconds, 0 = off.</summary>
    public int ClientIdleLimit { get; init; }

    public int ReservedConnections { get; init; }

    public bool ConnectionCache { get; init; } = true;

    /// <summary>Statements separated by ';'.</summary>
    public string ResetQueryList { get; init; } = "ABORT;DISCARD ALL";

    /// <summary>Seconds.</summary>
    public int AuthenticationTimeout { get; init; } = 60;

    // logging

    public bool LogStatement { get; init; }

    public bool LogPerNodeStatement { get; init; }

    public bool LogConnections { get; init; }

    public bool LogDisconnections { get; init; }

    public bool LogHostname { get; init; }

    /// <summary>debug5..debug1, info, notice, warning, error, log, fatal, panic.</summary>
    public string LogMinMessages { get; init; } = "warning";

    public string ClientMinMessages { get; init; } = "notice";

    public string LogLinePrefix { get; init; } = "%m: %a pid %p: ";

    /// <summary>Where pgpool_status lives.</summary>
    public string Logdir { get; init; } = "/tmp";

    public string PidFileName { get; init; } = "/var/run/pgpool/pgpool.pid";

    // health check

    /// <summary>The global health_check_* values; the per-node result is in <see cref="BackendOptions.HealthCheck"/>.</summary>
    public HealthCheckOptions HealthCheck { get; init; } = new();

    /// <summary>connect_timeout, milliseconds.</summary>
    public int ConnectTimeout { get; init; } = 10000;

    // failover

    public string FailoverCommand { get; init; } = "";

    public string FailbackCommand { get; init; } = "";

    /// <summary>failover_on_backend_error; the 2.x/3.x spelling fail_over_on_backend_error is accepted too.</summary>
    public bool FailoverOnBackendError { get; init; } = true;

    // recovery

    public string RecoveryUser { get; init; } = "";

    public string RecoveryPassword { get; init; } = "";

    public string Recovery1stStageCommand { get; init; } = "";

    public string Recovery2ndStageCommand { get; init; } = "";

    /// <summary>Seconds.</summary>
    public int RecoveryTimeout { get; init; } = 90;

    /// <summary>Seconds; -1 = disconnect idle clients at once, 0 = off.</summary>
    public int ClientIdleLimitInRecovery { get; init; }

    // client security

    public bool Ssl { get; init; }

    public string SslKey { get; init; } = "";

    public string SslCert { get; init; } = "";

    public string SslCaCert { get; init; } = "";

    public string SslCiphers { get; init; } = "HIGH:MEDIUM:+3DES:!aNULL";

    /// <summary>Not a pgpool-II 4.3 key (PostgreSQL's name): TLSv1, TLSv1.1, TLSv1.2 or TLSv1.3.</summary>
    public string SslMinProtocolVersion { get; init; } = "TLSv1.2";

    public bool EnablePoolHba { get; init; }

    public string PoolPasswd { get; init; } = "pool_passwd";

    public bool AllowClearTextFrontendAuth { get; init; }

    /// <summary>backend_ssl* (ours): the global values; the per-node result is in <see cref="BackendOptions.Tls"/>.</summary>
    public BackendTlsOptions BackendTls { get; init; } = new();

    /// <summary>pool_key_file (ours): the key for AES lines of pool_passwd; '' = $PGPOOLKEYFILE, else ~/.pgpoolkey (pgpool-II's places).</summary>
    public string PoolKeyFile { get; init; } = "";

    // our own additions (not pgpool keys)

    /// <summary>hangfire_connection_string; '' = in-memory job storage.</summary>
    public string HangfireConnectionString { get; init; } = "";

    /// <summary>recovery_remote_command; '' = run stage scripts through SQL on the main node like pgpool.</summary>
    public string RecoveryRemoteCommand { get; init; } = "";

    /// <summary>recovery_pause_timeout_action: abort, cancel or wait.</summary>
    public string RecoveryPauseTimeoutAction { get; init; } = "abort";

    /// <summary>replica_statement_timeout, milliseconds; 0 = off.</summary>
    public int ReplicaStatementTimeout { get; init; }

    /// <summary>allow_nondeterministic_writes.</summary>
    public bool AllowNondeterministicWrites { get; init; }

    /// <summary>control_plane_api_token; '' = REST and the hub accept only pcp.conf users.</summary>
    public string ControlPlaneApiToken { get; init; } = "";

    /// <summary>control_plane_anonymous_health: /health needs no login (as Patroni's REST API).</summary>
    public bool ControlPlaneAnonymousHealth { get; init; } = true;

    /// <summary>control_plane_anonymous_metrics: /metrics needs no login.</summary>
    public bool ControlPlaneAnonymousMetrics { get; init; }

    /// <summary>control_plane_max_failed_logins: failed logins per client address per minute before it is locked out for a minute.</summary>
    public int ControlPlaneMaxFailedLogins { get; init; } = 5;

    /// <summary>
    /// Every known setting with its value in effect (defaults filled in, per-node values per backend),
    /// for GET /api/config and SHOW POOL_STATUS. Secret values are already masked.
    /// </summary>
    public IReadOnlyList<EffectiveSetting> Effective { get; init; } = [];
}
