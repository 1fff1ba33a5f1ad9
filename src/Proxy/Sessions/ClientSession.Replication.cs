using System.Buffers;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>How a request is sent to every node.</summary>
internal enum ReplicationOrder
{
    /// <summary>Main node first; the others after it answered (writes).</summary>
    MainFirst,

    /// <summary>All nodes at once (order-independent session state: BEGIN, SET ...).</summary>
    Parallel,

    /// <summary>The other nodes first, the main node last (COMMIT, ROLLBACK ...).</summary>
    MainLast,
}

/// <summary>A request to run on every node of the session.</summary>
internal sealed class ReplicatedRequest
{
    /// <summary>The client's messages (identical for every node).</summary>
    public required ReadOnlyMemory<byte> Body { get; init; }

    /// <summary>Extra messages some nodes need first (prepared statements they lack), by node id.</summary>
    public Func<int, (ReadOnlyMemory<byte> Prefix, int SuppressedCompletions)>? PrefixFor { get; init; }

    public required ReplicationOrder Order { get; init; }

    /// <summary>ReadyForQuery messages the body produces (1 per Query or Sync).</summary>
    public int ReadyCount { get; init; } = 1;

    /// <summary>For a flushed extended-query batch without Sync: completions to wait for (else -1).</summary>
    public int TerminalCount { get; init; } = -1;

    /// <summary>Statements only the main node runs first, inside the transaction (insert_lock's advisory locks); each yields one ReadyForQuery.</summary>
    public byte[]? MainPrefix { get; init; }

    /// <summary>Run inside BEGIN ... COMMIT of our own (an autocommit write), committing replicas first.</summary>
    public bool WrapInTransaction { get; init; }

    /// <summary>The statement text for logs and mismatch reports.</summary>
    public required string Sql { get; init; }

    /// <summary>The request holds transaction control (a COMMIT among several statements): it may commit inside a transaction.</summary>
    public bool MayCommit { get; init; }

    /// <summary>Parameters to hide from each ParameterDescription (proxy-added time parameters).</summary>
    public int[] ParameterDescriptionTrims { get; init; } = [];

    /// <summary>
    /// Whether the row counts in command tags must agree: for writes and transaction ends. What
    /// runs on every node at once (reads for the snapshot of a REPEATABLE READ transaction, with a
    /// named prepared statement, mixed with SET) only needs the same kind of answer: catalogs and
    /// statistics views differ per node.
    /// </summary>
    public bool CompareRowCounts => Order != ReplicationOrder.Parallel;

    /// <summary>
    /// The request starts the main node's transaction and ends with ReadyForQuery: it opens a
    /// transaction block (BEGIN, START TRANSACTION), or it is the first statement after a BEGIN
    /// the proxy answered itself (not a COPY FROM STDIN: nothing may follow it in the same send).
    /// </summary>
    public bool StartsTransaction { get; init; }

    /// <summary>For a COPY FROM STDIN that leaves time defaults out: appends their values to every row of the client's data.</summary>
    public Replication.CopyRowFiller? CopyRowFiller { get; init; }

    /// <summary>A transaction end that only rolls back (ROLLBACK, ROLLBACK PREPARED): a node lost during it keeps nothing the others lack.</summary>
    public bool OnlyRollsBack { get; init; }
}

public sealed partial class ClientSession
{
    private const string MirrorFailureSql = "ROLLBACK TO SAVEPOINT \"pgpoolconsole: abort this transaction as on the other nodes\"";
    private static readonly byte[] BeginQuery = DeferredBeginWriter.BeginQuery;
    private static readonly byte[] CommitQuery = PgWriter.QueryBytes("COMMIT");
    private static readonly byte[] RollbackQuery = PgWriter.QueryBytes("ROLLBACK");
    private static readonly byte[] MirrorFailureQuery = PgWriter.QueryBytes(MirrorFailureSql);

    // Per-node answer buffers, reused: one for the client's request, one for our own statements
    // (BEGIN/COMMIT wrapper, forced failures) so those never overwrite the answer being relayed.
    private NodeResult?[] _results = [];
    private NodeResult?[] _controlResults = [];

    // The node that reads the transaction clock right after the request (see TransactionClock),
    // and whether that read failed inside the new transaction, aborting it there.
    private BackendConnection? _readClockOn;
    private bool _clockReadAbortedTransaction;

    // While a write inside a transaction runs, a fast shutdown cancels it on every node (CancelForShutdown) and sets the flag.
    private CancellationTokenRegistration _shutdownWindow;
    private CancellationToken _shutdownToken; // the session's token while the window is open (a COPY's client reads stop on it)
    private volatile bool _cancelledForShutdown;

