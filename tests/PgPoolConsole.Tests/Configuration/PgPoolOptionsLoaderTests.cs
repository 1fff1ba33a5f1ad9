using System.Text;
using Microsoft.Extensions.Configuration;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Tests.Configuration;

public class PgPoolOptionsLoaderTests
{
    private const string OneNode = "backend_hostname0 = 'db0'\nbackend_weight0 = 1\n";

    private static ConfigLoadResult Load(string pgpoolConf) =>
        PgPoolOptionsLoader.Load(PgPoolConfigFile.Parse(pgpoolConf, "pgpool.conf"));

    private static string LoadError(string pgpoolConf) =>
        Assert.Throws<ConfigException>(() => Load(pgpoolConf)).Message;

    private static ConfigMessage SingleWarning(string pgpoolConf) => Assert.Single(Load(pgpoolConf).Warnings);

    [Fact]
    public void Load_SeedTutorialConfig_GivesTwoReplicatedNodesWithItsCommands()
    {
        var result = Load(ConfigSamples.SeedFixed);
        var options = result.Options;

        Assert.Empty(result.Warnings);
        Assert.Empty(result.Notes);
        Assert.True(options.ReplicationMode);
        Assert.Equal("*", options.ListenAddresses);
        Assert.Equal(
            [(0, "node01", 5432, 1.0, "/opt/postgres/data"), (1, "node02", 5432, 1.0, "/opt/postgres/data")],
            options.Backends.Select(b => (b.Id, b.Hostname, b.Port, b.Weight, b.DataDirectory)));
        Assert.Equal(30, options.HealthCheck.Period);
        Assert.All(options.Backends, b => Assert.Equal(30, b.HealthCheck.Period));
        Assert.Equal("echo host:%h, new master id:%m, old master id:%M > /opt/pgpoolII/log/failover.log", options.FailoverCommand);
        Assert.Equal("echo host:%h, new master id:%m, old master id:%M > /opt/pgpoolII/log/failback.log", options.FailbackCommand);
        Assert.Equal("postgres", options.RecoveryUser);
        Assert.Equal("copy_base_backup", options.Recovery1stStageCommand);
        Assert.Equal("pgpool_recovery_pitr", options.Recovery2ndStageCommand);
    }

