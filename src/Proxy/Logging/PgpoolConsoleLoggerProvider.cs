using System.Threading.Channels;
using Microsoft.Extensions.Logging;

namespace PgPoolConsole.Proxy.Logging;

/// <summary>
/// Writes log lines to standard error in pgpool's format (log_line_prefix, "LOG:  ..."), from a
/// background writer so logging never blocks the proxy. Honours log_min_messages (and -d).
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

    public ILogger CreateLogger(string categoryName) => new LineLogger(this);

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

    private sealed class LineLogger(PgpoolConsoleLoggerProvider provider) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) =>
            logLevel != LogLevel.None && PgpoolLogLine.Rank(PgpoolLogLine.LevelOf(logLevel)) >= provider._minimumRank();

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel))
            {
                return;
            }

            var (pid, message) = PgpoolLogLine.SplitPid(formatter(state, exception), Environment.ProcessId);
            if (exception is not null)
            {
                message += Environment.NewLine + exception;
            }

            var line = PgpoolLogLine.Format(provider._prefix(), DateTimeOffset.Now, PgpoolLogLine.LevelOf(logLevel), pid, message);
            provider._lines.Writer.TryWrite(line);
        }
    }
}