    // Set while a commit runs on some nodes before others (see HandleBackendLostAsync), and whether
    // a node has answered its part since: that node may have committed.
    private bool _commitInProgress;
    private bool _answeredDuringCommit;

    private NodeResult ResultFor(BackendConnection backend) => Slot(ref _results, backend);

    private NodeResult ControlResultFor(BackendConnection backend) => Slot(ref _controlResults, backend);

    private NodeResult Slot(ref NodeResult?[] slots, BackendConnection backend)
    {
        if (slots.Length <= backend.NodeId)
        {
            Array.Resize(ref slots, Math.Max(backend.NodeId + 1, _backends.Length));
        }

        var result = slots[backend.NodeId];
        if (result is null || result.Backend != backend)
        {
            result = new NodeResult(backend);
            slots[backend.NodeId] = result;
        }

        result.Reset();
        return result;
    }

    /// <summary>
    /// Runs a request on every node of the session in the order the request asks for, compares
    /// the outcomes, resolves disagreement, and returns the answer to relay (the main node's, or
    /// the majority's when the main node was detached). Returns null when no node is left.
    ///
    /// The ordering invariant that keeps nodes identical under concurrency is enforced here: a
    /// write runs on the main node first and reaches the other nodes only after the main node
    /// has answered, so of two conflicting writes the one that got the main node's lock first
    /// also runs first everywhere; and a transaction ends on the other nodes before the main
    /// node, so a session blocked on the main node by a lock cannot proceed until the lock
    /// holder has committed everywhere.
    /// </summary>
    private async Task<ReplicationOutcome> ExecuteReplicatedAsync(ReplicatedRequest request, CancellationToken cancellationToken)
    {
        var sessionToken = cancellationToken;
        if (request.Order != ReplicationOrder.Parallel)
        {
            // A fast shutdown ends sessions at once, but not in the middle of a write or a transaction
            // end: cut between two nodes, one could keep a commit the other never got. These finish
            // on every node first; the session ends right after.
            cancellationToken = CancellationToken.None;
        }

        // A write inside a transaction (the client's, or ours around an autocommit write) commits
        // nothing until that transaction ends: a fast shutdown may cancel it on every node, and
        // the session's end rolls it back everywhere. A commit, or a statement that cannot run in
        // a transaction block, still runs to its end.
        var cancellableByShutdown = request.Order == ReplicationOrder.MainFirst && !request.MayCommit && (request.WrapInTransaction || _transactionStatus != 'I');
        _shutdownWindow = cancellableByShutdown ? sessionToken.UnsafeRegister(static session => ((ClientSession)session!).CancelForShutdown(), this) : default;
        _shutdownToken = cancellableByShutdown ? sessionToken : CancellationToken.None;
        if (_cancelledForShutdown)
        {
            CloseShutdownWindow(); // the shutdown came first: the statement is not started at all
            ThrowIfCancelledForShutdown();
        }

        // A commit is recorded while it is on some nodes and not yet on all (see CommitJournal).
        var recordCommit = request.Order == ReplicationOrder.MainLast
            || (request.Order == ReplicationOrder.MainFirst && (_transactionStatus == 'I' || request.MayCommit));
        if (recordCommit && _context.Journal is { } journal && MainBackend is { } main)
        {
            journal.Begin(_journalSlot, main.NodeId, LiveMask() & ~(UInt128.One << main.NodeId));
        }

        _commitInProgress = CommitsWhileRunning(request);
        _answeredDuringCommit = false;
        try
        {
            return await ExecuteReplicatedOnNodesAsync(request, cancellationToken);
        }
        finally
        {
            _commitInProgress = false;
            CloseShutdownWindow();
            if (recordCommit)
            {
                _context.Journal?.End(_journalSlot);
            }
        }
    }

    /// <summary>
    /// Whether the request commits on each node as it runs there: a transaction end that is not a
    /// rollback, or a write outside a transaction block that the proxy does not wrap (VACUUM,
    /// CREATE DATABASE), or one carrying its own COMMIT. Our wrapper's COMMIT is marked apart.
    /// </summary>
    private bool CommitsWhileRunning(ReplicatedRequest request) => request.Order switch
    {
        ReplicationOrder.MainLast => !request.OnlyRollsBack && _transactionStatus != 'E',
        ReplicationOrder.MainFirst => request.MayCommit || (_transactionStatus == 'I' && !request.WrapInTransaction),
        _ => false,
    };