    [Fact]
    public void Load_PgPool43ConfigWithManyUnusedKeys_WarnsAboutNothingAndNotesTheIgnoredKeysOnce()
    {
        var result = Load(ConfigSamples.PgPool43);

        Assert.Empty(result.Warnings);
        var note = Assert.Single(result.Notes).ToString();
        Assert.StartsWith("pgpool-II parameters accepted but not used by PgPoolConsole", note, StringComparison.Ordinal);
        foreach (var key in new[] { "serialize_accept", "use_watchdog", "sr_check_period", "memory_cache_enabled", "heartbeat_hostname0", "wd_port0", "log_destination", "failover_when_quorum_exists" })
        {
            Assert.Contains(key, note, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Load_PgPool43Config_ReadsItsValues()
    {
        var options = Load(ConfigSamples.PgPool43).Options;

        Assert.True(options.ReplicationMode);
        Assert.Equal("/var/run/postgresql", options.SocketDir);
        Assert.Equal(64, options.NumInitChildren);
        Assert.Equal(2, options.MaxPool);
        Assert.Equal(300, options.ChildLifeTime); // 5min
        Assert.Equal(60, options.AuthenticationTimeout); // 1min
        Assert.True(options.EnablePoolHba);
        Assert.True(options.LogConnections);
        Assert.True(options.LogPerNodeStatement);
        Assert.Equal("info", options.LogMinMessages);
        Assert.Equal("/var/log/pgpool", options.Logdir);
        Assert.Equal("ABORT; DISCARD ALL", options.ResetQueryList);
        Assert.Equal("/etc/pgpool-II/failover.sh %d %h %p %D %m %H %M %P %r %R %N %S", options.FailoverCommand);
        Assert.Equal("rec-secret", options.RecoveryPassword);
        Assert.Equal(
            [(0, "db0.example.net", 5432, 1.0, true, "db0"), (1, "db1.example.net", 5432, 1.0, true, "db1"), (2, "10.0.0.12", 5433, 0.5, false, "db2")],
            options.Backends.Select(b => (b.Id, b.Hostname, b.Port, b.Weight, b.AllowToFailover, b.ApplicationName)));
    }

    [Fact]
    public void Load_PerNodeHealthCheckKeys_OverrideTheGlobalOnesForThatNodeOnly()
    {
        var options = Load(ConfigSamples.PgPool43).Options;

        var expectedGlobal = new HealthCheckOptions
        {
            Period = 10, Timeout = 20, User = "pgpool", Password = "hc-secret", Database = "", MaxRetries = 3, RetryDelay = 1,
        };
        Assert.Equal(expectedGlobal, options.HealthCheck);
        Assert.Equal(expectedGlobal, options.Backends[0].HealthCheck);
        Assert.Equal(expectedGlobal, options.Backends[1].HealthCheck);
        Assert.Equal(expectedGlobal with { Period = 5, Timeout = 5, User = "pgpool_remote" }, options.Backends[2].HealthCheck);
    }

    [Fact]
    public void Load_PerNodeHealthCheckWithoutGlobal_UsesTheDefaultsForOtherNodes()
    {
        var options = Load(OneNode + "backend_hostname1 = 'db1'\nbackend_weight1 = 1\nhealth_check_period1 = 15\nhealth_check_password1 = 'pw1'\n").Options;

        Assert.Equal(new HealthCheckOptions(), options.Backends[0].HealthCheck);
        Assert.Equal(new HealthCheckOptions { Period = 15, Password = "pw1" }, options.Backends[1].HealthCheck);
    }

    [Fact]
    public void Load_BackendSlotsWithGaps_KeepsTheirIdsInOrder()
    {
        var options = Load("backend_hostname7 = 'c'\nbackend_hostname2 = 'b'\nbackend_hostname0 = 'a'\nbackend_weight0 = 1\n").Options;

        Assert.Equal([(0, "a"), (2, "b"), (7, "c")], options.Backends.Select(b => (b.Id, b.Hostname)));
    }

    [Fact]
    public void Load_NothingButOneBackend_UsesPgPool43CompiledDefaults()
    {
        var options = Load("backend_hostname0 = 'db0'\n").Options;

        // pgpool-II 4.3 compiled-in values that differ from its sample file or from older versions
        Assert.True(options.LoadBalanceMode);
        Assert.True(options.InsertLock);
        Assert.Equal(60, options.AuthenticationTimeout);
        Assert.Equal("%m: %a pid %p: ", options.LogLinePrefix);
        Assert.Equal("localhost", options.PcpListenAddresses);
        Assert.Equal("ABORT;DISCARD ALL", options.ResetQueryList);
        Assert.Equal("", options.RecoveryUser);
        Assert.Equal("postgres", options.HealthCheck.Database);
        Assert.Equal(1, options.Backends[0].Weight); // ours: pgpool's compiled 0 would leave nothing to balance by
        Assert.Equal(5432, options.Backends[0].Port);
        Assert.True(options.Backends[0].AllowToFailover);
        Assert.Equal("/tmp", options.SocketDir);
        // ours
        Assert.Equal("127.0.0.1", options.ListenAddresses);
        Assert.Equal("TLSv1.2", options.SslMinProtocolVersion);
    }

    [Fact]
    public void Load_NoModeKey_UsesNativeReplicationAndSaysSo()
    {
        var result = Load(OneNode);

        Assert.True(result.Options.ReplicationMode);
        Assert.Equal("neither backend_clustering_mode nor replication_mode is set; using native replication",
            Assert.Single(result.Notes).ToString());
    }

    [Theory]
    [InlineData("replication_mode = on")]
    [InlineData("replication_mode = true")]
    [InlineData("backend_clustering_mode = 'native_replication'")]
    [InlineData("backend_clustering_mode = NATIVE_REPLICATION")]
    [InlineData("backend_clustering_mode = 'native_replication'\nreplication_mode = on")]
    [InlineData("replication_mode = on\nmaster_slave_mode = off")]
    public void Load_NativeReplicationSpellings_AreAccepted(string modeLines)
    {
        var result = Load(modeLines + "\n" + OneNode);

        Assert.True(result.Options.ReplicationMode);
        Assert.Empty(result.Warnings);
    }

    [Theory]
    [InlineData("streaming_replication")]
    [InlineData("logical_replication")]
    [InlineData("slony")]
    [InlineData("snapshot_isolation")]
    [InlineData("raw")]
    public void Load_OtherClusteringMode_IsRejected(string mode)
    {
        Assert.Equal(
            $"pgpool.conf:1: invalid value for parameter \"backend_clustering_mode\": \"{mode}\" (only native_replication is supported)",
            LoadError($"backend_clustering_mode = '{mode}'\n" + OneNode));
    }

    [Fact]
    public void Load_ReplicationModeOff_IsRejected()
    {
        Assert.Equal(
            "pgpool.conf:1: invalid value for parameter \"replication_mode\": \"off\" (only native_replication is supported; replication_mode must be on)",
            LoadError("replication_mode = off\n" + OneNode));
    }

    [Fact]
    public void Load_MasterSlaveModeOn_IsRejected()
    {
        Assert.Equal(
            "pgpool.conf:2: invalid value for parameter \"master_slave_mode\": \"on\" (only native_replication is supported; master/slave mode is not)",
            LoadError("replication_mode = off\nmaster_slave_mode = on\n" + OneNode).Split('\n')[1]);
    }

    [Theory]
    [InlineData("port = 99999", "\"port\": \"99999\" (allowed: an integer from 1 to 65535)")]
    [InlineData("port = 0", "\"port\": \"0\" (allowed: an integer from 1 to 65535)")]
    [InlineData("port = 5432.5", "\"port\": \"5432.5\" (allowed: an integer from 1 to 65535)")]
    [InlineData("port = 10s", "\"port\": \"10s\" (allowed: an integer from 1 to 65535)")]
    [InlineData("load_balance_mode = maybe", "\"load_balance_mode\": \"maybe\" (allowed: on, off, true, false, yes, no, 1, 0)")]
    [InlineData("num_init_children = 0", "\"num_init_children\": \"0\" (allowed: an integer from 1 to 2147483647)")]
    [InlineData("max_pool = 0", "\"max_pool\": \"0\" (allowed: an integer from 1 to 2147483647)")]
    [InlineData("health_check_timeout = -1", "\"health_check_timeout\": \"-1\" (allowed: an integer from 0 to 2147483647, in seconds unless a unit is given (us, ms, s, min, h, d))")]
    [InlineData("health_check_period = '10 minutes'", "\"health_check_period\": \"10 minutes\" (allowed: an integer from 0 to 2147483647, in seconds unless a unit is given (us, ms, s, min, h, d))")]
    [InlineData("connect_timeout = 3x", "\"connect_timeout\": \"3x\" (allowed: an integer from 0 to 2147483647, in milliseconds unless a unit is given (us, ms, s, min, h, d))")]
    [InlineData("client_idle_limit_in_recovery = -2", "\"client_idle_limit_in_recovery\": \"-2\" (allowed: an integer from -1 to 2147483647, in seconds unless a unit is given (us, ms, s, min, h, d))")]
    [InlineData("log_min_messages = verbose", "\"log_min_messages\": \"verbose\" (allowed: debug5, debug4, debug3, debug2, debug1, info, notice, warning, error, log, fatal, panic)")]
    [InlineData("ssl_min_protocol_version = 'SSLv3'", "\"ssl_min_protocol_version\": \"SSLv3\" (allowed: TLSv1, TLSv1.1, TLSv1.2, TLSv1.3)")]
    [InlineData("backend_clustering_mode = 'mirror'", "\"backend_clustering_mode\": \"mirror\" (allowed: streaming_replication, native_replication, logical_replication, slony, raw, snapshot_isolation)")]
    [InlineData("backend_port0 = 70000", "\"backend_port0\": \"70000\" (allowed: an integer from 1 to 65535)")]
    [InlineData("backend_weight0 = -1", "\"backend_weight0\": \"-1\" (allowed: a number from 0 to 100000000)")]
    [InlineData("backend_weight0 = heavy", "\"backend_weight0\": \"heavy\" (allowed: a number from 0 to 100000000)")]
    [InlineData("backend_flag0 = 'ALLOW_TO_FAILOVER|NEVER'", "\"backend_flag0\": \"ALLOW_TO_FAILOVER|NEVER\" (allowed: ALLOW_TO_FAILOVER, DISALLOW_TO_FAILOVER, ALWAYS_PRIMARY, ALWAYS_MASTER, separated by |)")]
    [InlineData("backend_flag0 = 'ALLOW_TO_FAILOVER|DISALLOW_TO_FAILOVER'", "\"backend_flag0\": \"ALLOW_TO_FAILOVER|DISALLOW_TO_FAILOVER\" (ALLOW_TO_FAILOVER and DISALLOW_TO_FAILOVER cannot both be set)")]
    [InlineData("backend_hostname0 = ''", "\"backend_hostname0\": \"\" (allowed: a TCP host name or IP address, or a Unix-domain socket directory starting with /)")]
    public void Load_InvalidValue_NamesSourceLineKeyValueAndWhatIsAllowed(string line, string message)
    {
        Assert.Equal($"pgpool.conf:3: invalid value for parameter {message}", LoadError(OneNode + line + "\n"));
    }

    [Fact]
    public void Load_UnixSocketDirectoryAsHostname_IsANodeReachedThroughItsSocket()
    {
        var options = Load("backend_hostname0 = '/var/run/postgresql'\nbackend_port0 = 5433\nbackend_hostname1 = 'db1'\n").Options;

        Assert.Equal("/var/run/postgresql", options.Backends[0].Hostname);
        var endpoint = new PgPoolConsole.Proxy.Backends.BackendEndpoint(0, options.Backends[0].Hostname, options.Backends[0].Port);
        Assert.Equal("/var/run/postgresql/.s.PGSQL.5433", endpoint.ToString());
        Assert.Equal("db1", options.Backends[1].Hostname);
    }

    [Fact]
    public void Load_PortOutOfRangeOnLine7_MatchesTheDocumentedMessage()
    {
        var conf = "replication_mode = on\n\n# connections\nlisten_addresses = '*'\n\n\nport = 99999\n" + OneNode;

        Assert.Equal("pgpool.conf:7: invalid value for parameter \"port\": \"99999\" (allowed: an integer from 1 to 65535)", LoadError(conf));
    }

    [Fact]
    public void Load_SeveralProblems_ReportsEveryOneInFileOrder()
    {
        var conf = "max_pool = many\nbackend_port1 = 5433\nbackend_hostname0 = 'db0'\nport = -1\nbackend_port0 = 70000\n";

        var error = Assert.Throws<ConfigException>(() => Load(conf));

        Assert.Equal(
            [
                "pgpool.conf:1: invalid value for parameter \"max_pool\": \"many\" (allowed: an integer from 1 to 2147483647)",
                "pgpool.conf:2: backend node 1 has \"backend_port1\" but no backend_hostname1",
                "pgpool.conf:4: invalid value for parameter \"port\": \"-1\" (allowed: an integer from 1 to 65535)",
                "pgpool.conf:5: invalid value for parameter \"backend_port0\": \"70000\" (allowed: an integer from 1 to 65535)",
            ],
            error.Errors.Select(e => e.ToString()));
        Assert.Equal(string.Join('\n', error.Errors), error.Message);
    }

    [Fact]
    public void Load_NoBackend_IsAnError()
    {
        Assert.Equal(
            "pgpool.conf: no backend node is configured; set backend_hostname0 and backend_port0 (and so on for more nodes)",
            LoadError("replication_mode = on\nhealth_check_period = 10\n"));
    }

    [Fact]
    public void Load_NoEntriesAtAll_IsAnErrorWithoutSource()
    {
        var error = Assert.Throws<ConfigException>(() => PgPoolOptionsLoader.Load([]));

        Assert.Equal("no backend node is configured; set backend_hostname0 and backend_port0 (and so on for more nodes)", error.Message);
    }

    [Fact]
    public void Load_BackendWithoutHostname_IsAnError()
    {
        Assert.Equal(
            "pgpool.conf:3: backend node 1 has \"backend_port1\" but no backend_hostname1",
            LoadError(OneNode + "backend_port1 = 5433\nbackend_weight1 = 1\n"));
    }

    [Fact]
    public void Load_TwoBackendsWithTheSameHostAndPort_IsAnError()
    {
        Assert.Equal(
            "pgpool.conf:3: backend node 1 (DB0:5432) has the same host and port as backend node 0 (pgpool.conf:1)",
            LoadError(OneNode + "backend_hostname1 = 'DB0'\nbackend_weight1 = 1\n"));
    }

    [Fact]
    public void Load_SameHostOnOtherPort_IsFine()
    {
        var options = Load(OneNode + "backend_hostname1 = 'db0'\nbackend_port1 = 5433\nbackend_weight1 = 1\n").Options;

        Assert.Equal([5432, 5433], options.Backends.Select(b => b.Port));
    }

    [Fact]
    public void Load_NodeNumberAbove127_IsAnError()
    {
        Assert.Equal(
            "pgpool.conf:3: invalid backend node number in parameter \"backend_hostname128\" (allowed: 0 to 127)",
            LoadError(OneNode + "backend_hostname128 = 'db'\n"));
    }

    [Fact]
    public void Load_PerNodeKeyWithoutNodeNumber_IsAnError()
    {
        Assert.Equal(
            "pgpool.conf:3: parameter \"backend_port\" needs a backend node number, e.g. \"backend_port0\"",
            LoadError(OneNode + "backend_port = 5432\n"));
    }

    [Fact]
    public void Load_RecoveryCommandButNoDataDirectory_IsAnError()
    {
        Assert.Equal(
            "pgpool.conf:5: online recovery (recovery_1st_stage_command) needs backend_data_directory for every node; missing: backend_data_directory1",
            LoadError(OneNode + "backend_data_directory0 = '/data'\nbackend_hostname1 = 'db1'\nrecovery_1st_stage_command = 'copy_base_backup'\n"));
    }

    [Fact]
    public void Load_SslWithoutCertificate_IsAnError()
    {
        Assert.Equal("pgpool.conf:3: ssl = on needs ssl_cert and ssl_key", LoadError(OneNode + "ssl = on\nssl_key = 'server.key'\n"));
    }

    [Fact]
    public void Load_TimeUnits_AreConvertedToTheSettingsUnit()
    {
        var options = Load(OneNode + "health_check_period = 2min\nhealth_check_timeout = 1500ms\nconnect_timeout = 3s\nchild_life_time = 1.5h\nrecovery_timeout = 1d\n").Options;

        Assert.Equal(120, options.HealthCheck.Period);
        Assert.Equal(2, options.HealthCheck.Timeout); // 1.5 s rounds to even
        Assert.Equal(3000, options.ConnectTimeout);
        Assert.Equal(5400, options.ChildLifeTime);
        Assert.Equal(86400, options.RecoveryTimeout);
    }

    [Theory]
    [InlineData("on", true)]
    [InlineData("OFF", false)]
    [InlineData("True", true)]
    [InlineData("false", false)]
    [InlineData("yes", true)]
    [InlineData("no", false)]
    [InlineData("1", true)]
    [InlineData("0", false)]
    public void Load_BooleanWords_AreUnderstood(string word, bool expected)
    {
        Assert.Equal(expected, Load(OneNode + $"log_statement = {word}\n").Options.LogStatement);
    }

    [Theory]
    [InlineData("ALLOW_TO_FAILOVER", true)]
    [InlineData("DISALLOW_TO_FAILOVER", false)]
    [InlineData("disallow_to_failover", false)]
    [InlineData("ALWAYS_PRIMARY", true)]
    [InlineData("DISALLOW_TO_FAILOVER|ALWAYS_PRIMARY", false)]
    [InlineData("ALLOW_TO_FAILOVER | ALWAYS_MASTER", true)]
    [InlineData("", true)]
    public void Load_BackendFlag_SetsAllowToFailover(string flag, bool allow)
    {
        Assert.Equal(allow, Load(OneNode + $"backend_flag0 = '{flag}'\n").Options.Backends[0].AllowToFailover);
    }

    [Fact]
    public void Load_OldFailoverOnBackendErrorSpelling_IsAccepted()
    {
        var result = Load(OneNode + "fail_over_on_backend_error = off\n");

        Assert.False(result.Options.FailoverOnBackendError);
        Assert.Empty(result.Warnings);
    }

    [Theory]
    [InlineData("write_function_list = 'nextval,setval,audit_.*'", "nextval,setval,audit_.*", "")]
    [InlineData("black_function_list = 'currval,lastval,nextval,setval'", "currval,lastval,nextval,setval", "")] // pgpool-II 3.x
    [InlineData("read_only_function_list = 'get_.*'", "", "get_.*")]
    [InlineData("white_function_list = 'report_.*'", "", "report_.*")]
    public void Load_FunctionLists_AndTheirOldNames(string line, string write, string readOnly)
    {
        var result = Load(OneNode + line + "\n");

        Assert.Equal((write, readOnly), (result.Options.WriteFunctionList, result.Options.ReadOnlyFunctionList));
        Assert.Empty(result.Warnings);
    }

    [Fact]
    public void Load_BothFunctionLists_IsAnError_AsInPgpool()
    {
        var error = LoadError(OneNode + "write_function_list = 'nextval'\nread_only_function_list = 'get_.*'\n");

        Assert.Contains("read_only_function_list and write_function_list cannot both be set", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_FunctionListWithAnInvalidRegularExpression_NamesIt()
    {
        var error = LoadError(OneNode + "write_function_list = 'nextval,audit_(.*'\n");

        Assert.Contains("\"audit_(.*\" is not a valid regular expression", error, StringComparison.Ordinal);
        Assert.Contains("pgpool.conf", error, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_MisspelledKey_WarnsWithLineAndSuggestion()
    {
        var conf = OneNode + string.Concat(Enumerable.Repeat("\n", 37)) + "heatlh_check_period = 10\n";

        Assert.Equal(
            "pgpool.conf:40: unknown configuration parameter \"heatlh_check_period\" (ignored); did you mean \"health_check_period\"?",
            SingleWarning(conf).ToString());
    }

    [Theory]
    [InlineData("backend_hostnmae1 = 'db1'", "\"backend_hostnmae1\" (ignored); did you mean \"backend_hostname1\"?")]
    [InlineData("num_init_child = 4", "\"num_init_child\" (ignored); did you mean \"num_init_children\"?")]
    [InlineData("logdi = '/tmp'", "\"logdi\" (ignored); did you mean \"logdir\"?")]
    [InlineData("fail_over_on_backend_eror = on", "\"fail_over_on_backend_eror\" (ignored); did you mean \"fail_over_on_backend_error\"?")]
    [InlineData("frobnicate = 1", "\"frobnicate\" (ignored)")]
    [InlineData("port0 = 1", "\"port0\" (ignored)")]
    public void Load_UnknownKey_WarnsAndSuggestsOnlyCloseNames(string line, string warning)
    {
        Assert.Equal($"pgpool.conf:3: unknown configuration parameter {warning}", SingleWarning(OneNode + line + "\n").ToString());
    }

    [Fact]
    public void Load_PerNodeConnectTimeout_WarnsThatOnlyTheGlobalOneApplies()
    {
        Assert.Equal(
            "pgpool.conf:3: per-node parameter \"connect_timeout0\" is not supported (ignored); connect_timeout applies to every node",
            SingleWarning(OneNode + "connect_timeout0 = 2000\n").ToString());
    }

    [Fact]
    public void Load_HealthCheckForUnconfiguredNode_Warns()
    {
        Assert.Equal(
            "pgpool.conf:3: \"health_check_period4\" is set for backend node 4, which has no backend_hostname4 (ignored)",
            SingleWarning(OneNode + "health_check_period4 = 5\n").ToString());
    }

    [Fact]
    public void Load_LoadBalancingWithAllWeightsZero_Warns()
    {
        Assert.Equal(
            "pgpool.conf: load_balance_mode is on but every backend_weight is 0, so there is nothing to balance by; set backend_weightN for the nodes that should take reads",
            SingleWarning("backend_hostname0 = 'db0'\nbackend_weight0 = 0\nbackend_hostname1 = 'db1'\nbackend_weight1 = 0\n").ToString());
    }

    [Fact]
    public void Load_AllWeightsZeroWithoutLoadBalancing_DoesNotWarn()
    {
        Assert.Empty(Load("load_balance_mode = off\nbackend_hostname0 = 'db0'\nbackend_weight0 = 0\n").Warnings);
    }

    [Fact]
    public void Load_KeySetTwiceInOneFile_LastWinsWithANote()
    {
        var result = Load(OneNode + "port = 5000\nport = 6000\n");

        Assert.Equal(6000, result.Options.Port);
        Assert.Contains("pgpool.conf:4: parameter \"port\" is also set at line 3; the last value wins",
            result.Notes.Select(n => n.ToString()));
    }

    [Fact]
    public void Load_InvalidValueOverriddenLater_IsNotAnError()
    {
        Assert.Equal(6000, Load(OneNode + "port = huge\nport = 6000\n").Options.Port);
    }

    [Fact]
    public void Load_AppSettingsThenPgPoolConf_FileWinsAndAppSettingsFillsTheRest()
    {
        const string json = """
            {
              "Logging": { "LogLevel": { "Default": "Information" } },
              "PgPool": {
                "port": "5433",
                "num_init_children": 10,
                "load_balance_mode": false,
                "Hangfire_Connection_String": "Host=jobs;Password=secret",
                "backend_hostname0": "from-appsettings"
              }
            }
            """;
        var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
        var appSettings = PgPoolOptionsLoader.FromConfigurationSection(configuration.AsEnumerable(), "appsettings.json");
        var file = PgPoolConfigFile.Parse("port = 9999\nbackend_hostname0 = 'node01'\n", "pgpool.conf");

        var result = PgPoolOptionsLoader.Load([.. appSettings, .. file]);

        var options = result.Options;
        Assert.Equal(9999, options.Port);
        Assert.Equal("node01", options.Backends.Single().Hostname);
        Assert.Equal(10, options.NumInitChildren);
        Assert.False(options.LoadBalanceMode);
        Assert.Equal("Host=jobs;Password=secret", options.HangfireConnectionString);
        Assert.Contains("pgpool.conf:1: parameter \"port\" overrides the value from appsettings.json", result.Notes.Select(n => n.ToString()));
        Assert.Equal("appsettings.json", options.Effective.Single(e => e.Name == "num_init_children").Source);
        Assert.Equal("pgpool.conf:1", options.Effective.Single(e => e.Name == "port").Source);
    }

    [Fact]
    public void FromConfigurationSection_KeepsOnlyValuedPgPoolKeys()
    {
        KeyValuePair<string, string?>[] pairs =
        [
            new("PgPool", null),
            new("PgPool:Port", "5433"),
            new("pgpool:log_statement", "on"),
            new("Logging:LogLevel:Default", "Warning"),
            new("PgPoolX:port", "1"),
        ];

        var entries = PgPoolOptionsLoader.FromConfigurationSection(pairs, "appsettings.json");

        Assert.Equal(
            [new ConfigEntry("port", "5433", "appsettings.json", 0), new ConfigEntry("log_statement", "on", "appsettings.json", 0)],
            entries);
    }

    [Fact]
    public void Load_ErrorInAppSettings_NamesTheSourceWithoutLine()
    {
        var entries = PgPoolOptionsLoader.FromConfigurationSection([new("PgPool:port", "http")], "appsettings.json");

        var error = Assert.Throws<ConfigException>(() => PgPoolOptionsLoader.Load([.. entries, .. PgPoolConfigFile.Parse(OneNode, "pgpool.conf")]));

        Assert.Equal("appsettings.json: invalid value for parameter \"port\": \"http\" (allowed: an integer from 1 to 65535)", error.Message);
    }

    [Fact]
    public void Effective_ListsEveryGlobalSettingAndEveryPerNodeSettingOfEachBackend()
    {
        var options = Load(ConfigSamples.PgPool43).Options;

        var globalNames = PgPoolSettings.All.Where(d => d.Scope != SettingScope.PerNode).Select(d => d.Name);
        var nodeNames = PgPoolSettings.All.Where(d => d.Scope != SettingScope.Global).Select(d => d.Name);
        Assert.Equal(
            [.. globalNames, .. from id in new[] { 0, 1, 2 } from name in nodeNames select name + id],
            options.Effective.Select(e => e.Name));
        Assert.All(options.Effective, e => Assert.False(string.IsNullOrWhiteSpace(e.Description)));
    }

    [Fact]
    public void Effective_ShowsSourceDefaultsAndRestartNeeds()
    {
        var effective = Load(ConfigSamples.PgPool43).Options.Effective.ToDictionary(e => e.Name);

        Assert.Equal(new EffectiveSetting("port", "9999", "pgpool.conf:9", false, false, true, "TCP port the proxy listens on"), effective["port"]);
        Assert.Equal(("60", "pgpool.conf:42", false), (effective["authentication_timeout"].Value, effective["authentication_timeout"].Source, effective["authentication_timeout"].IsDefault));
        Assert.Equal(("", "default", true), (effective["hangfire_connection_string"].Value, effective["hangfire_connection_string"].Source, effective["hangfire_connection_string"].IsDefault));
        Assert.Equal(("off", false), (effective["log_statement"].Value, effective["log_statement"].NeedsRestart));
        Assert.Equal(("db1.example.net", true), (effective["backend_hostname1"].Value, effective["backend_hostname1"].NeedsRestart));
        Assert.Equal(("0.5", false), (effective["backend_weight2"].Value, effective["backend_weight2"].NeedsRestart));
        Assert.Equal("DISALLOW_TO_FAILOVER", effective["backend_flag2"].Value);
    }

    [Fact]
    public void Effective_PerNodeHealthCheck_ComesFromTheNodeKeyOrTheGlobalKey()
    {
        var effective = Load(ConfigSamples.PgPool43).Options.Effective.ToDictionary(e => e.Name);

        Assert.Equal(("5", "pgpool.conf:150", false), (effective["health_check_period2"].Value, effective["health_check_period2"].Source, effective["health_check_period2"].IsDefault));
        Assert.Equal(("10", "pgpool.conf:138", false), (effective["health_check_period1"].Value, effective["health_check_period1"].Source, effective["health_check_period1"].IsDefault));
        Assert.Equal(("1", "pgpool.conf:144", false), (effective["health_check_retry_delay2"].Value, effective["health_check_retry_delay2"].Source, effective["health_check_retry_delay2"].IsDefault));
    }

    [Fact]
    public void Effective_SecretsAreMaskedWhenSetAndMarked()
    {
        var effective = Load(ConfigSamples.PgPool43).Options.Effective.ToDictionary(e => e.Name);

        Assert.Equal(("*****", true), (effective["recovery_password"].Value, effective["recovery_password"].IsSecret));
        Assert.Equal(("*****", true), (effective["health_check_password"].Value, effective["health_check_password"].IsSecret));
        Assert.Equal(("*****", true), (effective["health_check_password0"].Value, effective["health_check_password0"].IsSecret));
        Assert.Equal(("", true), (effective["hangfire_connection_string"].Value, effective["hangfire_connection_string"].IsSecret));
        Assert.DoesNotContain(effective.Values, e => e.Value.Contains("secret", StringComparison.Ordinal));
    }

    [Fact]
    public void Effective_WithNothingSet_EqualsEachDefinitionsDefault()
    {
        var options = Load("backend_hostname0 = 'db0'\n").Options;

        foreach (var definition in PgPoolSettings.All.Where(d => d.Scope != SettingScope.PerNode))
        {
            var setting = options.Effective.Single(e => e.Name == definition.Name);
            Assert.Equal((definition.Name, definition.Default, "default", true), (setting.Name, setting.Value, setting.Source, setting.IsDefault));
        }
    }

    [Fact]
    public void Load_EveryGlobalSettingSetToAnotherValue_EndsUpInTheOptions()
    {
        var values = PgPoolSettings.All
            // read_only_function_list excludes write_function_list (Load_FunctionLists_AndTheirOldNames covers it)
            .Where(d => d.Scope != SettingScope.PerNode && d.Name is not ("backend_clustering_mode" or "replication_mode" or "read_only_function_list"))
            .ToDictionary(d => d.Name, NonDefaultValue);
        var conf = string.Concat(values.Select(v => $"{v.Key} = '{v.Value}'\n")) + "backend_hostname0 = 'db0'\nbackend_data_directory0 = '/data'\n";

        var effective = Load(conf).Options.Effective.ToDictionary(e => e.Name);

        Assert.All(values, v => Assert.Equal(
            (v.Key, effective[v.Key].IsSecret ? "*****" : v.Value, false),
            (v.Key, effective[v.Key].Value, effective[v.Key].IsDefault)));
    }

    private static string NonDefaultValue(SettingDefinition definition) => definition.Type switch
    {
        SettingType.Boolean => definition.Default == "on" ? "off" : "on",
        SettingType.Integer => definition.Default == "7" ? "8" : "7",
        SettingType.Enumeration => definition.AllowedValues.First(v => v != definition.Default),
        _ => "x-" + definition.Name,
    };
}
