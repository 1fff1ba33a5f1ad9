using System.Collections.Concurrent;
using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Sessions;

namespace PgPoolConsole.Proxy.Recovery;

/// <summary>A recovery stage failed; the message names what went wrong.</summary>
public sealed class RecoveryStageException(string message, string output = "") : Exception(message)
{
    public string Output { get; } = output;
}

/// <summary>
/// Online recovery of one node, in pgpool-II's stages but without waiting for clients to
/// disconnect: (1) checks, (2) CHECKPOINT on the main node, (3) recovery_1st_stage_command while
/// clients keep working, (4) pause at transaction boundaries, (5) exact sequence state, CHECKPOINT
/// and recovery_2nd_stage_command, (6) pgpool_remote_start, (7) wait until the node accepts
/// connections and is out of recovery (read-write), (8) every open session joins the node, the
/// node is attached (failback_command), traffic resumes. Any failure resumes traffic and leaves
/// the node down. Progress is published to the store after every step.
/// </summary>
public sealed partial class OnlineRecovery(
    ClusterStateStore store,
    OptionsHolder options,
    SessionCoordinator coordinator,
    FailoverController failover,
    ILogger<OnlineRecovery> logger)
{
    public const string RemoteStartScript = "pgpool_remote_start";

    public static readonly ImmutableArray<string> StageNames =
        ["checks", "checkpoint", "first stage", "pause", "second stage", "remote start", "wait for node", "attach"];

    private readonly ConcurrentDictionary<string, CancellationTokenSource> _running = new();

    /// <summary>Publishes a recovery as queued (every stage pending), before its job starts.</summary>
    public RecoveryProgress Queue(string jobId, int nodeId)
    {
        var progress = new RecoveryProgress(jobId, nodeId, store.TimeProvider.GetUtcNow(), null, RecoveryOutcome.Running,
            [.. StageNames.Select((name, i) => new RecoveryStageProgress(i + 1, name, RecoveryStageOutcome.Pending, null, null, "", null))], null);
        store.Recovery.Publish(progress);
        return progress;
    }

    /// <summary>Ends a recovery that <see cref="Queue"/> published but whose job could not be started.</summary>
    public void FailQueued(string jobId, string error)
    {
        if (store.Recovery.Find(jobId) is { Outcome: RecoveryOutcome.Running } queued)
        {
            new ProgressTracker(store, queued).Finish(RecoveryOutcome.Failed, error); // every stage is still pending: all skipped
            LogRecoveryFailed(logger, queued.NodeId, "queueing", error);
        }
    }

    /// <summary>Asks a running recovery to stop; false when no such recovery runs.</summary>
    public bool Cancel(string jobId)
    {
        if (!_running.TryGetValue(jobId, out var cancellation))
        {
            return false;
        }

        cancellation.Cancel();
        return true;
    }

    /// <summary>Runs the recovery that <see cref="Queue"/> published under <paramref name="jobId"/>.</summary>
    public async Task<RecoveryProgress> RunAsync(string jobId, CancellationToken cancellationToken)
    {
        var queued = store.Recovery.Find(jobId) ?? throw new InvalidOperationException($"recovery {jobId} is unknown to this process (was the product restarted?)");
        using var cancellation = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        _running[jobId] = cancellation;
        var tracker = new ProgressTracker(store, queued);
        try
        {
            await RunStagesAsync(tracker, queued.NodeId, cancellation.Token);
            tracker.Finish(RecoveryOutcome.Succeeded, null);
            LogRecoveryDone(logger, queued.NodeId);
        }
        catch (OperationCanceledException) when (cancellation.IsCancellationRequested)
        {
            tracker.FailCurrent("cancelled");
            tracker.Finish(RecoveryOutcome.Cancelled, $"recovery of node {queued.NodeId} was cancelled at stage {tracker.CurrentName}; the node stays down");
            LogRecoveryFailed(logger, queued.NodeId, tracker.CurrentName, "cancelled");
        }
        catch (Exception e) when (e is RecoveryStageException or PauseTimeoutException or BackendUnavailableException or BackendRejectedException or IOException or InvalidOperationException)
        {
            var output = (e as RecoveryStageException)?.Output;
            tracker.FailCurrent(e.Message, output);
            tracker.Finish(RecoveryOutcome.Failed, $"stage {tracker.CurrentNumber} ({tracker.CurrentName}) failed: {e.Message}; node {queued.NodeId} stays down");
            LogRecoveryFailed(logger, queued.NodeId, tracker.CurrentName, e.Message);
        }
        finally
        {
            _running.TryRemove(jobId, out _);
        }

        return tracker.Progress;
    }

    private async Task RunStagesAsync(ProgressTracker tracker, int nodeId, CancellationToken cancellationToken)
    {
        var settings = options.Current;
        LogStartingRecovery(logger, nodeId);

        tracker.Start(1);
        var (target, mainNode) = CheckNodes(nodeId);
        await using var main = await ConnectToMainAsync(mainNode, cancellationToken);
        await QueryAsync(main, "SET statement_timeout TO 0", cancellationToken);
        var mainDataDirectory = (await QueryAsync(main, "SELECT current_setting('data_directory')", cancellationToken)).Scalar!;
        var scripts = new List<string> { settings.Recovery1stStageCommand, RemoteStartScript };
        if (settings.Recovery2ndStageCommand.Length > 0)
        {
            scripts.Insert(1, settings.Recovery2ndStageCommand);
        }

        var missing = await StageScriptRunner.RunAsync(main, mainNode, settings.RecoveryRemoteCommand, mainDataDirectory, "/bin/sh",
            ["-c", "for s in \"$@\"; do [ -x \"$s\" ] || echo \"$PWD/$s is missing or not executable\"; done", "check", .. scripts], cancellationToken);
        if (!missing.Succeeded || missing.Output.Length > 0)
        {
            throw new RecoveryStageException($"recovery scripts on main node {mainNode.Id}: {missing.Output}", missing.Output);
        }

        tracker.Succeed($"node {nodeId} ({target.HostAndPort}) is down; main node {mainNode.Id} ({mainNode.HostAndPort}, data directory {mainDataDirectory}) answers as {settings.RecoveryUser}; scripts present: {string.Join(", ", scripts)}");

        tracker.Start(2);
        await QueryAsync(main, "CHECKPOINT", cancellationToken);
        LogCheckpointDone(logger, "1st");
        tracker.Succeed("CHECKPOINT done");

        var arguments = StageArguments(mainDataDirectory, mainNode, target);
        tracker.Start(3);
        tracker.Succeed(await RunScriptAsync(main, mainNode, mainDataDirectory, settings.Recovery1stStageCommand, arguments, cancellationToken));
        LogFirstStageDone(logger);

        tracker.Start(4);
        LogStartingSecondStage(logger);
        await using var idleTransactions = coordinator.EndIdleTransactions();
        var pauseTimeout = TimeSpan.FromSeconds(Math.Max(1, settings.RecoveryTimeout));
        var holders = await coordinator.WaitForCopyableStateAsync(pauseTimeout, cancellationToken);
        if (holders.Count > 0)
        {
            tracker.AppendOutput(4, $"{holders.Count} session(s) still hold state that cannot be copied to node {nodeId} after {pauseTimeout.TotalSeconds:0} s and will be closed: " +
                string.Join("; ", holders.Select(h => $"session {h.SessionId}: {h.State}")));
        }

        // The second stage's CHECKPOINT runs while traffic waits; one now, while it still flows,
        // leaves that one only the last moments' pages to write.
        await QueryAsync(main, "CHECKPOINT", cancellationToken);
        await using var sequences = await SequenceSynchronizer.OpenAsync(mainNode, settings, cancellationToken);
        var pauseStarted = Stopwatch.GetTimestamp();
        var onTimeout = settings.RecoveryPauseTimeoutAction switch
        {
            "wait" => PauseTimeoutAction.Wait,
            "cancel" => PauseTimeoutAction.Cancel,
            _ => PauseTimeoutAction.Abort,
        };
        await coordinator.RunPausedAsync(async (paused, token) =>
        {
            tracker.Succeed($"{paused.SessionCount} session(s) held at a transaction boundary after {paused.Waited.TotalMilliseconds:0} ms; new transactions wait");
            LogAllSessionsPaused(logger, paused.SessionCount);

            // The default scripts leave the target a running standby since the first stage:
            // sessions connect to it now, while the scripts run, so that joining it once it is
            // promoted takes a round trip instead of a connection.
            // Each connection attempt is bounded by connect_timeout.
            var prepared = paused.PrepareJoinAsync(target, token);
            try
            {
                tracker.Start(5);
                var synced = await sequences.SyncAsync(token);
                await QueryAsync(main, "CHECKPOINT", token);
                LogCheckpointDone(logger, "2nd");
                var secondStage = settings.Recovery2ndStageCommand.Length == 0
                    ? "recovery_2nd_stage_command is not set"
                    : await RunScriptAsync(main, mainNode, mainDataDirectory, settings.Recovery2ndStageCommand, arguments, token);
                tracker.Succeed($"sequences written exactly on the main node: {synced}; CHECKPOINT done\n{secondStage}");

                tracker.Start(6);
                tracker.Succeed(await RunScriptAsync(main, mainNode, mainDataDirectory, RemoteStartScript, [target.Host, target.DataDirectory], token));

                tracker.Start(7);
                tracker.Succeed(await WaitForNodeAsync(target, TimeSpan.FromSeconds(Math.Max(1, settings.RecoveryTimeout)), token));
                LogNodeRestarted(logger, nodeId);

                tracker.Start(8);
                await prepared;
                var ended = await paused.JoinNodeAsync(target, token);
                await failover.MarkAttachedAsync(nodeId, token);
                tracker.Succeed($"{paused.SessionCount - ended.Count} open session(s) joined node {nodeId}" +
                    (ended.Count > 0 ? $"; {ended.Count} session(s) ended because their state could not be copied: {string.Join(", ", ended)}" : "") +
                    $"; node {nodeId} attached");
            }
            finally
            {
                // Nothing prepared is left running once traffic resumes; unused connections close at release.
                await prepared;
            }
        }, pauseTimeout, onTimeout, cancellationToken);
        tracker.AppendOutput(8, $"traffic resumed after {Stopwatch.GetElapsedTime(pauseStarted).TotalMilliseconds:0} ms of pause");
    }

    /// <summary>The target must be configured and down; some other node must be up to copy from.</summary>
    private (NodeState Target, NodeState Main) CheckNodes(int nodeId)
    {
        var snapshot = store.Current;
        var target = snapshot.Find(nodeId) ?? throw new RecoveryStageException($"node id {nodeId} is not configured");
        if (target.IsUsable)
        {
            throw new RecoveryStageException($"node {nodeId} is attached (status {target.StatusName}); only a detached node can be recovered");
        }

        var settings = options.Current;
        if (settings.Recovery1stStageCommand.Length == 0)
        {
            throw new RecoveryStageException("recovery_1st_stage_command is not set");
        }

        if (settings.RecoveryUser.Length == 0)
        {
            throw new RecoveryStageException("recovery_user is not set");
        }

        var main = snapshot.Find(snapshot.MainNodeId) ?? throw new RecoveryStageException("no node is attached to recover from");
        return (target, main);
    }

    /// <summary>pgpool's seven arguments: main data dir, target host, target data dir, main port, target id, target port, main host.</summary>
    private static string[] StageArguments(string mainDataDirectory, NodeState main, NodeState target) =>
    [
        mainDataDirectory, target.Host, target.DataDirectory, main.Port.ToString(CultureInfo.InvariantCulture),
        target.Id.ToString(CultureInfo.InvariantCulture), target.Port.ToString(CultureInfo.InvariantCulture), main.Host,
    ];

    private async Task<string> RunScriptAsync(BackendConnection main, NodeState mainNode, string dataDirectory, string script, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        LogStartingCommand(logger, script, string.Join("', '", arguments));
        var watch = Stopwatch.StartNew();
        var result = await StageScriptRunner.RunAsync(main, mainNode, options.Current.RecoveryRemoteCommand, dataDirectory, script, arguments, cancellationToken);
        if (!result.Succeeded)
        {
            throw new RecoveryStageException($"{script} failed with exit status {result.ExitCode}" + (result.Output.Length > 0 ? ": " + FailureLine(result.Output) : ""), result.Output);
        }

        return $"{script} finished in {watch.Elapsed.TotalSeconds:0.00} s" + (result.Output.Length > 0 ? "\n" + result.Output : "");
    }

    /// <summary>
    /// Polls the node until it accepts connections and is out of recovery (promoted, read-write).
    /// Traffic is paused meanwhile, so it polls often and keeps its connection between polls.
    /// </summary>
    private async Task<string> WaitForNodeAsync(NodeState target, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var watch = Stopwatch.StartNew();
        string last = "not tried";
        BackendConnection? connection = null;
        try
        {
            while (watch.Elapsed < timeout)
            {
                try
                {
                    connection ??= await AdminConnector.ConnectAsync(target, "postgres", options.Current, "pgpoolconsole recovery", cancellationToken);
                    var inRecovery = await QueryAsync(connection, "SELECT pg_catalog.pg_is_in_recovery()", cancellationToken);
                    if (inRecovery.Scalar == "f")
                    {
                        return $"node {target.Id} accepts connections and is read-write after {watch.Elapsed.TotalSeconds:0.00} s";
                    }

                    last = "it is still in recovery (read-only)";
                    await Task.Delay(TimeSpan.FromMilliseconds(5), cancellationToken);
                }
                catch (Exception e) when (e is BackendUnavailableException or BackendRejectedException or IOException)
                {
                    last = e.Message;
                    if (connection is not null)
                    {
                        await connection.DisposeAsync();
                        connection = null;
                    }

                    await Task.Delay(TimeSpan.FromMilliseconds(50), cancellationToken);
                }
            }
        }
        finally
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }

        throw new RecoveryStageException($"node {target.Id} was not ready within recovery_timeout ({timeout.TotalSeconds:0} s): {last}");
    }

    private async Task<BackendConnection> ConnectToMainAsync(NodeState mainNode, CancellationToken cancellationToken)
    {
        try
        {
            return await AdminConnector.ConnectAsync(mainNode, "template1", options.Current, "pgpoolconsole recovery", cancellationToken);
        }
        catch (Exception e) when (e is BackendUnavailableException or BackendRejectedException or PasswordRequiredException)
        {
            throw new RecoveryStageException($"recovery_user {options.Current.RecoveryUser} cannot connect to main node {mainNode.Id}: {e.Message}");
        }
    }

    private static async Task<BackendQueryResult> QueryAsync(BackendConnection connection, string sql, CancellationToken cancellationToken)
    {
        var result = await BackendQuery.RunAsync(connection, sql, cancellationToken);
        if (result.Error is { } error)
        {
            throw new RecoveryStageException($"{FirstWords(sql)} on node {connection.NodeId} failed: {error.Message}");
        }

        return result;
    }

    private static string FirstWords(string sql) => sql.Split('\n')[0].Trim() is var line && line.Length > 60 ? line[..60] + "..." : sql.Split('\n')[0].Trim();

    /// <summary>
    /// The line of a script's output that says what failed: its last error line
    /// ("pg_basebackup: error: ...", "ERROR: ..."), else its last line. Indented lines continue
    /// the one before (libpq's "\tIs the server running on that host ...?") and are passed over.
    /// </summary>
    private static string FailureLine(string output)
    {
        var lines = output.Split('\n').Where(l => l.Length > 0 && !char.IsWhiteSpace(l[0])).Select(l => l.TrimEnd()).ToList();
        return lines.LastOrDefault(l => l.Contains("error:", StringComparison.OrdinalIgnoreCase) || l.Contains("FATAL:", StringComparison.Ordinal))
            ?? lines.LastOrDefault()
            ?? output.Trim();
    }

    /// <summary>Builds the immutable progress record stage by stage and publishes each change.</summary>
    private sealed class ProgressTracker(ClusterStateStore store, RecoveryProgress initial)
    {
        public RecoveryProgress Progress { get; private set; } = initial;

        public int CurrentNumber { get; private set; } = 1;

        public string CurrentName => StageNames[CurrentNumber - 1];

        public void Start(int number)
        {
            CurrentNumber = number;
            Update(number, s => s with { Outcome = RecoveryStageOutcome.Running, StartedAt = store.TimeProvider.GetUtcNow() });
        }

        public void Succeed(string output) =>
            Update(CurrentNumber, s => s with { Outcome = RecoveryStageOutcome.Succeeded, FinishedAt = store.TimeProvider.GetUtcNow(), Output = s.Output.Length == 0 ? output : s.Output + "\n" + output });

        public void AppendOutput(int number, string line) =>
            Update(number, s => s with { Output = s.Output.Length == 0 ? line : s.Output + "\n" + line });

        public void FailCurrent(string error, string? output = null) =>
            Update(CurrentNumber, s => s with
            {
                Outcome = RecoveryStageOutcome.Failed,
                StartedAt = s.StartedAt ?? store.TimeProvider.GetUtcNow(),
                FinishedAt = store.TimeProvider.GetUtcNow(),
                Error = error,
                Output = string.IsNullOrEmpty(output) ? s.Output : output,
            });

        public void Finish(RecoveryOutcome outcome, string? error)
        {
            var stages = Progress.Stages.Select(s => s.Outcome == RecoveryStageOutcome.Pending ? s with { Outcome = RecoveryStageOutcome.Skipped } : s);
            Publish(Progress with { Outcome = outcome, Error = error, FinishedAt = store.TimeProvider.GetUtcNow(), Stages = [.. stages] });
        }

        private void Update(int number, Func<RecoveryStageProgress, RecoveryStageProgress> change) =>
            Publish(Progress with { Stages = Progress.Stages.SetItem(number - 1, change(Progress.Stages[number - 1])) });

        private void Publish(RecoveryProgress progress)
        {
            Progress = progress;
            store.Recovery.Publish(progress);
        }
    }

    [LoggerMessage(EventId = 9001, Level = LogLevel.Information, Message = "starting recovering node {NodeId}")]
    private static partial void LogStartingRecovery(ILogger logger, int nodeId);

    [LoggerMessage(EventId = 9002, Level = LogLevel.Information, Message = "CHECKPOINT in the {Stage} stage done")]
    private static partial void LogCheckpointDone(ILogger logger, string stage);

    [LoggerMessage(EventId = 9003, Level = LogLevel.Information, Message = "starting recovery command: \"SELECT pgpool_recovery('{Script}', '{Arguments}')\"")]
    private static partial void LogStartingCommand(ILogger logger, string script, string arguments);

    [LoggerMessage(EventId = 9004, Level = LogLevel.Information, Message = "1st stage is done")]
    private static partial void LogFirstStageDone(ILogger logger);

    [LoggerMessage(EventId = 9005, Level = LogLevel.Information, Message = "starting 2nd stage")]
    private static partial void LogStartingSecondStage(ILogger logger);

    [LoggerMessage(EventId = 9006, Level = LogLevel.Information, Message = "all sessions are held at a transaction boundary ({Sessions}); no client was disconnected")]
    private static partial void LogAllSessionsPaused(ILogger logger, int sessions);

    [LoggerMessage(EventId = 9007, Level = LogLevel.Information, Message = "{NodeId} node restarted")]
    private static partial void LogNodeRestarted(ILogger logger, int nodeId);

    [LoggerMessage(EventId = 9008, Level = LogLevel.Information, Message = "recovery done: node {NodeId}")]
    private static partial void LogRecoveryDone(ILogger logger, int nodeId);

    [LoggerMessage(EventId = 9009, Level = LogLevel.Error, Message = "recovery of node {NodeId} failed at stage {Stage}: {Reason}")]
    private static partial void LogRecoveryFailed(ILogger logger, int nodeId, string stage, string reason);
}