    private async Task<ReplicationOutcome> ExecuteReplicatedOnNodesAsync(ReplicatedRequest request, CancellationToken cancellationToken)
    {
        var statusBefore = _transactionStatus;
        _readClockOn = request.StartsTransaction && _clock.PrefetchWithBegin && (statusBefore == 'I' || MainBackend?.OwesBegin == true) ? MainBackend : null;
        ReplicationOutcome outcome;
        try
        {
            outcome = request.Order switch
            {
                ReplicationOrder.MainFirst => await RunMainFirstAsync(request, cancellationToken),
                ReplicationOrder.MainLast => await RunMainLastAsync(request, cancellationToken),
                _ => OutcomeOf(await RunEverywhereAsync(LiveBackends(), request, cancellationToken, streamFrom: MainBackend)),
            };
        }
        finally
        {
            _readClockOn = null;
        }

        ThrowIfCancelledForShutdown();
        if (_clockReadAbortedTransaction)
        {
            // The clock's SELECT failed on the main node (a statement_timeout, a cancel): its
            // transaction is aborted, so the others' must be too.
            _clockReadAbortedTransaction = false;
            foreach (var other in LiveBackends())
            {
                await ForceFailureAsync(other, cancellationToken);
            }
        }

        if (outcome.StoppedAtCopyIn)
        {
            await CopyInAsync(request, outcome, cancellationToken);
        }

        // The window closes before anything can commit (our wrapper's COMMIT below): Dispose waits
        // for a cancellation already running, so a cancel sent by it never meets a COMMIT.
        CloseShutdownWindow();
        ThrowIfCancelledForShutdown();

        var streamed = outcome.Results.FirstOrDefault(r => r.Streamed);
        outcome = await ReconcileAsync(request, outcome, statusBefore, cancellationToken);
        ThrowIfAnswerIncomplete(outcome.Answer, streamed);
        if (request.WrapInTransaction)
        {
            outcome = await EndWrappedTransactionAsync(outcome, cancellationToken);
        }

        if (request.Order != ReplicationOrder.Parallel)
        {
            _context.Store.CountWrite(); // counted once visible (writes and transaction ends): see ClusterStateStore.WriteCount
        }

        return outcome;
    }

    /// <summary>
    /// A node whose large answer was already flowing to the client was lost: another node's answer
    /// cannot continue it, and the statement cannot be retried. The session ends; its open
    /// transaction (the proxy's own around an autocommit write too) rolls back on every node.
    /// </summary>
    private static void ThrowIfPartlySent(NodeResult lost)
    {
        if (lost.Streamed)
        {
            throw new SessionTerminatedException("08006", $"terminating connection: backend node {lost.NodeId} was lost while sending the result of this statement; it was not completed on any node", lost.Lost?.Message);
        }
    }

    /// <summary>
    /// The main node's answer streams to the client once it outgrows the capture buffer; the
    /// others' are only compared. When the nodes disagree so that another node's answer must be
    /// used, or the answer used lost its bytes, the client cannot be given a whole answer: the
    /// session ends before anything is committed (rare: the main node detached for a large result).
    /// </summary>
    private static void ThrowIfAnswerIncomplete(NodeResult answer, NodeResult? streamed)
    {
        if (answer.Overflowed || (streamed is not null && streamed != answer))
        {
            throw new SessionTerminatedException("08006", $"terminating connection: the result of this statement (over {NodeResult.CaptureLimit / 1024} kB) had to come from node {answer.NodeId} instead of the main node and could not be sent whole; its transaction was rolled back");
        }
    }

    /// <summary>Main node first, then every other node in parallel (writes).</summary>
    private async Task<ReplicationOutcome> RunMainFirstAsync(ReplicatedRequest request, CancellationToken cancellationToken)
    {
        NodeResult main;
        while (true)
        {
            var backend = MainBackend ?? throw new SessionTerminatedException("57P03", "all backend nodes of this session are down");
            main = ResultFor(backend);
            await RunOnNodeAsync(main, request, cancellationToken, isMain: true, streamToClient: true);
            if (main.Lost is null)
            {
                break;
            }

            // The main node failed before answering; the next node becomes main and runs it first.
            await HandleBackendLostAsync(main.NodeId, main.Lost, cancellationToken, main);
            ThrowIfPartlySent(main);
        }

        var outcome = new ReplicationOutcome(main, [main]);
        if (main.StoppedAtCopyIn)
        {
            return outcome;
        }

        if (_cancelledForShutdown)
        {
            outcome.SkippedOthers = true; // the session ends before the answer is used
            return outcome;
        }

        if (main.FirstError is { } error && IsNonDeterministicError(error))
        {
            // Deadlock, serialization failure or cancel: the other nodes would not fail the same
            // way; they never run the statement, and their transaction is aborted to match.
            outcome.SkippedOthers = true;
            return outcome;
        }

        var others = LiveBackends();
        others.Remove(main.Backend);
        outcome.Results.AddRange(await RunEverywhereAsync(others, request, cancellationToken, watchLockWaits: true));
        return outcome;
    }

