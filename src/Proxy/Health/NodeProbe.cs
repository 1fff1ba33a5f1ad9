using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Health;

/// <summary>What a probe found: healthy, answering but refusing the login, or not answering.</summary>
public sealed record ProbeResult(bool Answers, string? Failure)
{
    public static readonly ProbeResult Healthy = new(true, null);

    public bool IsHealthy => Failure is null;

    /// <summary>The server is up but refused the health check's login or query (a configuration problem, not a dead node).</summary>
    public bool RefusedLogin => Answers && Failure is not null;
}

/// <summary>One connection attempt to a node with the health check's user and database.</summary>
public static class NodeProbe
{
    /// <summary>Connects and runs SELECT 1 within the timeout.</summary>
    public static async Task<ProbeResult> ProbeAsync(NodeState node, HealthCheckOptions settings, CancellationToken cancellationToken)
    {
        var timeout = TimeSpan.FromSeconds(settings.Timeout > 0 ? settings.Timeout : 3600);
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        var connector = new BackendConnector(timeout, maxMessageLength: 1024 * 1024);
        var databases = string.IsNullOrEmpty(settings.Database) ? new[] { "postgres", "template1" } : [settings.Database];
        string? failure = null;
        foreach (var database in databases)
        {
            BackendConnection? connection = null;
            try
            {
                KeyValuePair<string, string>[] parameters = [new("user", settings.User), new("database", database), new("application_name", "pgpoolconsole health check")];
                var password = settings.Password;
                connection = await connector.ConnectAsync(BackendEndpoint.Of(node), parameters, _ => ValueTask.FromResult<string?>(password.Length > 0 ? password : null), limit.Token);
                PgWriter.Query(connection.Writer, "SELECT 1");
                await connection.Writer.FlushAsync(limit.Token);
                while (true)
                {
                    var message = await connection.Reader.ReadAsync(limit.Token);
                    if (message.TypeChar == 'E')
                    {
                        return new ProbeResult(true, $"query failed: {PgErrorFields.Parse(message.Payload).Message}");
                    }

                    if (message.TypeChar == 'Z')
                    {
                        return ProbeResult.Healthy;
                    }
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                return new ProbeResult(false, $"timed out after {settings.Timeout} s");
            }
            catch (BackendRejectedException e) when (e.Error.SqlState == "3D000" && database != databases[^1])
            {
                failure = e.Error.Message; // no such database: try the next one
            }
            catch (BackendRejectedException e)
            {
                return new ProbeResult(true, $"login refused: {e.Error.Message}");
            }
            catch (Exception e) when (e is BackendUnavailableException or IOException or PgProtocolException or PasswordRequiredException)
            {
                return new ProbeResult(false, e.Message);
            }
            finally
            {
                if (connection is not null)
                {
                    connection.Break();
                    await connection.DisposeAsync();
                }
            }
        }

        return new ProbeResult(true, failure);
    }

}
