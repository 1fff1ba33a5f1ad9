using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Health;
using PgPoolConsole.Proxy.Sessions;

namespace PgPoolConsole.Proxy.Cluster;

/// <summary>Why a node is being detached.</summary>
public enum DetachCause
{
    HealthCheck,
    BackendError,
    Mismatch,
    Request,
}

/// <summary>The result of a detach (failover) request.</summary>
public enum DetachResult
{
    Detached,
    AlreadyDown,
    UnknownNode,
    LastNode,
    NotAllowed,
}

/// <summary>
/// Detaches failed nodes (failover): marks them down in the store, persists the status, closes
/// every connection to them (sessions carry on with the remaining nodes), and runs
/// failover_command with pgpool's placeholders. One failover at a time.
/// </summary>
public sealed partial class FailoverController : IFailoverController
{
    private readonly ClusterStateStore _store;
    private readonly OptionsHolder _options;
    private readonly BackendPool _pool;
    private readonly NodeStatusFile? _statusFile;
    private readonly ILogger _logger;
    private readonly SemaphoreSlim _serial = new(1, 1);

    public FailoverController(ClusterStateStore store, OptionsHolder options, BackendPool pool, NodeStatusFile? statusFile, ILogger<FailoverController> logger)
    {
        _store = store;
        _options = options;
        _pool = pool;
        _statusFile = statusFile;
        _logger = logger;
    }

    /// <summary>Failover is in progress (PCP answers "failover is in progress").</summary>
    public bool InProgress => _serial.CurrentCount == 0;

    /// <summary>
    /// A session lost its connection to a node, or could not connect. Before detaching, the node
    /// is probed: a node that answers lost one backend (pg_terminate_backend, idle timeout), not
    /// its service, and stays attached; one that refuses, errs or hangs is detached.
    /// </summary>
    public async Task<bool> ReportBackendFailureAsync(int nodeId, string reason, CancellationToken cancellationToken)
    {
        if (!_options.Current.FailoverOnBackendError)
        {
            LogFailoverDisabled(_logger, nodeId, reason);
            return false;
        }

        var node = _store.Current.Find(nodeId);
        if (node is null || !node.IsUsable)
        {
            return true;
        }

        var settings = (_options.Current.Backends.FirstOrDefault(b => b.Id == nodeId)?.HealthCheck ?? _options.Current.HealthCheck) with
        {
            Timeout = Math.Clamp(_options.Current.HealthCheck.Timeout, 1, 5),
        };
        var probe = await NodeProbe.ProbeAsync(node, settings, cancellationToken);
        if (probe.Answers)
        {
            LogNodeStillAnswers(_logger, nodeId, reason);
            return false;
        }

        var result = await DetachAsync(nodeId, $"{reason}; probe: {probe.Failure}", DetachCause.BackendError, cancellationToken);
        return result is DetachResult.Detached or DetachResult.AlreadyDown;
    }

    public async Task<bool> DetachForMismatchAsync(int nodeId, string reason, CancellationToken cancellationToken)
    {
        var result = await DetachAsync(nodeId, reason, DetachCause.Mismatch, cancellationToken);
        return result is DetachResult.Detached or DetachResult.AlreadyDown;
    }