    private void CancelForShutdown()
    {
        _cancelledForShutdown = true;
        _ = CancelAsync(CancellationToken.None); // best effort: a statement not cancelled runs to its end, as before
    }

    /// <summary>Ends what a fast shutdown may cancel; waits for a cancellation already running.</summary>
    private void CloseShutdownWindow()
    {
        _shutdownWindow.Dispose();
        _shutdownToken = CancellationToken.None;
    }

    private void ThrowIfCancelledForShutdown()
    {
        if (_cancelledForShutdown)
        {
            throw new SessionTerminatedException("57P01", "terminating connection due to administrator command", "fast shutdown: the running statement was cancelled on every node and its transaction rolled back");
        }
    }

    /// <summary>Every node but the main one first, then the main node (transaction end).</summary>
    private async Task<ReplicationOutcome> RunMainLastAsync(ReplicatedRequest request, CancellationToken cancellationToken)
    {
        var main = MainBackend ?? throw new SessionTerminatedException("57P03", "all backend nodes of this session are down");
        var others = LiveBackends().Where(b => b.NodeId != main.NodeId).ToList();
        var first = await RunEverywhereAsync(others, request, cancellationToken);
        var current = MainBackend ?? throw new SessionTerminatedException("57P03", "all backend nodes of this session are down");
        if (first.Count > 0 && first.All(r => r.Failed) && current.TransactionStatus == 'T')
        {
            // Every other node refused to end the transaction this way (a deferred constraint, a
            // failed PREPARE TRANSACTION): the main node must not commit alone.
            await EndOnNodeAsync(current, commit: false, cancellationToken);
            return new ReplicationOutcome(first[0], first);
        }

        var last = ResultFor(current);
        await RunOnNodeAsync(last, request, cancellationToken);
        if (last.Lost is not null)
        {
            // The main node failed while ending the transaction the others have already ended: their answer stands.
            await HandleBackendLostAsync(last.NodeId, last.Lost, cancellationToken, last);
            return OutcomeOf(first);
        }

        first.Insert(0, last);
        return new ReplicationOutcome(last, first);
    }

    /// <summary>
    /// Sends the request to the given nodes at once and waits for all of them. Nodes that failed
    /// are handled (failover) and left out of the returned results.
    /// </summary>
    private async Task<List<NodeResult>> RunEverywhereAsync(List<BackendConnection> backends, ReplicatedRequest request, CancellationToken cancellationToken, bool watchLockWaits = false, BackendConnection? streamFrom = null)
    {
        var results = new List<NodeResult>(backends.Count);
        foreach (var backend in backends)
        {
            results.Add(ResultFor(backend));
        }

        if (results.Count == 1 && !watchLockWaits)
        {
            await RunOnNodeAsync(results[0], request, cancellationToken, streamToClient: results[0].Backend == streamFrom); // the usual two-node cluster: no WhenAll
        }
        else if (results.Count > 0)
        {
            var runs = new List<Task>(results.Count);
            foreach (var result in results)
            {
                runs.Add(RunOnNodeAsync(result, request, cancellationToken, streamToClient: result.Backend == streamFrom));
            }

            var all = runs.Count == 1 ? runs[0] : Task.WhenAll(runs);
            if (watchLockWaits && !await _context.Ticker.CompletesWithinASecondAsync(all))
            {
                await WatchLockWaitsAsync(results, runs, all, cancellationToken);
            }

            await all;
        }

        for (var i = results.Count - 1; i >= 0; i--)
        {
            if (results[i].Lost is { } lost)
            {
                await HandleBackendLostAsync(results[i].NodeId, lost, cancellationToken, results[i]);
                ThrowIfPartlySent(results[i]);
                results.RemoveAt(i);
            }
        }

        return results;
    }

    /// <summary>The outcome of nodes that ran together: the first (lowest-numbered) answers.</summary>
    private static ReplicationOutcome OutcomeOf(List<NodeResult> results) =>
        results.Count > 0
            ? new ReplicationOutcome(results[0], results)
            : throw new SessionTerminatedException("57P03", "all backend nodes of this session are down");

