namespace PgPoolConsole.Tests.Configuration;

/// <summary>pgpool.conf texts the tests load.</summary>
internal static class ConfigSamples
{
    /// <summary>
    /// The pgpool.conf lines of the seed tutorial (pgpool-II 2.1, replication mode) as printed there,
    /// including its typo on line 3 (<c>node01'</c>). The tutorial's "…" elision lines are left out, and
    /// the failover/failback commands, wrapped over two lines by the tutorial's layout, are one line each.
    /// </summary>
    public const string SeedAsPrinted = """
        listen_addresses ='*'
        replication_mode = true
        backend_hostname0 = node01'
        backend_port0 = 5432
        backend_weight0 = 1
        backend_data_directory0 = '/opt/postgres/data'
        backend_hostname1 = 'node02'
        backend_port1 = 5432
        backend_weight1 = 1
        backend_data_directory1 = '/opt/postgres/data'
        health_check_period = 30 # check every 30s
        failover_command = 'echo host:%h, new master id:%m, old master id:%M > /opt/pgpoolII/log/failover.log'
        failback_command = 'echo host:%h, new master id:%m, old master id:%M > /opt/pgpoolII/log/failback.log'
        recovery_user = 'postgres'
        recovery_1st_stage_command = 'copy_base_backup'
        recovery_2nd_stage_command = 'pgpool_recovery_pitr'
        """;

    /// <summary>The seed with its typo fixed: <c>backend_hostname0 = 'node01'</c>.</summary>
    public static string SeedFixed => SeedAsPrinted.Replace("= node01'", "= 'node01'", StringComparison.Ordinal);

