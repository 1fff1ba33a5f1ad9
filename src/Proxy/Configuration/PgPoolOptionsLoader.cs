namespace PgPoolConsole.Proxy.Configuration;

/// <summary>
/// Turns configuration entries (appsettings.json's <c>PgPool</c> section first, then pgpool.conf; the
/// later entry for a key wins) into <see cref="PgPoolOptions"/>, and compares two loaded configurations
/// for <c>reload</c>.
/// </summary>
public static class PgPoolOptionsLoader
{
    private const string SectionPrefix = "PgPool:";

    /// <summary>
    /// Entries from flattened configuration pairs such as <c>("PgPool:port", "9999")</c>, as given by
    /// <c>IConfiguration.AsEnumerable()</c> or <c>GetSection("PgPool").AsEnumerable()</c>. Pairs outside the
    /// section and section nodes without a value are skipped. Line is 0: the source has no lines.
    /// </summary>
    public static IReadOnlyList<ConfigEntry> FromConfigurationSection(
        IEnumerable<KeyValuePair<string, string?>> pairs, string sourceName)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        return
        [
            .. from pair in pairs
               where pair.Value is not null && pair.Key.StartsWith(SectionPrefix, StringComparison.OrdinalIgnoreCase)
               select new ConfigEntry(pair.Key[SectionPrefix.Length..].ToLowerInvariant(), pair.Value, sourceName, 0),
        ];
    }

    /// <summary>
    /// Validates the entries and builds the options. Throws <see cref="ConfigException"/> with every error
    /// found; returns warnings (likely mistakes) and notes (information) otherwise.
    /// </summary>
    public static ConfigLoadResult Load(IReadOnlyList<ConfigEntry> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var load = new LoadContext(entries);
        CheckMode(load);
        var backends = BuildBackends(load);
        foreach (var definition in PgPoolSettings.All.Where(d => d.Scope != SettingScope.PerNode))
        {
            load.Value(definition);
        }

        ValidateAcrossKeys(load, backends);
        if (load.Errors.Count > 0)
        {
            throw new ConfigException(load.SortedErrors());
        }

        var draft = Create(load, backends, []);
        var options = Create(load, backends, [.. Effective(load, draft)]);
        load.NoteIgnored();
        return new ConfigLoadResult(options, [.. load.Warnings], [.. load.Notes]);
    }

    /// <summary>
    /// The entries a reload installs: <paramref name="reloaded"/>'s, except that a key that needs a restart
    /// keeps its entry (or its absence) from <paramref name="running"/>, so the running value stays in effect,
    /// and in SHOW, until a restart. A running node that the reload leaves out keeps all its entries (removing
    /// a node needs a restart); a node the reload adds takes its new entries.
    /// </summary>
    public static IReadOnlyList<ConfigEntry> KeepRestartOnlyEntries(
        IReadOnlyList<ConfigEntry> running, IReadOnlyList<ConfigEntry> reloaded, IReadOnlyCollection<int> runningNodeIds)
    {
        ArgumentNullException.ThrowIfNull(running);
        ArgumentNullException.ThrowIfNull(reloaded);
        ArgumentNullException.ThrowIfNull(runningNodeIds);
        var nodesLeftOut = runningNodeIds
            .Where(id => !reloaded.Any(e => PgPoolSettings.Classify(e.Key.ToLowerInvariant()) is { Kind: KeyKind.PerNode, Definition.Name: "backend_hostname" } key && key.NodeId == id))
            .ToHashSet();

        bool KeptFromRunning(ConfigEntry entry)
        {
            var key = PgPoolSettings.Classify(entry.Key.ToLowerInvariant());
            return key.Kind switch
            {
                KeyKind.Global => key.Definition!.NeedsRestart,
                KeyKind.PerNode => runningNodeIds.Contains(key.NodeId) && (key.Definition!.NeedsRestart || nodesLeftOut.Contains(key.NodeId)),
                _ => false,
            };
        }

        return [.. reloaded.Where(e => !KeptFromRunning(e)), .. running.Where(KeptFromRunning)];
    }

    /// <summary>
    /// What differs between two loaded configurations, and which of those changes need a restart.
    /// A new backend can be attached on reload; changing a backend's host or port, or removing it,
    /// needs a restart. Secret values are masked.
    /// </summary>
    public static ConfigReloadDiff ReloadDiff(PgPoolOptions old, PgPoolOptions @new)
    {
        ArgumentNullException.ThrowIfNull(old);
        ArgumentNullException.ThrowIfNull(@new);
        var changes = new List<SettingChange>();
        foreach (var definition in PgPoolSettings.All)
        {
            if (definition.OptionsValue is { } value)
            {
                AddChange(changes, definition, definition.Name, value(old), value(@new), definition.NeedsRestart);
            }
        }

        var ids = old.Backends.Concat(@new.Backends).Select(b => b.Id).Distinct().Order();
        foreach (var id in ids)
        {
            var before = old.Backends.FirstOrDefault(b => b.Id == id);
            var after = @new.Backends.FirstOrDefault(b => b.Id == id);
            foreach (var definition in PgPoolSettings.All)
            {
                if (definition.NodeValue is { } value)
                {
                    var needsRestart = before is not null && (after is null || definition.NeedsRestart);
                    AddChange(changes, definition, definition.Name + id,
                        before is null ? "" : value(before), after is null ? "" : value(after), needsRestart);
                }
            }
        }

        return new ConfigReloadDiff([.. changes]);
    }

    private static void AddChange(
        List<SettingChange> changes, SettingDefinition definition, string name, object before, object after, bool needsRestart)
    {
        if (SettingDefinition.FormatValue(before) != SettingDefinition.FormatValue(after))
        {
            changes.Add(new SettingChange(name, definition.Display(before), definition.Display(after), needsRestart));
        }
    }

    /// <summary>
    /// replication_mode = on (2.x/3.x) or backend_clustering_mode = 'native_replication' (4.x); native
    /// replication when neither is given. Every other mode is an error.
    /// </summary>
    private static void CheckMode(LoadContext load)
    {
        const string NotSupported = "only native_replication is supported";
        var clusteringMode = PgPoolSettings.Get("backend_clustering_mode");
        var replicationMode = PgPoolSettings.Get("replication_mode");
        var modeEntry = load.Global.GetValueOrDefault(clusteringMode.Name);
        var replicationEntry = load.Global.GetValueOrDefault(replicationMode.Name);

        if (modeEntry is not null && clusteringMode.TryParse(modeEntry.Value, out var mode) && (string)mode != "native_replication")
        {
            load.Errors.Add(InvalidValue(modeEntry, NotSupported));
        }

        if (replicationEntry is not null && replicationMode.TryParse(replicationEntry.Value, out var on) && !(bool)on)
        {
            load.Errors.Add(InvalidValue(replicationEntry, NotSupported + "; replication_mode must be on"));
        }

        if (load.Ignored.GetValueOrDefault("master_slave_mode") is { } masterSlave
            && replicationMode.TryParse(masterSlave.Value, out var masterSlaveOn) && (bool)masterSlaveOn)
        {
            load.Errors.Add(InvalidValue(masterSlave, NotSupported + "; master/slave mode is not"));
        }

        if (modeEntry is null && replicationEntry is null)
        {
            load.Notes.Add(new ConfigMessage("", 0, null,
                "neither backend_clustering_mode nor replication_mode is set; using native replication"));
        }
    }

    private static List<BackendOptions> BuildBackends(LoadContext load)
    {
        var backends = new List<BackendOptions>();
        var endpoints = new Dictionary<string, (int Id, ConfigEntry Entry)>(StringComparer.OrdinalIgnoreCase);
        foreach (var (id, settings) in load.Nodes)
        {
            if (!IsBackendNode(settings))
            {
                foreach (var entry in settings.Values)
                {
                    load.Warnings.Add(ConfigMessage.At(entry,
                        $"\"{entry.Key}\" is set for backend node {id}, which has no backend_hostname{id} (ignored)"));
                }

                continue;
            }

            if (!settings.TryGetValue("backend_hostname", out var hostEntry))
            {
                var first = settings.Values.OrderBy(e => e.Line).First();
                load.Errors.Add(ConfigMessage.At(first,
                    $"backend node {id} has \"{first.Key}\" but no backend_hostname{id}"));
                continue;
            }

            var backend = BuildBackend(load, id, hostEntry);
            if (backend.Hostname.Length == 0)
            {
                load.Errors.Add(InvalidValue(hostEntry,
                    "allowed: a TCP host name or IP address, or a Unix-domain socket directory starting with /"));
                continue;
            }

            if (endpoints.TryGetValue($"{backend.Hostname}:{backend.Port}", out var other))
            {
                load.Errors.Add(ConfigMessage.At(hostEntry,
                    $"backend node {id} ({backend.Hostname}:{backend.Port}) has the same host and port as backend node {other.Id} ({other.Entry.Location})"));
            }

            endpoints.TryAdd($"{backend.Hostname}:{backend.Port}", (id, hostEntry));
            backends.Add(backend);
        }

        if (!load.Nodes.Values.Any(IsBackendNode))
        {
            load.Errors.Add(new ConfigMessage(load.MainSource, 0, null,
                "no backend node is configured; set backend_hostname0 and backend_port0 (and so on for more nodes)"));
        }

        return backends;
    }

    /// <summary>A node is configured by any backend_* key; health_check_*N alone does not make one.</summary>
    private static bool IsBackendNode(Dictionary<string, ConfigEntry> settings) =>
        settings.Keys.Any(name => name.StartsWith("backend_", StringComparison.Ordinal));

    private static BackendOptions BuildBackend(LoadContext load, int id, ConfigEntry hostEntry)
    {
        var flags = (string)load.NodeValue("backend_flag", id);
        if (flags.Contains("DISALLOW_TO_FAILOVER", StringComparison.Ordinal)
            && flags.Split('|').Contains("ALLOW_TO_FAILOVER"))
        {
            load.Errors.Add(InvalidValue(load.Nodes[id]["backend_flag"],
                "ALLOW_TO_FAILOVER and DISALLOW_TO_FAILOVER cannot both be set"));
        }

        return new BackendOptions
        {
            Id = id,
            Hostname = hostEntry.Value,
            Port = (int)load.NodeValue("backend_port", id),
            Weight = (double)load.NodeValue("backend_weight", id),
            DataDirectory = (string)load.NodeValue("backend_data_directory", id),
            AllowToFailover = !flags.Split('|').Contains("DISALLOW_TO_FAILOVER"),
            ApplicationName = (string)load.NodeValue("backend_application_name", id),
            HealthCheck = ReadHealthCheck(name => load.NodeValue(name, id)),
            Tls = ReadBackendTls(name => load.NodeValue(name, id)),
        };
    }

    /// <summary>The backend_ssl* settings, read globally or for one node.</summary>
    private static BackendTlsOptions ReadBackendTls(Func<string, object> value) => new()
    {
        Mode = (string)value("backend_sslmode"),
        RootCert = (string)value("backend_sslrootcert"),
        Cert = (string)value("backend_sslcert"),
        Key = (string)value("backend_sslkey"),
    };

    /// <summary>The health_check_* settings, read globally or for one node.</summary>
    private static HealthCheckOptions ReadHealthCheck(Func<string, object> value) => new()
    {
        Period = (int)value("health_check_period"),
        Timeout = (int)value("health_check_timeout"),
        User = (string)value("health_check_user"),
        Password = (string)value("health_check_password"),
        Database = (string)value("health_check_database"),
        MaxRetries = (int)value("health_check_max_retries"),
        RetryDelay = (int)value("health_check_retry_delay"),
    };

    private static void ValidateAcrossKeys(LoadContext load, List<BackendOptions> backends)
    {
        var functionLists = new[] { "write_function_list", "read_only_function_list" }
            .Select(name => load.Global.GetValueOrDefault(name)).OfType<ConfigEntry>().Where(entry => entry.Value.Trim().Length > 0).ToList();
        if (functionLists.Count == 2)
        {
            load.Errors.Add(ConfigMessage.At(functionLists[1], "read_only_function_list and write_function_list cannot both be set (as in pgpool-II): set one of them"));
        }

        foreach (var entry in functionLists)
        {
            if (FunctionPatterns.FindInvalid(entry.Value) is { } invalid)
            {
                load.Errors.Add(ConfigMessage.At(entry, $"\"{invalid.Pattern}\" is not a valid regular expression: {invalid.Reason}"));
            }
        }

        var recoveryEntry = new[] { "recovery_1st_stage_command", "recovery_2nd_stage_command" }
            .Select(name => load.Global.GetValueOrDefault(name))
            .FirstOrDefault(entry => entry is { Value.Length: > 0 });
        var withoutDataDirectory = backends.Where(b => b.DataDirectory.Length == 0).Select(b => $"backend_data_directory{b.Id}").ToList();
        if (recoveryEntry is not null && withoutDataDirectory.Count > 0)
        {
            load.Errors.Add(ConfigMessage.At(recoveryEntry,
                $"online recovery ({recoveryEntry.Key}) needs backend_data_directory for every node; missing: {string.Join(", ", withoutDataDirectory)}"));
        }

        if (load.Global.GetValueOrDefault("ssl") is { } sslEntry && load.Bool("ssl")
            && (load.Text("ssl_cert").Length == 0 || load.Text("ssl_key").Length == 0))
        {
            load.Errors.Add(ConfigMessage.At(sslEntry, "ssl = on needs ssl_cert and ssl_key"));
        }

        ValidateBackendTls(load, backends);

        if (backends.Count > 0 && backends.All(b => b.Weight == 0) && load.Bool("load_balance_mode"))
        {
            load.Warnings.Add(new ConfigMessage(load.MainSource, 0, null,
                "load_balance_mode is on but every backend_weight is 0, so there is nothing to balance by; set backend_weightN for the nodes that should take reads"));
        }
    }

    /// <summary>
    /// Per node: verify-ca and verify-full need backend_sslrootcert (libpq would fall back to
    /// ~/.postgresql/root.crt; we ask for the file), and backend_sslcert and backend_sslkey come
    /// together. The files themselves are read at start (BackendTls.Load).
    /// </summary>
    private static void ValidateBackendTls(LoadContext load, List<BackendOptions> backends)
    {
        var reported = new HashSet<string>(StringComparer.Ordinal);
        void Error(string name, int id, string text)
        {
            // A global key shared by several nodes is reported once.
            var (entry, key) = load.Origin(name, id);
            if (reported.Add(key))
            {
                load.Errors.Add(new ConfigMessage(entry?.Source ?? load.MainSource, entry?.Line ?? 0, key, text.Replace("{key}", key, StringComparison.Ordinal)));
            }
        }

        foreach (var backend in backends)
        {
            var tls = backend.Tls;
            if (tls.Mode is "verify-ca" or "verify-full" && tls.RootCert.Length == 0)
            {
                Error("backend_sslmode", backend.Id, $"{{key}} = '{tls.Mode}' needs backend_sslrootcert: the CA certificates (PEM) that signed the node's certificate, or 'system'");
            }

            if (tls.Cert.Length > 0 && tls.Key.Length == 0)
            {
                Error("backend_sslcert", backend.Id, "{key} needs backend_sslkey (the certificate's private key) too");
            }
            else if (tls.Key.Length > 0 && tls.Cert.Length == 0)
            {
                Error("backend_sslkey", backend.Id, "{key} needs backend_sslcert (the client certificate) too");
            }
        }
    }

    private static PgPoolOptions Create(
        LoadContext load, List<BackendOptions> backends, IReadOnlyList<EffectiveSetting> effective) => new()
    {
        ListenAddresses = load.Text("listen_addresses"),
        Port = load.Int("port"),
        SocketDir = load.Text("socket_dir"),
        PcpListenAddresses = load.Text("pcp_listen_addresses"),
        PcpPort = load.Int("pcp_port"),
        PcpSocketDir = load.Text("pcp_socket_dir"),
        Backends = [.. backends],
        ReplicationMode = true, // CheckMode rejected every other mode
        LoadBalanceMode = load.Bool("load_balance_mode"),
        StatementLevelLoadBalance = load.Bool("statement_level_load_balance"),
        ReplicateSelect = load.Bool("replicate_select"),
        WriteFunctionList = load.Text("write_function_list"),
        ReadOnlyFunctionList = load.Text("read_only_function_list"),
        InsertLock = load.Bool("insert_lock"),
        ReplicationStopOnMismatch = load.Bool("replication_stop_on_mismatch"),
        FailoverIfAffectedTuplesMismatch = load.Bool("failover_if_affected_tuples_mismatch"),
        NumInitChildren = load.Int("num_init_children"),
        MaxPool = load.Int("max_pool"),
        ChildLifeTime = load.Int("child_life_time"),
        ChildMaxConnections = load.Int("child_max_connections"),
        ConnectionLifeTime = load.Int("connection_life_time"),
        ClientIdleLimit = load.Int("client_idle_limit"),
        ReservedConnections = load.Int("reserved_connections"),
        ConnectionCache = load.Bool("connection_cache"),
        ResetQueryList = load.Text("reset_query_list"),
        AuthenticationTimeout = load.Int("authentication_timeout"),
        LogStatement = load.Bool("log_statement"),
        LogPerNodeStatement = load.Bool("log_per_node_statement"),
        LogConnections = load.Bool("log_connections"),
        LogDisconnections = load.Bool("log_disconnections"),
        LogHostname = load.Bool("log_hostname"),
        LogMinMessages = load.Text("log_min_messages"),
        ClientMinMessages = load.Text("client_min_messages"),
        LogLinePrefix = load.Text("log_line_prefix"),
        Logdir = load.Text("logdir"),
        PidFileName = load.Text("pid_file_name"),
        HealthCheck = ReadHealthCheck(load.Value),
        BackendTls = ReadBackendTls(load.Value),
        ConnectTimeout = load.Int("connect_timeout"),
        FailoverCommand = load.Text("failover_command"),
        FailbackCommand = load.Text("failback_command"),
        FailoverOnBackendError = load.Bool("failover_on_backend_error"),
        RecoveryUser = load.Text("recovery_user"),
        RecoveryPassword = load.Text("recovery_password"),
        Recovery1stStageCommand = load.Text("recovery_1st_stage_command"),
        Recovery2ndStageCommand = load.Text("recovery_2nd_stage_command"),
        RecoveryTimeout = load.Int("recovery_timeout"),
        ClientIdleLimitInRecovery = load.Int("client_idle_limit_in_recovery"),
        Ssl = load.Bool("ssl"),
        SslKey = load.Text("ssl_key"),
        SslCert = load.Text("ssl_cert"),
        SslCaCert = load.Text("ssl_ca_cert"),
        SslCiphers = load.Text("ssl_ciphers"),
        SslMinProtocolVersion = load.Text("ssl_min_protocol_version"),
        EnablePoolHba = load.Bool("enable_pool_hba"),
        PoolPasswd = load.Text("pool_passwd"),
        AllowClearTextFrontendAuth = load.Bool("allow_clear_text_frontend_auth"),
        PoolKeyFile = load.Text("pool_key_file"),
        HangfireConnectionString = load.Text("hangfire_connection_string"),
        RecoveryRemoteCommand = load.Text("recovery_remote_command"),
        RecoveryPauseTimeoutAction = load.Text("recovery_pause_timeout_action"),
        ReplicaStatementTimeout = load.Int("replica_statement_timeout"),
        AllowNondeterministicWrites = load.Bool("allow_nondeterministic_writes"),
        ControlPlaneApiToken = load.Text("control_plane_api_token"),
        ControlPlaneAnonymousHealth = load.Bool("control_plane_anonymous_health"),
        ControlPlaneAnonymousMetrics = load.Bool("control_plane_anonymous_metrics"),
        ControlPlaneMaxFailedLogins = load.Int("control_plane_max_failed_logins"),
        Effective = effective,
    };

    /// <summary>Every global setting, then every per-node setting of each backend, with value and origin.</summary>
    private static List<EffectiveSetting> Effective(LoadContext load, PgPoolOptions options)
    {
        var effective = new List<EffectiveSetting>();
        foreach (var definition in PgPoolSettings.All)
        {
            if (definition.OptionsValue is { } value)
            {
                var entry = load.Global.GetValueOrDefault(definition.Name);
                effective.Add(Describe(definition, definition.Name, value(options), entry));
            }
        }

        foreach (var backend in options.Backends)
        {
            foreach (var definition in PgPoolSettings.All)
            {
                if (definition.NodeValue is { } value)
                {
                    var entry = load.Nodes[backend.Id].GetValueOrDefault(definition.Name)
                                ?? load.Global.GetValueOrDefault(definition.Name);
                    effective.Add(Describe(definition, definition.Name + backend.Id, value(backend), entry));
                }
            }
        }

        return effective;
    }

    private static EffectiveSetting Describe(SettingDefinition definition, string name, object value, ConfigEntry? entry) =>
        new(name, definition.Display(value), entry?.Location ?? "default", definition.IsSecret, entry is null,
            definition.NeedsRestart, definition.Description);

    private static ConfigMessage InvalidValue(ConfigEntry entry, string allowed) =>
        ConfigMessage.At(entry, $"invalid value for parameter \"{entry.Key}\": \"{entry.Value}\" ({allowed})");

    /// <summary>The entries sorted by what they refer to, the messages so far, and typed values.</summary>
    private sealed class LoadContext
    {
        private readonly Dictionary<string, object> _values = new(StringComparer.Ordinal);
        private readonly List<string> _sources = [];

        public LoadContext(IReadOnlyList<ConfigEntry> entries)
        {
            foreach (var entry in entries)
            {
                if (!_sources.Contains(entry.Source))
                {
                    _sources.Add(entry.Source);
                }

                Classify(entry with { Key = entry.Key.ToLowerInvariant() });
            }

            MainSource = entries.Count > 0 ? entries[^1].Source : "";
        }

        public List<ConfigMessage> Errors { get; } = [];

        public List<ConfigMessage> Warnings { get; } = [];

        public List<ConfigMessage> Notes { get; } = [];

        /// <summary>Setting name → the entry that wins.</summary>
        public Dictionary<string, ConfigEntry> Global { get; } = new(StringComparer.Ordinal);

        /// <summary>Node id → setting name (without the number) → the entry that wins.</summary>
        public SortedDictionary<int, Dictionary<string, ConfigEntry>> Nodes { get; } = [];

        /// <summary>Ignored key → the entry that wins, in the order first seen.</summary>
        public Dictionary<string, ConfigEntry> Ignored { get; } = new(StringComparer.Ordinal);

        /// <summary>The last source read (pgpool.conf when there is one): where messages without a line point.</summary>
        public string MainSource { get; }

        public string Text(string name) => (string)Value(name);

        public int Int(string name) => (int)Value(name);

        public bool Bool(string name) => (bool)Value(name);

        public object Value(string name) => Value(PgPoolSettings.Get(name));

        /// <summary>The value of a global setting; its default when unset or invalid (the error is recorded once).</summary>
        public object Value(SettingDefinition definition)
        {
            if (!_values.TryGetValue(definition.Name, out var value))
            {
                value = Parse(definition, Global.GetValueOrDefault(definition.Name));
                _values.Add(definition.Name, value);
            }

            return value;
        }

        /// <summary>A node's own value, else (for health checks) the global one, else the default.</summary>
        public object NodeValue(string name, int id)
        {
            var definition = PgPoolSettings.Get(name);
            return Nodes[id].TryGetValue(name, out var entry) ? Parse(definition, entry)
                : definition.Scope == SettingScope.GlobalAndPerNode ? Value(definition)
                : Parse(definition, null);
        }

        /// <summary>Where a node's value of a global-and-per-node setting comes from: its own entry (nameN), else the global one.</summary>
        public (ConfigEntry? Entry, string Key) Origin(string name, int id) =>
            Nodes.TryGetValue(id, out var settings) && settings.TryGetValue(name, out var own) ? (own, name + id)
            : (Global.GetValueOrDefault(name), name);

        public void NoteIgnored()
        {
            if (Ignored.Count > 0)
            {
                Notes.Add(new ConfigMessage("", 0, null,
                    $"pgpool-II parameters accepted but not used by PgPoolConsole (watchdog, query cache, other clustering modes and the like): {string.Join(", ", Ignored.Keys)}"));
            }
        }

        public List<ConfigMessage> SortedErrors() =>
        [
            .. Errors.OrderBy(e => _sources.IndexOf(e.Source) is var i and >= 0 ? i : int.MaxValue)
                .ThenBy(e => e.Line == 0 ? int.MaxValue : e.Line),
        ];

        private object Parse(SettingDefinition definition, ConfigEntry? entry)
        {
            if (entry is not null)
            {
                if (definition.TryParse(entry.Value, out var value))
                {
                    return value;
                }

                Errors.Add(InvalidValue(entry, "allowed: " + definition.AllowedText));
            }

            return definition.TryParse(definition.Default, out var fallback)
                ? fallback
                : throw new InvalidOperationException($"The default of {definition.Name} is not valid: {definition.Default}");
        }

        private void Classify(ConfigEntry entry)
        {
            var key = PgPoolSettings.Classify(entry.Key);
            switch (key.Kind)
            {
                case KeyKind.Global:
                    Remember(Global, key.Definition!.Name, entry);
                    break;
                case KeyKind.PerNode:
                    if (!Nodes.TryGetValue(key.NodeId, out var settings))
                    {
                        Nodes.Add(key.NodeId, settings = new Dictionary<string, ConfigEntry>(StringComparer.Ordinal));
                    }

                    Remember(settings, key.Definition!.Name, entry);
                    break;
                case KeyKind.Ignored:
                    Ignored[entry.Key] = entry;
                    break;
                case KeyKind.NodeIdMissing:
                    Errors.Add(ConfigMessage.At(entry,
                        $"parameter \"{entry.Key}\" needs a backend node number, e.g. \"{entry.Key}0\""));
                    break;
                case KeyKind.NodeIdOutOfRange:
                    Errors.Add(ConfigMessage.At(entry,
                        $"invalid backend node number in parameter \"{entry.Key}\" (allowed: 0 to {PgPoolSettings.MaxNodeId})"));
                    break;
                case KeyKind.NodeNotSupported:
                    Warnings.Add(ConfigMessage.At(entry,
                        $"per-node parameter \"{entry.Key}\" is not supported (ignored); {key.Definition!.Name} applies to every node"));
                    break;
                default:
                    var suggestion = PgPoolSettings.Suggest(entry.Key);
                    Warnings.Add(ConfigMessage.At(entry, $"unknown configuration parameter \"{entry.Key}\" (ignored)"
                        + (suggestion is null ? "" : $"; did you mean \"{suggestion}\"?")));
                    break;
            }
        }

        private void Remember(Dictionary<string, ConfigEntry> settings, string name, ConfigEntry entry)
        {
            if (settings.TryGetValue(name, out var previous))
            {
                Notes.Add(ConfigMessage.At(entry, previous.Source == entry.Source
                    ? $"parameter \"{entry.Key}\" is also set at line {previous.Line}; the last value wins"
                    : $"parameter \"{entry.Key}\" overrides the value from {previous.Location}"));
            }

            settings[name] = entry;
        }
    }
}
