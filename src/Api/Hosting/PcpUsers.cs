using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Api.Hosting;

/// <summary>The users of pcp.conf (-F), re-read when the file changes. Also the logins of the web control plane.</summary>
public sealed partial class PcpUsers(LoadedConfiguration configuration, ILogger<PcpUsers> logger)
{
    private readonly object _gate = new();
    private DateTime _loadedWriteTime;
    private IReadOnlyList<PcpUser> _users = [];

    public string? Path => configuration.PcpFile;

    public IReadOnlyList<PcpUser> Current()
    {
        var path = configuration.PcpFile;
        if (path is null || !File.Exists(path))
        {
            return [];
        }

        lock (_gate)
        {
            var writeTime = File.GetLastWriteTimeUtc(path);
            if (writeTime != _loadedWriteTime)
            {
                try
                {
                    var file = PcpConfFile.Parse(File.ReadAllText(path), path);
                    foreach (var warning in file.Warnings)
                    {
                        LogWarning(logger, warning.ToString());
                    }

                    _users = file.Users;
                }
                catch (ConfigException e)
                {
                    LogInvalid(logger, path, e.Message);
                    _users = [];
                }

                _loadedWriteTime = writeTime;
            }

            return _users;
        }
    }

    [LoggerMessage(EventId = 5301, Level = LogLevel.Warning, Message = "{Warning}")]
    private static partial void LogWarning(ILogger logger, string warning);

    [LoggerMessage(EventId = 5302, Level = LogLevel.Error, Message = "pcp.conf \"{Path}\" is invalid; no PCP user can log in: {Reason}")]
    private static partial void LogInvalid(ILogger logger, string path, string reason);
}
