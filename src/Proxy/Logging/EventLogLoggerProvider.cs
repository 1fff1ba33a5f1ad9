using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Proxy.Logging;

/// <summary>
/// Keeps every log record of the product as a structured event in the store's bounded
/// <see cref="EventLog"/> (for the REST API, the hub and the dashboard), with the session pid
/// and node id taken from the message's properties.
/// </summary>
[ProviderAlias("EventLog")]
public sealed class EventLogLoggerProvider(EventLog log, Func<LogLevel> minimumLevel) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new EventLogLogger(log, categoryName, minimumLevel);

    public void Dispose()
    {
    }

    private sealed class EventLogLogger(EventLog log, string category, Func<LogLevel> minimumLevel) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None && logLevel >= minimumLevel();

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var (pid, message) = PgpoolLogLine.SplitPid(formatter(state, exception), Environment.ProcessId);
            int? nodeId = null;
            if (state is IReadOnlyList<KeyValuePair<string, object?>> properties)
            {
                foreach (var (key, value) in properties)
                {
                    if (key == "NodeId" && value is int id)
                    {
                        nodeId = id;
                    }
                }
            }

            if (exception is not null && logLevel >= LogLevel.Error)
            {
                message += $" ({exception.GetType().Name}: {exception.Message})";
            }

            log.Append(PgpoolLogLine.LevelOf(logLevel), pid, nodeId, category, message);
        }
    }
}
