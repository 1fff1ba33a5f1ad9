using System.Net;
using Microsoft.AspNetCore.Connections;
using PgPoolConsole.Api.Cli;
using PgPoolConsole.Api.ControlPlane;
using PgPoolConsole.Api.Jobs;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Health;
using PgPoolConsole.Proxy.Logging;
using PgPoolConsole.Proxy.Pcp;
using PgPoolConsole.Proxy.Recovery;
using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Proxy.Security;
using PgPoolConsole.Proxy.Sessions;

namespace PgPoolConsole.Api.Hosting;

/// <summary>
/// Builds and runs the whole product in one process: the proxy listener (PostgreSQL protocol),
/// the HTTP control plane and the background services, all on one Kestrel. Used by
/// <c>Program</c> and, in-process, by the tests.
/// </summary>
public sealed partial class ProductHost : IAsyncDisposable
{
    public const string DefaultUrls = "http://127.0.0.1:5000";

    private readonly PidFile? _pidFile;

    private ProductHost(WebApplication app, LoadedConfiguration configuration, PidFile? pidFile, IReadOnlyList<string> proxySockets, IReadOnlyList<string> pcpSockets)
    {
        App = app;
        Configuration = configuration;
        _pidFile = pidFile;
        ProxySockets = proxySockets;
        PcpSockets = pcpSockets;
    }

    public WebApplication App { get; }

    public LoadedConfiguration Configuration { get; }

    /// <summary>Commits the previous run left on some nodes only (see <see cref="CommitJournal"/>): their other nodes start detached.</summary>
    public IReadOnlyList<InDoubtCommit> CutCommits { get; private init; } = [];

    /// <summary>-D was given: the nodes of <see cref="CutCommits"/> were attached anyway.</summary>
    private bool CutCommitsDiscarded { get; init; }

    /// <summary>The proxy's Unix-domain socket paths (socket_dir).</summary>
    public IReadOnlyList<string> ProxySockets { get; }

    /// <summary>The PCP Unix-domain socket paths (pcp_socket_dir).</summary>
    public IReadOnlyList<string> PcpSockets { get; }

    public IServiceProvider Services => App.Services;

    public ClusterStateStore Store => Services.GetRequiredService<ClusterStateStore>();

    public ProxyContext Proxy => Services.GetRequiredService<ProxyContext>();

    public int ProxyPort => Configuration.Options.Port;

