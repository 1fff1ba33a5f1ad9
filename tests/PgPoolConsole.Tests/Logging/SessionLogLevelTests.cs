using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Logging;
using PgPoolConsole.Proxy.Sessions;

namespace PgPoolConsole.Tests.Logging;

/// <summary>A session's PGPOOL SET log_min_messages and client_min_messages, as the console log applies them.</summary>
public sealed class SessionLogLevelTests
{
    private readonly StringWriter _output = new();
    private readonly List<(EventLevel Level, string Message)> _toClient = [];

    private async Task<string[]> LogAsync(Action<SessionSettings> change, Action<ILogger, ILogger> log, string configured = "warning")
    {
        var options = new OptionsHolder(new PgPoolOptions { LogMinMessages = configured });
        var settings = new SessionSettings(options, (level, message) => _toClient.Add((level, message)));
        change(settings);
        using (var provider = new PgpoolConsoleLoggerProvider(() => "", () => PgpoolLogLine.RankOfSetting(options.Current.LogMinMessages), _output))
        {
            var session = provider.CreateLogger(SessionLogContext.Category);
            var cluster = provider.CreateLogger("PgPoolConsole.Proxy.Failover");

            // As in a session's run: set at its top, seen by everything it awaits.
            await Task.Run(async () =>
            {
                SessionLogContext.Current = settings;
                await Task.Yield();
                log(session, cluster);
            });
        }

        return _output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    [Fact]
    public async Task LogMinMessagesFatal_SilencesTheSessionsLines_NotTheClustersLines()
    {
        var lines = await LogAsync(
            s => s.Set("log_min_messages", "fatal"),
            (session, cluster) =>
            {
                session.LogInformation("pid 3: statement: SELECT 1");
                cluster.LogInformation("failover done");
            });

        Assert.Equal(["LOG:  failover done"], lines);
    }

    [Fact]
    public async Task LogMinMessagesDebug_ShowsTheSessionsDebugLines_WhileTheConfigurationSaysWarning()
    {
        var lines = await LogAsync(
            s => s.Set("log_min_messages", "debug1"),
            (session, cluster) =>
            {
                session.LogDebug("pid 3: client disconnected");
                cluster.LogDebug("health check of node 0 done");
            });

        Assert.Equal(["DEBUG:  client disconnected"], lines);
    }

    [Fact]
    public async Task ClientMinMessagesLog_SendsLogLinesToTheClient_WarningsStayInTheLog()
    {
        var lines = await LogAsync(
            s => s.Set("client_min_messages", "log"),
            (session, _) =>
            {
                session.LogInformation("pid 3: statement: SELECT 1");
                session.LogDebug("pid 3: not asked for");
                session.LogWarning("pid 3: nodes disagree");
            });

        Assert.Equal([(EventLevel.Log, "statement: SELECT 1")], _toClient);
        Assert.Equal(["LOG:  statement: SELECT 1", "WARNING:  nodes disagree"], lines);
    }

    [Fact]
    public async Task Unchanged_FollowsPgpoolConf_AndSendsNothingToTheClient()
    {
        var lines = await LogAsync(
            _ => { },
            (session, _) =>
            {
                session.LogInformation("pid 3: statement: SELECT 1");
                session.LogDebug("pid 3: client disconnected");
            },
            configured: "error");

        Assert.Equal(["LOG:  statement: SELECT 1"], lines);
        Assert.Empty(_toClient);
    }
}
