using Hangfire.Logging;
using HangfireLevel = Hangfire.Logging.LogLevel;
using MicrosoftLevel = Microsoft.Extensions.Logging.LogLevel;

namespace PgPoolConsole.Api.Jobs;

/// <summary>
/// Hangfire's log provider, in place of Hangfire.AspNetCore's. Hangfire keeps one provider per
/// process, set by the host that started last; when that host stops, its logger factory is
/// disposed while another host in the same process (tests run many) may still queue jobs. The
/// stock provider then throws from job creation (Hangfire builds loggers when it reads job
/// attributes); this one creates loggers on first use and drops messages once the factory is gone.
/// </summary>
internal sealed class HangfireLogBridge(ILoggerFactory factory) : ILogProvider
{
    public ILog GetLogger(string name) => new HostLog(factory, name);

    private sealed class HostLog(ILoggerFactory factory, string name) : ILog
    {
        private ILogger? _logger;

        public bool Log(HangfireLevel logLevel, Func<string>? messageFunc, Exception? exception = null)
        {
            try
            {
                var logger = _logger ??= factory.CreateLogger(name);
                var level = logLevel switch
                {
                    HangfireLevel.Trace => MicrosoftLevel.Trace,
                    HangfireLevel.Debug => MicrosoftLevel.Debug,
                    HangfireLevel.Info => MicrosoftLevel.Information,
                    HangfireLevel.Warn => MicrosoftLevel.Warning,
                    HangfireLevel.Error => MicrosoftLevel.Error,
                    _ => MicrosoftLevel.Critical,
                };
                var enabled = logger.IsEnabled(level);
                if (messageFunc is null || !enabled)
                {
                    return enabled; // with no message, Hangfire asks whether the level is on
                }

                logger.Log(level, default, messageFunc(), exception, static (message, _) => message);
                return true;
            }
            catch (ObjectDisposedException)
            {
                return false; // the host whose factory this is has stopped
            }
        }
    }
}
