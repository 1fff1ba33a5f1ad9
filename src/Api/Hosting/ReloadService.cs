using PgPoolConsole.Api.Cli;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Health;
using PgPoolConsole.Proxy.Security;

namespace PgPoolConsole.Api.Hosting;

/// <summary>What a reload changed.</summary>
public sealed record ReloadOutcome(bool Succeeded, IReadOnlyList<string> Changed, IReadOnlyList<string> NeedRestart, IReadOnlyList<int> AddedNodes, string? Error);

/// <summary>
/// Re-reads the configuration (SIGHUP, <c>pgpoolconsole reload</c>, pcp_reload_config, the REST
/// API). Reloadable settings take effect at once; new backends are added detached (bring them in
/// with online recovery or attach); settings that need a restart are reported and keep their
/// running value.
/// </summary>
public sealed partial class ReloadService(CommandLine commandLine, IConfiguration appSettings, LoadedConfiguration startup, OptionsHolder options, ClientSecurityHolder security, ClusterStateStore store, HealthChecker healthChecker, ILogger<ReloadService> logger)
{
    private readonly object _gate = new();

    /// <summary>The entries of the options in effect: a restart-only key keeps its entry from here.</summary>
    private IReadOnlyList<ConfigEntry> _runningEntries = startup.Entries;

    public ReloadOutcome Reload()
    {
        lock (_gate)
        {
            var current = options.Current;
            ConfigReloadDiff diff;
            IReadOnlyList<ConfigEntry> installedEntries;
            PgPoolOptions installed;
            ClientSecurity newSecurity;
            Dictionary<int, BackendTls> addedTls;
            string directory;
            try
            {
                var loaded = ConfigurationFiles.Load(commandLine, appSettings);
                diff = PgPoolOptionsLoader.ReloadDiff(current, loaded.Options);
                installedEntries = diff.RestartRequired.Count == 0
                    ? loaded.Entries
                    : PgPoolOptionsLoader.KeepRestartOnlyEntries(_runningEntries, loaded.Entries, [.. current.Backends.Select(b => b.Id)]);
                installed = diff.RestartRequired.Count == 0 ? loaded.Options : PgPoolOptionsLoader.Load(installedEntries).Options;
                directory = loaded.Directory;
                // pool_hba.conf and pool_passwd are read again; TLS settings need a restart
                // (except for nodes the reload adds).
                newSecurity = ClientSecurity.Load(installed, directory, commandLine.HbaFile, security.Current.Tls, loadTls: false);
                addedTls = installed.Backends.Where(b => store.Current.Find(b.Id) is null)
                    .ToDictionary(b => b.Id, b => BackendTls.Load(b.Tls, directory, b.Id));
            }
            catch (ConfigException e)
            {
                LogReloadFailed(logger, e.Message);
                return new ReloadOutcome(false, [], [], [], e.Message);
            }

            foreach (var change in diff.RestartRequired)
            {
                LogNeedsRestart(logger, change.Name);
            }

            var added = new List<int>();
            var now = store.TimeProvider.GetUtcNow();
            foreach (var backend in installed.Backends)
            {
                if (store.Current.Find(backend.Id) is not null)
                {
                    continue;
                }

                added.Add(backend.Id);
                var node = NodeState.FromOptions(backend, addedTls[backend.Id], NodeStatus.Down, "added by reload; attach it with online recovery", now);
                store.Update(snapshot => snapshot with { Nodes = [.. snapshot.Nodes.Append(node).OrderBy(n => n.Id)] });
                LogNodeAdded(logger, backend.Id, backend.Hostname, backend.Port);
            }

            ApplyNodeSettings(installed.Backends);
            options.Replace(installed);
            _runningEntries = installedEntries;
            security.Replace(newSecurity);
            healthChecker.Start();
            foreach (var change in diff.Changes.Where(c => !c.NeedsRestart))
            {
                LogChanged(logger, change.Name);
            }

            return new ReloadOutcome(true, [.. diff.Changes.Select(c => c.Name)], [.. diff.RestartRequired.Select(c => c.Name)], added, null);
        }
    }

    /// <summary>
    /// The reloadable per-node settings live in the cluster state, which load balancing, failover and
    /// recovery read: backend_weight (for sessions that choose their read node from now on),
    /// backend_flag and backend_data_directory.
    /// </summary>
    private void ApplyNodeSettings(IReadOnlyList<BackendOptions> backends) =>
        store.Update(snapshot =>
        {
            var changed = false;
            var nodes = snapshot.Nodes.Select(node =>
            {
                var backend = backends.FirstOrDefault(b => b.Id == node.Id);
                if (backend is null || (node.Weight == backend.Weight && node.AllowToFailover == backend.AllowToFailover && node.DataDirectory == backend.DataDirectory))
                {
                    return node;
                }

                changed = true;
                return node with { Weight = backend.Weight, AllowToFailover = backend.AllowToFailover, DataDirectory = backend.DataDirectory };
            }).ToList();
            return changed ? snapshot with { Nodes = [.. nodes] } : null;
        });

    [LoggerMessage(EventId = 5101, Level = LogLevel.Error, Message = "reload failed, keeping the current configuration: {Reason}")]
    private static partial void LogReloadFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "parameter \"{Name}\" changed; it takes effect after a restart")]
    private static partial void LogNeedsRestart(ILogger logger, string name);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Information, Message = "reload: backend node {NodeId} ({Host}:{Port}) added in status down")]
    private static partial void LogNodeAdded(ILogger logger, int nodeId, string host, int port);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Information, Message = "reload: parameter \"{Name}\" changed")]
    private static partial void LogChanged(ILogger logger, string name);
}