    /// <summary>
    /// The main node has answered, but another node still works on the write. A write that ran on
    /// the main node without waiting should not wait on another node: if it waits there for a lock
    /// held by a session that itself waits for this session (a deadlock across nodes, which no
    /// node can detect), or longer than replica_statement_timeout for a lock held outside the
    /// proxy, its statement on that node is cancelled and the write fails everywhere instead of
    /// hanging forever.
    /// </summary>
    private async Task WatchLockWaitsAsync(List<NodeResult> results, List<Task> runs, Task all, CancellationToken cancellationToken)
    {
        var blockedSince = new Dictionary<int, DateTime>();
        while (!all.IsCompleted)
        {
            for (var i = 0; i < results.Count; i++)
            {
                if (runs[i].IsCompleted || results[i].CancelledBecause is not null)
                {
                    continue;
                }

                var backend = results[i].Backend;
                var blockers = await _context.LockWaits.BlockersAsync(backend.NodeId, backend.ProcessId, cancellationToken);
                if (blockers.Count == 0)
                {
                    blockedSince.Remove(backend.NodeId);
                    continue; // running, not waiting for a lock
                }

                var reason = await FindCrossNodeDeadlockAsync(backend.NodeId, blockers, cancellationToken);
                if (reason is null)
                {
                    var since = blockedSince.TryGetValue(backend.NodeId, out var first) ? first : blockedSince[backend.NodeId] = DateTime.UtcNow;
                    var timeout = _context.Options.Current.ReplicaStatementTimeout;
                    if (timeout <= 0 || DateTime.UtcNow - since < TimeSpan.FromMilliseconds(timeout))
                    {
                        continue;
                    }

                    reason = $"the statement waited {timeout} ms on node {backend.NodeId} for a lock held by backend(s) {string.Join(", ", blockers)} while it had run on the main node without waiting (replica_statement_timeout)";
                }

                results[i].CancelledBecause = reason;
                LogCancelledWait(_logger, Id, backend.NodeId, reason);
                await BackendCanceller.CancelAsync(backend.Endpoint, backend.ProcessId, backend.SecretKey, cancellationToken);
            }

            await Task.WhenAny(all, _context.Ticker.NextTick);
        }
    }

    /// <summary>
    /// Whether a backend of another session blocks us on this node while that session waits on
    /// some other node for one of our backends: a cycle of waits across nodes.
    /// </summary>
    private async Task<string?> FindCrossNodeDeadlockAsync(int nodeId, IReadOnlyList<int> blockers, CancellationToken cancellationToken)
    {
        foreach (var other in _context.Store.Sessions.List())
        {
            if (other.Id == Id || !other.Backends.Any(b => b.NodeId == nodeId && blockers.Contains(b.BackendProcessId)))
            {
                continue;
            }

            foreach (var theirs in other.Backends.Where(b => b.NodeId != nodeId))
            {
                var ours = BackendOf(theirs.NodeId);
                if (ours is null)
                {
                    continue;
                }

                var theirBlockers = await _context.LockWaits.BlockersAsync(theirs.NodeId, theirs.BackendProcessId, cancellationToken);
                if (theirBlockers.Contains(ours.ProcessId))
                {
                    return $"deadlock across nodes: on node {nodeId} this session waits for session {other.Id}, which waits on node {theirs.NodeId} for this session";
                }
            }
        }

        return null;
    }

    /// <summary>Sends (our BEGIN,) any prefix and the request to one node and reads its answer.
    /// Connection failures are recorded in <see cref="NodeResult.Lost"/>, not thrown.</summary>
    private async Task RunOnNodeAsync(NodeResult result, ReplicatedRequest request, CancellationToken cancellationToken, bool isMain = false, bool streamToClient = false)
    {
        var backend = result.Backend;
        try
        {
            var readyCount = request.ReadyCount;
            if (request.WrapInTransaction)
            {
                backend.Writer.Write(BeginQuery);
                result.SilentReadyCycles = 1;
                readyCount++;
            }

            if (isMain && request.MainPrefix is { } prefixStatement)
            {
                // insert_lock: taken on the main node only; it orders the others.
                backend.Writer.Write(prefixStatement);
                result.SilentReadyCycles++;
                readyCount++;
            }

            if (request.PrefixFor is { } prefixFor)
            {
                var (prefix, suppressed) = prefixFor(backend.NodeId);
                if (!prefix.IsEmpty)
                {
                    backend.Writer.Write(prefix.Span);
                    result.SuppressedCompletions = suppressed;
                }
            }

            await WriteRequestAsync(backend.Writer, request.Body, cancellationToken);
            var readClock = backend == _readClockOn;
            if (readClock)
            {
                PgWriter.Query(backend.Writer, Replication.TimeFunctions.ReadClocksSql);
            }

            result.ParameterDescriptionTrims = request.ParameterDescriptionTrims.Length > 0 ? new Queue<int>(request.ParameterDescriptionTrims) : null;
            await backend.Writer.FlushAsync(cancellationToken);
            LogPerNodeStatement(backend, request.Sql);
            await ReadResultAsync(result, request.TerminalCount >= 0 ? 1 + result.SilentReadyCycles : readyCount, streamToClient, cancellationToken, request.TerminalCount);
            if (readClock)
            {
                await ReadClockSentWithBeginAsync(backend, result.Status, cancellationToken);
            }

            _answeredDuringCommit |= _commitInProgress;
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            result.Lost = e;
        }
    }

