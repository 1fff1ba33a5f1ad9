using PgPoolConsole.Proxy.Cluster;
using System.Runtime.InteropServices;

namespace PgPoolConsole.Api.Hosting;

/// <summary>
/// pgpool's shutdown modes: smart (SIGTERM) stops accepting clients and waits for the connected
/// ones to leave; fast (SIGINT) ends every session at once (clients get FATAL 57P01); immediate
/// (SIGQUIT) exits without waiting. SIGHUP reloads the configuration. A process started in the
/// background inherits SIGINT and SIGQUIT ignored, so <c>stop</c> sends SIGUSR1 (fast) and
/// SIGUSR2 (immediate), which always arrive.
/// </summary>
public sealed partial class ShutdownCoordinator : IDisposable
{
    private readonly IHostApplicationLifetime _lifetime;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _sessions = new();
    private readonly List<PosixSignalRegistration> _registrations = [];
    private int _requested = -1;

    public ShutdownCoordinator(IHostApplicationLifetime lifetime, ILogger<ShutdownCoordinator> logger)
    {
        _lifetime = lifetime;
        _logger = logger;
    }

    /// <summary>Cancelled when sessions must end now (fast or immediate shutdown).</summary>
    public CancellationToken SessionsAborted => _sessions.Token;

    public ShutdownMode? Requested => _requested < 0 ? null : (ShutdownMode)_requested;

    /// <summary>Hooks the POSIX signals; <paramref name="reload"/> runs on SIGHUP.</summary>
    public void RegisterSignals(Action reload)
    {
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGTERM, context => { context.Cancel = true; Request(ShutdownMode.Smart); }));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGINT, context => { context.Cancel = true; Request(ShutdownMode.Fast); }));
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGQUIT, context => { context.Cancel = true; Request(ShutdownMode.Immediate); }));
        _registrations.Add(PosixSignalRegistration.Create((PosixSignal)Signals.SigUsr1, context => { context.Cancel = true; Request(ShutdownMode.Fast); }));
        _registrations.Add(PosixSignalRegistration.Create((PosixSignal)Signals.SigUsr2, context => { context.Cancel = true; Request(ShutdownMode.Immediate); }));
        // pgpool-II reloads on SIGHUP even when started under nohup, which ignores it: so do we.
        Signals.StopIgnoring(Signals.SigHup);
        _registrations.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, context => { context.Cancel = true; reload(); }));
    }

    public void Request(ShutdownMode mode)
    {
        // A later, harder request wins (smart, then fast, then immediate).
        var previous = Interlocked.Exchange(ref _requested, Math.Max(_requested, (int)mode));
        if (previous < (int)mode)
        {
            LogShutdownRequest(_logger, mode.ToString().ToLowerInvariant()); // pgpool-II's words
        }

        if (mode >= ShutdownMode.Fast)
        {
            _sessions.Cancel();
        }

        if (mode == ShutdownMode.Immediate)
        {
            _ = Task.Run(async () =>
            {
                await Task.Delay(TimeSpan.FromMilliseconds(500));
                Environment.Exit(0);
            });
        }

        if (previous < 0 || mode > (ShutdownMode)previous)
        {
            _lifetime.StopApplication();
        }
    }

    [LoggerMessage(EventId = 5401, Level = LogLevel.Information, Message = "received {Mode} shutdown request")]
    private static partial void LogShutdownRequest(ILogger logger, string mode);

    public void Dispose()
    {
        foreach (var registration in _registrations)
        {
            registration.Dispose();
        }

        _sessions.Dispose();
    }
}