    /// <summary>Reads configuration and builds the host (nothing is listening yet).</summary>
    public static ProductHost Create(CommandLine commandLine, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = [],
            // Named after this assembly (not the entry assembly, which is a test host in tests) so the
            // static web asset manifests next to it are found.
            ApplicationName = typeof(ProductHost).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
            WebRootPath = Path.Combine(AppContext.BaseDirectory, "wwwroot"),
        });

        var configuration = ConfigurationFiles.Load(commandLine, builder.Configuration);
        var options = configuration.Options;
        var optionsHolder = new OptionsHolder(options);
        var security = new ClientSecurityHolder(ClientSecurity.Load(options, configuration.Directory, commandLine.HbaFile));
        var timeProvider = TimeProvider.System;
        var pidFile = string.IsNullOrEmpty(options.PidFileName) ? null : new PidFile(options.PidFileName);
        // Before anything is touched (-D's status file, the commit journal, stale sockets): they belong to the running instance.
        pidFile?.ThrowIfOwnedByAnother();
        var statusFile = new NodeStatusFile(Path.Combine(options.Logdir, "pgpool_status"));
        if (commandLine.DiscardStatus)
        {
            // Discarded for good, as pgpool does: otherwise `verify` and the next restart without
            // -D would still see the old statuses until some node changes.
            File.Delete(statusFile.Path);
        }
        var journal = CommitJournal.Open(Path.Combine(options.Logdir, "pgpoolconsole_commits"), Math.Max(options.NumInitChildren * 2, 16), out var cutCommits);
        // -D attaches every node, as its user asks: the cut commits are then only reported.
        var store = new ClusterStateStore(InitialNodes(options, configuration.Directory, statusFile, commandLine.DiscardStatus, commandLine.DiscardStatus ? [] : cutCommits, timeProvider), timeProvider);
        if (cutCommits.Count > 0 && !commandLine.DiscardStatus)
        {
            statusFile.Write(store.Current); // stays detached across further restarts until recovered
        }

        builder.Logging.ClearProviders();
        // Each provider filters by its own rule: pgpool.conf's log_min_messages (debug5 included, and
        // a session's PGPOOL SET) decides what reaches standard error, so nothing is cut off before.
        builder.Logging.SetMinimumLevel(LogLevel.Debug);
        builder.Logging.AddProvider(new PgpoolConsoleLoggerProvider(
            () => optionsHolder.Current.LogLinePrefix,
            () => commandLine.Debug ? 0 : PgpoolLogLine.RankOfSetting(optionsHolder.Current.LogMinMessages)));
        builder.Logging.AddProvider(new EventLogLoggerProvider(store.Log, () => commandLine.Debug ? LogLevel.Debug : LogLevel.Information));
        // A failed start (an address in use) is reported once by Program, as a message, not as the host's stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);

        var services = builder.Services;
        services.AddSingleton(commandLine);
        services.AddSingleton(configuration);
        services.AddSingleton(optionsHolder);
        services.AddSingleton(security);
        services.AddSingleton(timeProvider);
        services.AddSingleton(store);
        services.AddSingleton(statusFile);
        services.AddSingleton(sp => new BackendPool(
            maxIdlePerKey: options.NumInitChildren,
            maxIdlePerNode: options.NumInitChildren * options.MaxPool,
            TimeSpan.FromSeconds(options.ConnectionLifeTime),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<BackendPool>()));
        services.AddSingleton(_ => new BackendConnector(() => TimeSpan.FromMilliseconds(optionsHolder.Current.ConnectTimeout is > 0 and var timeout ? timeout : 10000)));
        services.AddSingleton<FailoverController>();
        services.AddSingleton<IFailoverController>(sp => sp.GetRequiredService<FailoverController>());
        services.AddSingleton<CatalogCache>();
        services.AddSingleton<LockWaitInspector>();
        services.AddSingleton<QueryRouter>();
        services.AddSingleton<HealthChecker>();
        services.AddSingleton<ShutdownCoordinator>();
        services.AddSingleton<ReloadService>();
        services.AddSingleton(sp => new ProxyContext
        {
            Options = optionsHolder,
            Store = store,
            Pool = sp.GetRequiredService<BackendPool>(),
            Connector = sp.GetRequiredService<BackendConnector>(),
            Failover = sp.GetRequiredService<IFailoverController>(),
            Router = sp.GetRequiredService<QueryRouter>(),
            LockWaits = sp.GetRequiredService<LockWaitInspector>(),
            LoggerFactory = sp.GetRequiredService<ILoggerFactory>(),
            TimeProvider = timeProvider,
            Security = security,
            Version = VersionInfo.Text,
            Journal = journal,
        });
        services.AddSingleton(journal); // disposed with the host

        services.AddSingleton<ProxyServer>();
        services.AddSingleton<SessionCoordinator>();
        services.AddSingleton<ClusterAdministrationService>();
        services.AddSingleton<IClusterAdministration>(sp => sp.GetRequiredService<ClusterAdministrationService>());
        services.AddSingleton<PcpUsers>();
        services.AddSingleton<ConsistencyVerifier>();
        services.AddSingleton<OnlineRecovery>();
        services.AddJobs(options);
        services.AddSingleton(sp => new PcpServer(store, optionsHolder, sp.GetRequiredService<IClusterAdministration>(), sp.GetRequiredService<PcpUsers>().Current, sp.GetRequiredService<ILogger<PcpServer>>()));
        services.Configure<HostOptions>(host => host.ShutdownTimeout = TimeSpan.FromDays(1)); // smart shutdown waits for clients
        services.AddRazorComponents().AddInteractiveServerComponents();
        services.AddControlPlane();

        var httpEndpoints = HttpEndpoints(commandLine.Urls ?? DefaultUrls).ToList();
        if (httpEndpoints.Any(e => e.Https) && security.Current.Tls is null)
        {
            throw new CommandLineException("an https:// control-plane URL needs ssl = on with ssl_cert and ssl_key (the control plane uses the proxy's certificate)");
        }

        var proxySockets = UnixSockets.Paths("socket_dir", options.SocketDir, options.Port);
        var pcpSockets = UnixSockets.Paths("pcp_socket_dir", options.PcpSocketDir, options.PcpPort);
        builder.WebHost.UseSockets(sockets =>
        {
            // Kestrel's default 1 MB input limit stays: a client that sends faster than the nodes
            // take it (COPY FROM STDIN) waits instead of filling the proxy's memory. Larger
            // messages still pass: a pipe pauses on unexamined bytes, and PgMessageReader has
            // examined all it holds when it waits for the rest of a message.
            sockets.UnsafePreferInlineScheduling = true; // see InlineSocketIo
        });
        builder.WebHost.UseStaticWebAssets(); // assets of WebUi and the framework in a build (a publish copies them to wwwroot)
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            foreach (var address in ListenEndPoints.Addresses(options.ListenAddresses))
            {
                kestrel.Listen(address, options.Port, listen => listen.UseConnectionHandler<PostgresConnectionHandler>());
            }

            foreach (var address in ListenEndPoints.Addresses(options.PcpListenAddresses))
            {
                kestrel.Listen(address, options.PcpPort, listen => listen.UseConnectionHandler<PcpConnectionHandler>());
            }

            foreach (var path in proxySockets)
            {
                UnixSockets.DeleteStale(path);
                kestrel.ListenUnixSocket(path, listen => listen.UseConnectionHandler<PostgresConnectionHandler>());
            }

            foreach (var path in pcpSockets)
            {
                UnixSockets.DeleteStale(path);
                kestrel.ListenUnixSocket(path, listen => listen.UseConnectionHandler<PcpConnectionHandler>());
            }

            foreach (var (address, port, https) in httpEndpoints)
            {
                if (!https)
                {
                    kestrel.Listen(address, port);
                    continue;
                }

                // The control plane's HTTPS uses the proxy's certificate (ssl_cert, ssl_key).
                var certificate = security.Current.Tls!.Certificate;
                kestrel.Listen(address, port, listen => listen.UseHttps(https => https.ServerCertificate = certificate));
            }
        });

        configure?.Invoke(builder);
        var app = builder.Build();
        ControlPlane.Map(app);

        return new ProductHost(app, configuration, pidFile, proxySockets, pcpSockets) { CutCommits = cutCommits, CutCommitsDiscarded = commandLine.DiscardStatus };
    }

    /// <summary>Starts listening and the background services.</summary>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        var logger = Services.GetRequiredService<ILoggerFactory>().CreateLogger("PgPoolConsole.Main");
        foreach (var warning in Configuration.Warnings)
        {
            LogConfigWarning(logger, warning.ToString());
        }

        foreach (var note in Configuration.Notes)
        {
            LogConfigNote(logger, note.ToString());
        }

        _pidFile?.Create();
        await App.StartAsync(cancellationToken);
        var options = Configuration.Options;
        foreach (var path in ProxySockets.Concat(PcpSockets))
        {
            UnixSockets.OpenToEveryone(path);
        }

        foreach (var node in Store.Current.Nodes)
        {
            LogBackend(logger, node.Id, node.Host, node.Port, node.StatusName);
        }

        foreach (var nodeId in CutCommits.SelectMany(c => c.OtherNodes).Distinct().Order())
        {
            var count = CutCommits.Count(c => c.OtherNodes.Contains(nodeId));
            var mainNodeId = CutCommits.First(c => c.OtherNodes.Contains(nodeId)).MainNodeId;
            if (CutCommitsDiscarded)
            {
                LogCutCommitDiscarded(logger, nodeId, count, mainNodeId);
            }
            else
            {
                LogDetachedForCutCommit(logger, nodeId, count, mainNodeId);
            }
        }

        LogListening(logger, options.ListenAddresses, options.Port);
        foreach (var path in ProxySockets)
        {
            LogListeningOnUnixSocket(logger, path);
        }
        Services.GetRequiredService<HealthChecker>().Start();
    }

    /// <summary>Runs until stopped by a signal (stop command) or <see cref="StopAsync"/>.</summary>
    public async Task RunAsync(CancellationToken cancellationToken = default)
    {
        var shutdown = Services.GetRequiredService<ShutdownCoordinator>();
        shutdown.RegisterSignals(() => Services.GetRequiredService<ReloadService>().Reload());
        await StartAsync(cancellationToken);
        await App.WaitForShutdownAsync(cancellationToken);
    }

    public async Task StopAsync(ShutdownMode mode = ShutdownMode.Fast)
    {
        Services.GetRequiredService<ShutdownCoordinator>().Request(mode == ShutdownMode.Immediate ? ShutdownMode.Fast : mode);
        await App.StopAsync();
    }

    public async ValueTask DisposeAsync()
    {
        await App.DisposeAsync();
        _pidFile?.Dispose();
    }

    /// <summary>The configured nodes; reading their backend_ssl* files may throw <see cref="ConfigException"/>.</summary>
    private static List<NodeState> InitialNodes(PgPoolOptions options, string configDirectory, NodeStatusFile statusFile, bool discardStatus, IReadOnlyList<InDoubtCommit> cutCommits, TimeProvider timeProvider)
    {
        var nodes = new List<NodeState>();
        var saved = discardStatus ? new Dictionary<int, NodeStatus>() : statusFile.Read();
        var now = timeProvider.GetUtcNow();
        foreach (var backend in options.Backends)
        {
            var wasDown = saved.TryGetValue(backend.Id, out var status) && status == NodeStatus.Down;
            var cut = cutCommits.FirstOrDefault(c => c.OtherNodes.Contains(backend.Id));
            var reason = cut is null
                ? "down in pgpool_status before the restart"
                : $"the previous run ended in the middle of a commit on it and on main node {cut.MainNodeId}: it may hold a transaction node {cut.MainNodeId} does not, or lack one; bring it back with online recovery";
            nodes.Add(NodeState.FromOptions(backend, BackendTls.Load(backend.Tls, configDirectory, backend.Id), wasDown || cut is not null ? NodeStatus.Down : NodeStatus.Waiting, reason, now));
        }

        return nodes;
    }

    /// <summary>Parses --urls (http://host:port;https://host:port;...); https uses ssl_cert and ssl_key.</summary>
    internal static IEnumerable<(IPAddress Address, int Port, bool Https)> HttpEndpoints(string urls)
    {
        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var normalised = url.Replace("://*", "://0.0.0.0", StringComparison.Ordinal).Replace("://+", "://0.0.0.0", StringComparison.Ordinal);
            if (!Uri.TryCreate(normalised, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            {
                throw new CommandLineException($"invalid --urls value \"{url}\" (expected http://ADDRESS:PORT or https://ADDRESS:PORT)");
            }

            var host = uri.Host.Trim('[', ']');
            var address = host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(host, out var ip) ? ip : throw new CommandLineException($"--urls: \"{host}\" is not an IP address");
            yield return (address, uri.Port, uri.Scheme == "https");
        }
    }

    [LoggerMessage(EventId = 5001, Level = LogLevel.Warning, Message = "{Warning}")]
    private static partial void LogConfigWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = 5002, Level = LogLevel.Debug, Message = "{Note}")]
    private static partial void LogConfigNote(ILogger logger, string note);

    [LoggerMessage(EventId = 5003, Level = LogLevel.Information, Message = "Setting up socket for {Addresses}:{Port}")]
    private static partial void LogListening(ILogger logger, string addresses, int port);

    [LoggerMessage(EventId = 5005, Level = LogLevel.Information, Message = "listening on Unix socket \"{Path}\"")]
    private static partial void LogListeningOnUnixSocket(ILogger logger, string path);

    [LoggerMessage(EventId = 5006, Level = LogLevel.Warning, Message = "backend node {NodeId} is detached: the previous run of pgpoolconsole ended (killed or crashed) in the middle of {Count} commit(s) on it and main node {MainNodeId}; node {NodeId} may hold a transaction node {MainNodeId} does not, or lack one. Bring it back with online recovery (pcp_recovery_node -n {NodeId})")]
    private static partial void LogDetachedForCutCommit(ILogger logger, int nodeId, int count, int mainNodeId);

    [LoggerMessage(EventId = 5007, Level = LogLevel.Warning, Message = "backend node {NodeId} is attached because of -D, although the previous run of pgpoolconsole ended (killed or crashed) in the middle of {Count} commit(s) on it and main node {MainNodeId}; node {NodeId} may hold a transaction node {MainNodeId} does not, or lack one: check with pgpoolconsole verify")]
    private static partial void LogCutCommitDiscarded(ILogger logger, int nodeId, int count, int mainNodeId);

    [LoggerMessage(EventId = 5004, Level = LogLevel.Information, Message = "backend node {NodeId}: {Host}:{Port} status {Status}")]
    private static partial void LogBackend(ILogger logger, int nodeId, string host, int port, string status);
}