    /// <summary>
    /// The transaction clock read right after the request that opened the transaction: inside
    /// it, now() is the transaction's start, the value a later write would have read.
    /// </summary>
    private async Task ReadClockSentWithBeginAsync(BackendConnection backend, char statusAfterRequest, CancellationToken cancellationToken)
    {
        var answer = await BackendQuery.ReadAnswerAsync(backend, cancellationToken);
        if (statusAfterRequest != 'T')
        {
            return; // the request did not leave a transaction open: that clock is not its start
        }

        var succeeded = answer.Succeeded && answer.Rows.Count > 0;
        _clock.StoreReadWithBegin(succeeded ? answer.Rows[0][0] : null);
        _clockReadAbortedTransaction = !succeeded;
    }

    /// <summary>
    /// Compares what the nodes answered. Agreement: the main node's answer stands. Disagreement:
    /// the nodes that differ from the majority (the main node wins a tie) are detached when the
    /// configuration says so or when the statement cannot be undone; otherwise the statement is
    /// made to fail on every node and the client gets an error. Either way the nodes that stay
    /// attached hold the same data.
    /// </summary>
    private async Task<ReplicationOutcome> ReconcileAsync(ReplicatedRequest request, ReplicationOutcome outcome, char statusBefore, CancellationToken cancellationToken)
    {
        if (outcome.SkippedOthers)
        {
            await MatchNonDeterministicFailureAsync(request, outcome, statusBefore, cancellationToken);
            return outcome;
        }

        outcome.Results.RemoveAll(r => r.Lost is not null);
        if (outcome.Answer.Lost is not null)
        {
            outcome.Answer = outcome.Results.FirstOrDefault() ?? throw new SessionTerminatedException("57P03", "all backend nodes of this session are down");
        }

        var results = outcome.Results;
        if (results.Count <= 1)
        {
            return outcome;
        }

        if (AllAgree(results, request.CompareRowCounts))
        {
            return outcome;
        }

        var main = outcome.Answer;
        var groups = results.GroupBy(r => SignatureOf(r, request.CompareRowCounts)).OrderByDescending(g => g.Count()).ThenByDescending(g => g.Contains(main)).ToList();
        if (groups.Count == 1)
        {
            return outcome;
        }

        if (results.FirstOrDefault(r => r.CancelledBecause is not null) is { } cancelled)
        {
            return await FailEverywhereAsync(outcome, results, new PgErrorFields { SqlState = "40P01", Message = "deadlock detected", Detail = cancelled.CancelledBecause, Hint = "retry the transaction" }, cancellationToken);
        }

        if (results.Where(r => r.Failed).All(r => IsNonDeterministicError(r.FirstError!)) && results.Any(r => r.Failed))
        {
            // A node failed on its own (deadlock, serialization failure): not divergence. Undo everywhere, report its error.
            var failure = results.First(r => r.Failed).FirstError!;
            return await FailEverywhereAsync(outcome, results, failure with { Severity = "ERROR" }, cancellationToken);
        }

        var majority = groups[0].ToList();
        var minority = results.Except(majority).ToList();
        var kindsDiffer = results.Select(r => KindsOf(r)).Distinct().Count() > 1;
        var options = _context.Options.Current;
        var inTransaction = request.WrapInTransaction || statusBefore != 'I' || results.All(r => r.Status != 'I');
        var detach = !inTransaction
            || (kindsDiffer && options.ReplicationStopOnMismatch)
            || (!kindsDiffer && options.FailoverIfAffectedTuplesMismatch);

        var details = string.Join(" ", results.Select(r => $"{r.NodeId}[{r.Signature}]"));
        LogMismatch(_logger, Id, kindsDiffer ? "kind" : "affected rows", request.Sql, details);
        if (detach && majority.Count > 0)
        {
            foreach (var node in minority)
            {
                var reason = $"result differs from the majority: \"{Truncate(request.Sql)}\": {details}";
                await _context.Failover.DetachForMismatchAsync(node.NodeId, reason, cancellationToken);
                await DropBackendAsync(node.NodeId);
            }

            var answer = majority.OrderBy(r => r.NodeId).First();
            return new ReplicationOutcome(answer, majority);
        }

        return await FailEverywhereAsync(outcome, results, new PgErrorFields
        {
            Severity = "ERROR",
            SqlState = "55000",
            Message = kindsDiffer
                ? "backend nodes returned different results; the statement was rolled back on all nodes"
                : "backend nodes reported different numbers of affected rows; the statement was rolled back on all nodes",
            Detail = details,
            Hint = "check data consistency among the nodes (pgpoolconsole verify)",
        }, cancellationToken);
    }