    /// <summary>
    /// A pgpool-II 4.3 style pgpool.conf for three nodes in native replication mode, with many keys of
    /// features we do not implement (watchdog, query cache, streaming replication check, ...).
    /// </summary>
    public const string PgPool43 = """
        # pgpool-II 4.3 configuration for three nodes in native replication mode

        backend_clustering_mode = 'native_replication'

        #------------------------------------------------------------------------------
        # CONNECTIONS
        #------------------------------------------------------------------------------
        listen_addresses = '*'
        port = 9999
        socket_dir = '/var/run/postgresql'
        reserved_connections = 0
        pcp_listen_addresses = '*'
        pcp_port = 9898
        pcp_socket_dir = '/var/run/postgresql'
        listen_backlog_multiplier = 2
        serialize_accept = off

        backend_hostname0 = 'db0.example.net'
        backend_port0 = 5432
        backend_weight0 = 1
        backend_data_directory0 = '/var/lib/pgsql/15/data'
        backend_flag0 = 'ALLOW_TO_FAILOVER'
        backend_application_name0 = 'db0'

        backend_hostname1 = 'db1.example.net'
        backend_port1 = 5432
        backend_weight1 = 1
        backend_data_directory1 = '/var/lib/pgsql/15/data'
        backend_flag1 = 'ALLOW_TO_FAILOVER'
        backend_application_name1 = 'db1'

        backend_hostname2 = '10.0.0.12'
        backend_port2 = 5433
        backend_weight2 = 0.5
        backend_data_directory2 = '/srv/pg/data'
        backend_flag2 = 'DISALLOW_TO_FAILOVER'
        backend_application_name2 = 'db2'

        # - Authentication -
        enable_pool_hba = on
        pool_passwd = 'pool_passwd'
        authentication_timeout = 1min
        allow_clear_text_frontend_auth = off

        # - SSL Connections -
        ssl = off
        ssl_ciphers = 'HIGH:MEDIUM:+3DES:!aNULL'
        ssl_prefer_server_ciphers = off
        ssl_ecdh_curve = 'prime256v1'
        ssl_dh_params_file = ''

        #------------------------------------------------------------------------------
        # POOLS
        #------------------------------------------------------------------------------
        process_management_mode = static
        num_init_children = 64
        max_pool = 2
        child_life_time = 5min
        child_max_connections = 0
        connection_life_time = 0
        client_idle_limit = 0

        #------------------------------------------------------------------------------
        # LOGS
        #------------------------------------------------------------------------------
        log_destination = 'stderr'
        log_line_prefix = '%m: %a pid %p: '
        log_connections = on
        log_disconnections = on
        log_hostname = off
        log_statement = off
        log_per_node_statement = on
        log_client_messages = off
        log_standby_delay = 'if_over_threshold'
        syslog_facility = 'LOCAL0'
        syslog_ident = 'pgpool'
        log_error_verbosity = default
        client_min_messages = notice
        log_min_messages = info
        logging_collector = off
        log_directory = '/tmp/pgpool_logs'
        log_filename = 'pgpool-%Y-%m-%d_%H%M%S.log'
        log_file_mode = 0600
        log_truncate_on_rotation = off
        log_rotation_age = 1d
        log_rotation_size = 10MB

        #------------------------------------------------------------------------------
        # FILE LOCATIONS
        #------------------------------------------------------------------------------
        pid_file_name = '/var/run/pgpool/pgpool.pid'
        logdir = '/var/log/pgpool'

        #------------------------------------------------------------------------------
        # CONNECTION POOLING
        #------------------------------------------------------------------------------
        connection_cache = on
        reset_query_list = 'ABORT; DISCARD ALL'

        #------------------------------------------------------------------------------
        # REPLICATION MODE
        #------------------------------------------------------------------------------
        replicate_select = off
        insert_lock = on
        lobj_lock_table = ''
        replication_stop_on_mismatch = off
        failover_if_affected_tuples_mismatch = off

        #------------------------------------------------------------------------------
        # LOAD BALANCING MODE
        #------------------------------------------------------------------------------
        load_balance_mode = on
        ignore_leading_white_space = on
        read_only_function_list = ''
        write_function_list = ''
        primary_routing_query_pattern_list = ''
        database_redirect_preference_list = ''
        app_name_redirect_preference_list = ''
        allow_sql_comments = off
        disable_load_balance_on_write = 'transaction'
        dml_adaptive_object_relationship_list = ''
        statement_level_load_balance = off

        #------------------------------------------------------------------------------
        # STREAMING REPLICATION MODE
        #------------------------------------------------------------------------------
        sr_check_period = 10
        sr_check_user = 'nobody'
        sr_check_password = ''
        sr_check_database = 'postgres'
        delay_threshold = 0
        prefer_lower_delay_standby = off
        follow_primary_command = ''

        #------------------------------------------------------------------------------
        # HEALTH CHECK GLOBAL PARAMETERS
        #------------------------------------------------------------------------------
        health_check_period = 10
        health_check_timeout = 20
        health_check_user = 'pgpool'
        health_check_password = 'hc-secret'
        health_check_database = ''
        health_check_max_retries = 3
        health_check_retry_delay = 1
        connect_timeout = 10000

        #------------------------------------------------------------------------------
        # HEALTH CHECK PER NODE PARAMETERS
        #------------------------------------------------------------------------------
        health_check_period2 = 5
        health_check_timeout2 = 5
        health_check_user2 = 'pgpool_remote'

        #------------------------------------------------------------------------------
        # FAILOVER AND FAILBACK
        #------------------------------------------------------------------------------
        failover_command = '/etc/pgpool-II/failover.sh %d %h %p %D %m %H %M %P %r %R %N %S'
        failback_command = ''
        failover_on_backend_error = on
        failover_on_backend_shutdown = off
        detach_false_primary = off
        search_primary_node_timeout = 5min
        auto_failback = off
        auto_failback_interval = 1min

        #------------------------------------------------------------------------------
        # ONLINE RECOVERY
        #------------------------------------------------------------------------------
        recovery_user = 'postgres'
        recovery_password = 'rec-secret'
        recovery_1st_stage_command = 'recovery_1st_stage'
        recovery_2nd_stage_command = 'recovery_2nd_stage'
        recovery_timeout = 90
        client_idle_limit_in_recovery = 0

        #------------------------------------------------------------------------------
        # WATCHDOG
        #------------------------------------------------------------------------------
        use_watchdog = off
        trusted_servers = ''
        ping_path = '/bin'
        hostname0 = ''
        wd_port0 = 9000
        pgpool_port0 = 9999
        wd_priority = 1
        wd_authkey = ''
        wd_ipc_socket_dir = '/tmp'
        delegate_ip = ''
        if_cmd_path = '/sbin'
        if_up_cmd = '/usr/bin/sudo /sbin/ip addr add $_IP_$/24 dev eth0 label eth0:0'
        if_down_cmd = '/usr/bin/sudo /sbin/ip addr del $_IP_$/24 dev eth0'
        arping_path = '/usr/sbin'
        arping_cmd = '/usr/bin/sudo /usr/sbin/arping -U $_IP_$ -w 1 -I eth0'
        clear_memqcache_on_escalation = on
        wd_escalation_command = ''
        wd_de_escalation_command = ''
        failover_when_quorum_exists = on
        failover_require_consensus = on
        allow_multiple_failover_requests_from_node = off
        enable_consensus_with_half_votes = off
        wd_remove_shutdown_nodes = off
        wd_lost_node_removal_timeout = 0s
        wd_no_show_node_removal_timeout = 0s
        wd_monitoring_interfaces_list = ''
        wd_lifecheck_method = 'heartbeat'
        wd_interval = 10
        heartbeat_hostname0 = ''
        heartbeat_port0 = 9694
        heartbeat_device0 = ''
        wd_life_point = 3
        wd_lifecheck_query = 'SELECT 1'
        wd_lifecheck_dbname = 'template1'
        wd_lifecheck_user = 'nobody'
        wd_lifecheck_password = ''

        #------------------------------------------------------------------------------
        # OTHERS
        #------------------------------------------------------------------------------
        relcache_expire = 0
        relcache_size = 256
        check_temp_table = catalog
        check_unlogged_table = on
        enable_shared_relcache = on
        relcache_query_target = primary

        #------------------------------------------------------------------------------
        # IN MEMORY QUERY MEMORY CACHE
        #------------------------------------------------------------------------------
        memory_cache_enabled = off
        memqcache_method = 'shmem'
        memqcache_memcached_host = 'localhost'
        memqcache_memcached_port = 11211
        memqcache_total_size = 64MB
        memqcache_max_num_cache = 1000000
        memqcache_expire = 0
        memqcache_auto_cache_invalidation = on
        memqcache_maxcache = 400kB
        memqcache_cache_block_size = 1MB
        memqcache_oiddir = '/var/log/pgpool/oiddir'
        cache_safe_memqcache_table_list = ''
        cache_unsafe_memqcache_table_list = ''
        """;
}
