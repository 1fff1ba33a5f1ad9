using Microsoft.Extensions.Logging;
using PgPoolConsole.Api.Jobs;

namespace PgPoolConsole.Tests.Jobs;

public sealed class HangfireLogBridgeTests
{
    private sealed class RecordingProvider : ILoggerProvider
    {
        public List<(string Category, Microsoft.Extensions.Logging.LogLevel Level, string Message, Exception? Exception)> Entries { get; } = [];

        public ILogger CreateLogger(string categoryName) => new Recorder(this, categoryName);

        public void Dispose()
        {
        }

        private sealed class Recorder(RecordingProvider owner, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => null;

            public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => logLevel >= Microsoft.Extensions.Logging.LogLevel.Information;

            public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
                owner.Entries.Add((category, logLevel, formatter(state, exception), exception));
        }
    }

    [Fact]
    public void Messages_GoToTheHostsLoggers_WithTheirLevel_AndDisabledLevelsSayNo()
    {
        var provider = new RecordingProvider();
        using var factory = LoggerFactory.Create(builder => builder.AddProvider(provider));
        var log = new HangfireLogBridge(factory).GetLogger("Hangfire.Server.Worker");
        var failure = new InvalidOperationException("boom");

        Assert.True(log.Log(Hangfire.Logging.LogLevel.Warn, () => "worker stopped", failure));
        Assert.True(log.Log(Hangfire.Logging.LogLevel.Info, null));
        Assert.False(log.Log(Hangfire.Logging.LogLevel.Debug, null));
        Assert.False(log.Log(Hangfire.Logging.LogLevel.Debug, () => throw new InvalidOperationException("a disabled level must not build its message")));

        var entry = Assert.Single(provider.Entries);
        Assert.Equal(("Hangfire.Server.Worker", Microsoft.Extensions.Logging.LogLevel.Warning, "worker stopped", failure), (entry.Category, entry.Level, entry.Message, entry.Exception));
    }

    [Fact]
    public void AfterTheHostsFactoryIsDisposed_LoggersAreStillHandedOut_AndMessagesAreDropped()
    {
        // Hangfire's provider is per process: a host stopping must not break job creation in another.
        var factory = LoggerFactory.Create(builder => builder.AddProvider(new RecordingProvider()));
        var bridge = new HangfireLogBridge(factory);
        factory.Dispose();

        var log = bridge.GetLogger("Hangfire.AutomaticRetryAttribute");

        Assert.False(log.Log(Hangfire.Logging.LogLevel.Error, () => "after the host stopped"));
    }
}