    /// <summary>Undo on every node: the client is told, the session lives, nothing diverges.</summary>
    private async Task<ReplicationOutcome> FailEverywhereAsync(ReplicationOutcome outcome, List<NodeResult> results, PgErrorFields error, CancellationToken cancellationToken)
    {
        foreach (var result in results.Where(r => r.Backend.TransactionStatus == 'T'))
        {
            await ForceFailureAsync(result.Backend, cancellationToken);
            result.Status = result.Backend.TransactionStatus;
        }

        outcome.ReplacementError = error;
        return outcome;
    }

    /// <summary>
    /// The main node failed with a deadlock, serialization failure or cancel and the statement
    /// never reached the others: abort their transaction too (or, for our own wrapper, roll back).
    /// </summary>
    private async Task MatchNonDeterministicFailureAsync(ReplicatedRequest request, ReplicationOutcome outcome, char statusBefore, CancellationToken cancellationToken)
    {
        if (request.WrapInTransaction || statusBefore == 'I')
        {
            return; // the others never started; the wrapper's end rolls back the main node
        }

        foreach (var backend in LiveBackends().Where(b => b.NodeId != outcome.Answer.NodeId))
        {
            await ForceFailureAsync(backend, cancellationToken);
        }
    }

    /// <summary>Puts a node's open transaction into the failed state, as an error on another node did.</summary>
    private async Task ForceFailureAsync(BackendConnection backend, CancellationToken cancellationToken)
    {
        if (backend.TransactionStatus != 'T')
        {
            return;
        }

        var result = ControlResultFor(backend);
        try
        {
            await SendAsync(backend, MirrorFailureQuery, cancellationToken);
            await ReadResultAsync(result, 1, streamToClient: false, cancellationToken);
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            await HandleBackendLostAsync(backend.NodeId, e, cancellationToken);
        }
    }

    /// <summary>
    /// Ends our own BEGIN: COMMIT (or ROLLBACK after a failure) on the other nodes first and on
    /// the main node last. If a replica's COMMIT fails the main node rolls back instead, so the
    /// client sees the failure and no node keeps the change.
    /// </summary>
    private async Task<ReplicationOutcome> EndWrappedTransactionAsync(ReplicationOutcome outcome, CancellationToken cancellationToken)
    {
        var commit = outcome.ReplacementError is null && !outcome.SkippedOthers && outcome.Answer.Status == 'T';
        var main = MainBackend;
        PgErrorFields? commitFailure = null;
        _commitInProgress = commit;
        if (!outcome.SkippedOthers)
        {
            foreach (var backend in LiveBackends().Where(b => b != main))
            {
                var (committed, error) = await EndOnNodeAsync(backend, commit && backend.TransactionStatus == 'T', cancellationToken);
                if (commit && !committed)
                {
                    commitFailure ??= error ?? new PgErrorFields { SqlState = "40000", Message = $"COMMIT did not commit on node {backend.NodeId}" };
                }
            }
        }

        if (main is not null && _backends.Contains(main))
        {
            var commitMain = commit && commitFailure is null && main.TransactionStatus == 'T';
            var (committed, error) = await EndOnNodeAsync(main, commitMain, cancellationToken);
            if (commitMain && !committed)
            {
                commitFailure ??= error ?? new PgErrorFields { SqlState = "40000", Message = "COMMIT did not commit on the main node" };
            }
        }

        if (commitFailure is not null)
        {
            outcome.ReplacementError = commitFailure;
        }

        foreach (var result in outcome.Results)
        {
            result.Status = result.Backend.TransactionStatus;
        }

        return outcome;
    }

    /// <summary>COMMIT or ROLLBACK on one node; reports whether a COMMIT committed.</summary>
    private async Task<(bool Committed, PgErrorFields? Error)> EndOnNodeAsync(BackendConnection backend, bool commit, CancellationToken cancellationToken)
    {
        if (backend.TransactionStatus == 'I')
        {
            return (false, null);
        }

        var result = ControlResultFor(backend);
        try
        {
            await SendAsync(backend, commit ? CommitQuery : RollbackQuery, cancellationToken);
            await ReadResultAsync(result, 1, streamToClient: false, cancellationToken);
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            await HandleBackendLostAsync(backend.NodeId, e, cancellationToken, result);
            return (commit, null);
        }

        _answeredDuringCommit |= _commitInProgress;
        var committed = commit && result.FirstError is null && result.Outcomes.Any(o => o.Text == "COMMIT");
        return (committed, result.FirstError);
    }

