using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Proxy.Backends;

/// <summary>
/// Connections the product opens for its own work on a node (consistency checks, online
/// recovery): as recovery_user, else health_check_user, with settings that make text output
/// comparable between nodes.
/// </summary>
public static class AdminConnector
{
    public static Task<BackendConnection> ConnectAsync(NodeState node, string database, PgPoolOptions options, string applicationName, CancellationToken cancellationToken)
    {
        var (user, password) = options.RecoveryUser.Length > 0
            ? (options.RecoveryUser, options.RecoveryPassword)
            : (options.HealthCheck.User, options.HealthCheck.Password);
        var connector = new BackendConnector(TimeSpan.FromMilliseconds(Math.Max(1000, options.ConnectTimeout)));
        return connector.ConnectAsync(
            BackendEndpoint.Of(node),
            [new("user", user), new("database", database), new("application_name", applicationName), new("DateStyle", "ISO"), new("TimeZone", "UTC"), new("extra_float_digits", "3")],
            _ => ValueTask.FromResult<string?>(password.Length > 0 ? password : null),
            cancellationToken);
    }
}