    /// <summary>Detaches a node. Refuses the last usable node and nodes with DISALLOW_TO_FAILOVER (except on request).</summary>
    public async Task<DetachResult> DetachAsync(int nodeId, string reason, DetachCause cause, CancellationToken cancellationToken)
    {
        await _serial.WaitAsync(cancellationToken);
        try
        {
            var before = _store.Current;
            var node = before.Find(nodeId);
            if (node is null)
            {
                return DetachResult.UnknownNode;
            }

            if (!node.IsUsable)
            {
                return DetachResult.AlreadyDown;
            }

            if (!node.AllowToFailover && cause != DetachCause.Request)
            {
                LogFailoverNotAllowed(_logger, nodeId, reason);
                return DetachResult.NotAllowed;
            }

            if (before.UsableCount <= 1)
            {
                LogLastNode(_logger, nodeId, node.HostAndPort, reason);
                return DetachResult.LastNode;
            }

            LogDegenerateRequest(_logger, nodeId, reason);
            LogStartingDegeneration(_logger, nodeId, node.HostAndPort);
            var after = _store.SetStatus(nodeId, NodeStatus.Down, reason) ?? _store.Current;
            _statusFile?.Write(after);

            // Sessions stop waiting on the node at once (a hung node must not hold them).
            foreach (var session in _store.Sessions.List())
            {
                (session as ClientSession)?.BreakNode(nodeId);
            }

            await _pool.DropNodeAsync(nodeId);
            var newMain = after.MainNodeId;
            await RunHookAsync("failover_command", _options.Current.FailoverCommand, node, before.MainNodeId, after, cancellationToken);
            if (newMain != before.MainNodeId)
            {
                LogNewMain(_logger, newMain);
            }
            else
            {
                LogSameMain(_logger, newMain);
            }

            LogFailoverDone(_logger, nodeId, node.HostAndPort);
            return DetachResult.Detached;
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>
    /// Marks a node attached again (failback) and runs failback_command. The caller has already
    /// joined the node to every open session while traffic was paused.
    /// </summary>
    public async Task MarkAttachedAsync(int nodeId, CancellationToken cancellationToken)
    {
        await _serial.WaitAsync(cancellationToken);
        try
        {
            var before = _store.Current;
            var node = before.Find(nodeId) ?? throw new ArgumentOutOfRangeException(nameof(nodeId), $"node id {nodeId} is not configured");
            LogStartingFailback(_logger, nodeId, node.HostAndPort);
            var after = _store.SetStatus(nodeId, NodeStatus.Waiting) ?? _store.Current;
            _statusFile?.Write(after);
            await RunHookAsync("failback_command", _options.Current.FailbackCommand, node, before.MainNodeId, after, cancellationToken);
            LogFailbackDone(_logger, nodeId, node.HostAndPort);
        }
        finally
        {
            _serial.Release();
        }
    }

    /// <summary>Runs failover_command / failback_command with pgpool's placeholders, logging its output.</summary>
    private async Task RunHookAsync(string name, string template, NodeState node, int oldMainId, ClusterSnapshot after, CancellationToken cancellationToken)
    {
        if (string.IsNullOrWhiteSpace(template))
        {
            return;
        }

        var command = ExpandPlaceholders(template, node, oldMainId, after);
        LogExecuteCommand(_logger, command);
        var result = await ShellCommand.RunAsync(command, TimeSpan.FromMinutes(5), cancellationToken);
        if (!result.Succeeded)
        {
            LogHookFailed(_logger, name, result.TimedOut ? "timed out" : $"exited with status {result.ExitCode}", result.Output);
        }
        else if (result.Output.Length > 0)
        {
            LogHookOutput(_logger, name, result.Output);
        }
    }

    /// <summary>
    /// pgpool's placeholders: %d node id, %h host, %p port, %D data directory, %m new main id,
    /// %H new main host, %M old main id, %P old primary id (-1 in replication mode), %r new main
    /// port, %R new main data directory, %N old primary host, %S old primary port, %% a percent sign.
    /// </summary>
    public static string ExpandPlaceholders(string template, NodeState node, int oldMainId, ClusterSnapshot after)
    {
        var newMain = after.Find(after.MainNodeId);
        var builder = new StringBuilder(template.Length + 64);
        for (var i = 0; i < template.Length; i++)
        {
            var c = template[i];
            if (c != '%' || i + 1 >= template.Length)
            {
                builder.Append(c);
                continue;
            }

            var code = template[++i];
            builder.Append(code switch
            {
                'd' => node.Id.ToString(CultureInfo.InvariantCulture),
                'h' => node.Host,
                'p' => node.Port.ToString(CultureInfo.InvariantCulture),
                'D' => node.DataDirectory,
                'm' => after.MainNodeId.ToString(CultureInfo.InvariantCulture),
                'H' => newMain?.Host ?? "",
                'M' => oldMainId.ToString(CultureInfo.InvariantCulture),
                'P' => "-1",
                'r' => newMain?.Port.ToString(CultureInfo.InvariantCulture) ?? "",
                'R' => newMain?.DataDirectory ?? "",
                'N' => "",
                'S' => "",
                '%' => "%",
                _ => "%" + code,
            });
        }

        return builder.ToString();
    }

    [LoggerMessage(EventId = 3001, Level = LogLevel.Information, Message = "received degenerate backend request for node_id: {NodeId}: {Reason}")]
    private static partial void LogDegenerateRequest(ILogger logger, int nodeId, string reason);

    [LoggerMessage(EventId = 3002, Level = LogLevel.Information, Message = "starting degeneration. shutdown host {HostPort}")]
    private static partial void LogStartingDegeneration(ILogger logger, int nodeId, string hostPort);

    [LoggerMessage(EventId = 3003, Level = LogLevel.Information, Message = "failover: set new main node: {NodeId}")]
    private static partial void LogNewMain(ILogger logger, int nodeId);

    [LoggerMessage(EventId = 3004, Level = LogLevel.Information, Message = "failover: no need to change the main node: {NodeId}")]
    private static partial void LogSameMain(ILogger logger, int nodeId);

    [LoggerMessage(EventId = 3005, Level = LogLevel.Information, Message = "failover done. shutdown host {HostPort}")]
    private static partial void LogFailoverDone(ILogger logger, int nodeId, string hostPort);

    [LoggerMessage(EventId = 3006, Level = LogLevel.Information, Message = "execute command: {Command}")]
    private static partial void LogExecuteCommand(ILogger logger, string command);

    [LoggerMessage(EventId = 3007, Level = LogLevel.Error, Message = "{Hook} {Outcome}: {Output}")]
    private static partial void LogHookFailed(ILogger logger, string hook, string outcome, string output);

    [LoggerMessage(EventId = 3008, Level = LogLevel.Information, Message = "{Hook} output: {Output}")]
    private static partial void LogHookOutput(ILogger logger, string hook, string output);

    [LoggerMessage(EventId = 3009, Level = LogLevel.Error, Message = "node {NodeId} ({HostPort}) failed but it is the last usable node: not detaching it ({Reason})")]
    private static partial void LogLastNode(ILogger logger, int nodeId, string hostPort, string reason);

    [LoggerMessage(EventId = 3010, Level = LogLevel.Warning, Message = "node {NodeId} failed but its backend_flag is DISALLOW_TO_FAILOVER: not detaching it ({Reason})")]
    private static partial void LogFailoverNotAllowed(ILogger logger, int nodeId, string reason);

    [LoggerMessage(EventId = 3011, Level = LogLevel.Warning, Message = "node {NodeId} failed under a session but failover_on_backend_error is off: not detaching it ({Reason})")]
    private static partial void LogFailoverDisabled(ILogger logger, int nodeId, string reason);

    [LoggerMessage(EventId = 3014, Level = LogLevel.Warning, Message = "node {NodeId}: a backend connection failed but the node answers a new connection: not failing over ({Reason})")]
    private static partial void LogNodeStillAnswers(ILogger logger, int nodeId, string reason);

    [LoggerMessage(EventId = 3012, Level = LogLevel.Information, Message = "starting fail back. reconnect host {HostPort}")]
    private static partial void LogStartingFailback(ILogger logger, int nodeId, string hostPort);

    [LoggerMessage(EventId = 3013, Level = LogLevel.Information, Message = "failback done. reconnect host {HostPort}")]
    private static partial void LogFailbackDone(ILogger logger, int nodeId, string hostPort);
}