    /// <summary>How a route's request is sent to the nodes.</summary>
    private static ReplicationOrder OrderOf(Replication.QueryRoute route) => route switch
    {
        Replication.QueryRoute.Write => ReplicationOrder.MainFirst,
        Replication.QueryRoute.TransactionEnd => ReplicationOrder.MainLast,
        _ => ReplicationOrder.Parallel,
    };

    /// <summary>Deadlock, serialization failure, lock timeout, cancel: errors a node produces on its own.</summary>
    private static bool IsNonDeterministicError(PgErrorFields error) => error.SqlState is
        "40P01" or "40001" or "57014" or "55P03" or "57P01" or "57P02" or "57P03" or "25P03" or "53100" or "53200" or "53300" or "53400";

    /// <summary>What must agree between nodes: message kinds, tags (row counts where asked) and the transaction status.</summary>
    private static string SignatureOf(NodeResult result, bool compareRowCounts)
    {
        var builder = new System.Text.StringBuilder();
        foreach (var outcome in result.Outcomes)
        {
            builder.Append(outcome.Kind).Append(':');
            builder.Append(outcome.Kind switch
            {
                'C' when compareRowCounts => outcome.Text,
                'C' => CommandWord(outcome.Text).ToString(),
                // Both failed: the same statement failed on both (even with different codes) — agreement.
                _ => "",
            });
            builder.Append('|');
        }

        builder.Append(result.Status);
        return builder.ToString();
    }

    /// <summary>Whether every node's signature (<see cref="SignatureOf"/>) is the same, without building them.</summary>
    private static bool AllAgree(List<NodeResult> results, bool compareRowCounts)
    {
        var first = results[0];
        for (var i = 1; i < results.Count; i++)
        {
            var other = results[i];
            if (other.Status != first.Status || other.Outcomes.Count != first.Outcomes.Count)
            {
                return false;
            }

            for (var j = 0; j < first.Outcomes.Count; j++)
            {
                var (a, b) = (first.Outcomes[j], other.Outcomes[j]);
                if (a.Kind != b.Kind)
                {
                    return false;
                }

                if (a.Kind == 'C' && !(compareRowCounts ? a.Text == b.Text : CommandWord(a.Text).SequenceEqual(CommandWord(b.Text))))
                {
                    return false;
                }
            }
        }

        return true;
    }

    private static string KindsOf(NodeResult result) => new([.. result.Outcomes.Select(o => o.Kind), result.Status]);

    /// <summary>"UPDATE 5" -> "UPDATE"; "INSERT 0 5" -> "INSERT"; SELECT counts are never compared.</summary>
    private static ReadOnlySpan<char> CommandWord(string tag)
    {
        var space = tag.IndexOf(' ', StringComparison.Ordinal);
        return space < 0 ? tag : tag.AsSpan(0, space);
    }

    private static string Truncate(string sql) => sql.Length <= 200 ? sql : sql[..200] + "...";

    private void LogPerNodeStatement(BackendConnection backend, string sql)
    {
        if (_settings.LogPerNodeStatement)
        {
            LogNodeStatement(_logger, Id, backend.NodeId, backend.ProcessId, sql);
        }
    }

    [LoggerMessage(EventId = 1030, Level = LogLevel.Warning, Message = "pid {Pid}: backend nodes disagree ({What}). Possible last query was: \"{Sql}\" details are: {Details}")]
    private static partial void LogMismatch(ILogger logger, int pid, string what, string sql, string details);

    [LoggerMessage(EventId = 1032, Level = LogLevel.Warning, Message = "pid {Pid}: cancelling the statement on node {NodeId}: {Reason}")]
    private static partial void LogCancelledWait(ILogger logger, int pid, int nodeId, string reason);

    [LoggerMessage(EventId = 1031, Level = LogLevel.Information, Message = "pid {Pid}: DB node id: {NodeId} backend pid: {BackendPid} statement: {Sql}")]
    private static partial void LogNodeStatement(ILogger logger, int pid, int nodeId, int backendPid, string sql);
}

/// <summary>The answers of the nodes to one replicated request.</summary>
internal sealed class ReplicationOutcome(NodeResult answer, List<NodeResult> results)
{
    /// <summary>The answer relayed to the client (the main node's unless it was detached).</summary>
    public NodeResult Answer { get; set; } = answer;

    public List<NodeResult> Results { get; } = results;

    /// <summary>The main node failed non-deterministically; the others did not run the request.</summary>
    public bool SkippedOthers { get; set; }

    /// <summary>When set, the client gets this error instead of the answer's CommandComplete.</summary>
    public PgErrorFields? ReplacementError { get; set; }

    public bool StoppedAtCopyIn => Answer.StoppedAtCopyIn;
}
