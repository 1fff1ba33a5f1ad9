using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Proxy.Logging;

/// <summary>
/// Writes log lines to standard error in pgpool's format (log_line_prefix, "LOG:  ..."), from a
/// background writer so logging never blocks the proxy. Honours log_min_messages (and -d); a client
/// session's own lines follow its PGPOOL SET log_min_messages, and client_min_messages sends them to
/// its client as well (<see cref="SessionLogContext"/>).
/// </summary>
[ProviderAlias("PgpoolConsole")]
public sealed class PgpoolConsoleLoggerProvider : ILoggerProvider
{
    private readonly Channel<string> _lines = Channel.CreateBounded<string>(new BoundedChannelOptions(10000) { FullMode = BoundedChannelFullMode.DropOldest, SingleReader = true });
    private readonly Func<string> _prefix;
    private readonly Func<int> _minimumRank;
    private readonly TextWriter _output;
    private readonly Task _writer;

    public PgpoolConsoleLoggerProvider(Func<string> prefix, Func<int> minimumRank, TextWriter? output = null)
    {
        _prefix = prefix;
        _minimumRank = minimumRank;
        _output = output ?? Console.Error;
        _writer = Task.Run(WriteLoopAsync);
    }

    public ILogger CreateLogger(string categoryName) => new LineLogger(this, categoryName == SessionLogContext.Category);

    private async Task WriteLoopAsync()
    {
        await foreach (var line in _lines.Reader.ReadAllAsync())
        {
            await _output.WriteLineAsync(line);
            if (_lines.Reader.Count == 0)
            {
                await _output.FlushAsync();
            }
        }

        await _output.FlushAsync();
    }

    public void Dispose()
    {
        _lines.Writer.TryComplete();
        _writer.Wait(TimeSpan.FromSeconds(2));
    }

    private sealed class LineLogger(PgpoolConsoleLoggerProvider provider, bool followsSession) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel)
        {
            if (logLevel == LogLevel.None)
            {
                return false;
            }

            var level = PgpoolLogLine.LevelOf(logLevel);
            var session = followsSession ? SessionLogContext.Current : null;
            return IsLogged(level, session) || session?.SendsToClient(level) == true;
        }

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var level = PgpoolLogLine.LevelOf(logLevel);
            var session = followsSession ? SessionLogContext.Current : null;
            var (pid, message) = PgpoolLogLine.SplitPid(formatter(state, exception), Environment.ProcessId);
            if (session?.SendsToClient(level) == true)
            {
                session.SendToClient(level, message);
            }

            if (!IsLogged(level, session))
            {
                return;
            }

            if (exception is AlreadyLoggedException logged)
            {
                message += $" ({logged.Message})";
            }
            else if (exception is not null)
            {
                message += Environment.NewLine + exception;
            }

            var line = PgpoolLogLine.Format(provider._prefix(), DateTimeOffset.Now, level, pid, message);
            provider._lines.Writer.TryWrite(line);
        }

        private bool IsLogged(EventLevel level, ISessionLogSettings? session) =>
            PgpoolLogLine.Rank(level) >= (session?.LogMinimumRank ?? provider._minimumRank());
    }
}
