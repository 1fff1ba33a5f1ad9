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
public sealed partial class ReloadService(CommandLine commandLine, IConfiguration appSettings, OptionsHolder options, ClientSecurityHolder security, ClusterStateStore store, HealthChecker healthChecker, ILogger<ReloadService> logger)
{
    private readonly object _gate = new();

    public ReloadOutcome Reload()
    {
        lock (_gate)
        {
            LoadedConfiguration loaded;
            ClientSecurity newSecurity;
            Dictionary<int, BackendTls> addedTls;
            try
            {
                loaded = ConfigurationFiles.Load(commandLine, appSettings);
                // pool_hba.conf and pool_passwd are read again; TLS settings need a restart
                // (except for nodes the reload adds).
                newSecurity = ClientSecurity.Load(loaded.Options, loaded.Directory, commandLine.HbaFile, security.Current.Tls, loadTls: false);
                addedTls = loaded.Options.Backends.Where(b => store.Current.Find(b.Id) is null)
                    .ToDictionary(b => b.Id, b => BackendTls.Load(b.Tls, loaded.Directory, b.Id));
            }
            catch (ConfigException e)
            {
                LogReloadFailed(logger, e.Message);
                return new ReloadOutcome(false, [], [], [], e.Message);
            }

            var current = options.Current;
            var diff = PgPoolOptionsLoader.ReloadDiff(current, loaded.Options);
            foreach (var change in diff.RestartRequired)
            {
                LogNeedsRestart(logger, change.Name);
            }

            var added = new List<int>();
            var now = store.TimeProvider.GetUtcNow();
            foreach (var backend in loaded.Options.Backends)
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

            options.Replace(loaded.Options);
            security.Replace(newSecurity);
            healthChecker.Start();
            foreach (var change in diff.Changes.Where(c => !c.NeedsRestart))
            {
                LogChanged(logger, change.Name);
            }

            return new ReloadOutcome(true, [.. diff.Changes.Select(c => c.Name)], [.. diff.RestartRequired.Select(c => c.Name)], added, null);
        }
    }

    [LoggerMessage(EventId = 5101, Level = LogLevel.Error, Message = "reload failed, keeping the current configuration: {Reason}")]
    private static partial void LogReloadFailed(ILogger logger, string reason);

    [LoggerMessage(EventId = 5102, Level = LogLevel.Warning, Message = "parameter \"{Name}\" changed; it takes effect after a restart")]
    private static partial void LogNeedsRestart(ILogger logger, string name);

    [LoggerMessage(EventId = 5103, Level = LogLevel.Information, Message = "reload: backend node {NodeId} ({Host}:{Port}) added in status down")]
    private static partial void LogNodeAdded(ILogger logger, int nodeId, string host, int port);

    [LoggerMessage(EventId = 5104, Level = LogLevel.Information, Message = "reload: parameter \"{Name}\" changed")]
    private static partial void LogChanged(ILogger logger, string name);
}
