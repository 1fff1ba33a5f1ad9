using System.Buffers;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Sessions;

public sealed partial class ClientSession
{
    private ArrayBufferWriter<byte> _request = new(1024);

    /// <summary>A simple-protocol Query: classify, route, run, relay.</summary>
    private async Task HandleSimpleQueryAsync(PgMessage message, CancellationToken cancellationToken)
    {
        var sql = PgPayload.SingleCString(message);
        var plan = _context.Router.Plan(sql);
        if (_settings.LogStatement)
        {
            LogStatementText(_logger, Id, sql);
        }

        if (MustRunStatementByStatement(plan))
        {
            await ExecuteStatementByStatementAsync(sql, plan, cancellationToken);
            return;
        }

        await ExecuteQueryAsync(sql, plan, final: true, positionOffset: 0, cancellationToken);
    }

    /// <summary>
    /// Runs a query string and relays its answer; a final one ends with ReadyForQuery (otherwise
    /// the caller ends a longer string). Returns false when it failed.
    /// </summary>
    private async Task<bool> ExecuteQueryAsync(string sql, QueryPlan plan, bool final, int positionOffset, CancellationToken cancellationToken)
    {
        _positionOffset = positionOffset;
        switch (plan.Route)
        {
            case QueryRoute.Empty:
                PgWriter.EmptyQueryResponse(_clientOut);
                if (final)
                {
                    WriteReadyForQuery(_transactionStatus);
                    await _clientOut.FlushAsync(cancellationToken);
                }

                return true;
            case QueryRoute.PoolCommand when final:
                await PoolCommands.RespondAsync(this, plan, sql, cancellationToken);
                return true;
        }

        if (final && BeginToAnswerItself(sql, plan) is { } beginTag)
        {
            await AnswerBeginItselfAsync(plan, sql, beginTag, cancellationToken);
            return true;
        }

        (string Name, WriteRewrite? Rewrite)? sqlPrepare = null;
        if (plan.Statements is [{ Kind: StatementKind.Prepare }])
        {
            (sql, var name, var prepareRewrite, var prepareRefusal) = await RewriteSqlPrepareAsync(sql, cancellationToken);
            if (prepareRefusal is not null)
            {
                await RefuseAsync(prepareRefusal, sendReady: final, cancellationToken);
                return false;
            }

            sqlPrepare = name is null ? null : (name, prepareRewrite);
        }

        _request = MessageBuffer.Reuse(_request, 1024);
        PgWriter.Query(_request, sql);
        await EnsureFunctionCatalogAsync(plan, cancellationToken);
        await ResolveDefaultIsolationAsync(plan, cancellationToken);
        var route = EffectiveRoute(plan);
        if (route == QueryRoute.Read)
        {
            return await ExecuteReadAsync(_request.WrittenMemory, plan, sql, final, cancellationToken);
        }

        var rewrite = route == QueryRoute.Write ? await PrepareWriteAsync(sql, plan, cancellationToken) : WriteRewrite.None;
        if (rewrite.Refusal is { } refusal)
        {
            await RefuseAsync(refusal, sendReady: final, cancellationToken);
            return false;
        }

        CopyRowFiller? copyRowFiller = null;
        if (rewrite.CopyFill is { } fill)
        {
            (copyRowFiller, var copyRefusal) = await PrepareCopyFillAsync(fill, cancellationToken);
            if (copyRefusal is not null)
            {
                await RefuseAsync(copyRefusal, sendReady: final, cancellationToken);
                return false;
            }
        }

        if (rewrite.Template is { } template && await TemplateValuesAsync(template, cancellationToken) is { } values)
        {
            // Every node gets the same values: the main node's time, one generated random value.
            sql = template.RenderLiterals(values);
            _request = MessageBuffer.Reuse(_request, 1024);
            PgWriter.Query(_request, sql);
        }

        var wrap = route == QueryRoute.Write && _transactionStatus == 'I' && !plan.HasTransactionControl && !plan.CannotRunInTransactionBlock;
        var request = new ReplicatedRequest
        {
            Body = _request.WrittenMemory,
            Sql = sql,
            Order = OrderOf(route),
            WrapInTransaction = wrap,
            MayCommit = plan.HasTransactionControl,
            MainPrefix = wrap || _transactionStatus == 'T' ? LockPrefix(rewrite) : null,
            StartsTransaction = (_transactionStatus == 'I' && plan.BeginsTransaction) || (MainBackend?.OwesBegin == true && !plan.IsCopyFromStdin),
            CopyRowFiller = copyRowFiller,
            OnlyRollsBack = plan.OnlyRollsBack,
        };
        if (plan.ChangesCatalog)
        {
            NoteCatalogChange();
        }

        await CloseIdleConnectionsToAsync(plan);
        var succeeded = await ExecuteAndRelayAsync(request, plan, final, cancellationToken);
        if (sqlPrepare is var (preparedName, preparedRewrite))
        {
            NoteSqlPrepared(preparedName, preparedRewrite, succeeded);
        }

        _listening |= plan.Statements.Any(s => s.Kind == StatementKind.Listen);
        if (plan.ChangesPreparedStatements)
        {
            ForgetDeallocatedStatements(plan, sql);
        }

        return succeeded;
    }

    /// <summary>
    /// A plain BEGIN outside a transaction block is answered by the proxy, and every node gets it
    /// in front of its next statement, in the same send (BackendConnection.OweBegin): one round
    /// trip to each node less per transaction. As with drivers that send BEGIN lazily (Npgsql,
    /// pgjdbc), a node's transaction then starts at its first statement. Not for sessions that
    /// LISTEN: an idle node may send them a notification before it gets the BEGIN.
    /// </summary>
    private string? BeginToAnswerItself(string sql, QueryPlan plan)
    {
        if (_transactionStatus != 'I' || _listening || !plan.BeginsTransaction || plan.Statements.Count != 1 || MainBackend is null)
        {
            return null;
        }

        foreach (var backend in _backends)
        {
            if (backend is not null && backend.TransactionStatus != 'I')
            {
                return null;
            }
        }

        return PlainBegin.CommandTag(sql);
    }

    private async Task AnswerBeginItselfAsync(QueryPlan plan, string sql, string commandTag, CancellationToken cancellationToken)
    {
        await ResolveDefaultIsolationAsync(plan, cancellationToken);
        _ = EffectiveRoute(plan); // for what the transaction's isolation level needs later
        foreach (var backend in LiveBackends())
        {
            backend.OweBegin();
            _context.Store.Statistics(backend.NodeId).CountStatement(plan.Category);
            LogPerNodeStatement(backend, sql);
        }

        SetTransactionStatus('T', wrote: false);
        PgWriter.CommandComplete(_clientOut, commandTag);
        WriteReadyForQuery('T');
        await _clientOut.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// A BEGIN that names no level, in a session that set none (startup options, SET): its level
    /// is the node's default for the connection, which postgresql.conf or ALTER DATABASE/ROLE ...
    /// SET may make REPEATABLE READ. Read from the main node once per backend connection.
    /// </summary>
    private async ValueTask ResolveDefaultIsolationAsync(QueryPlan plan, CancellationToken cancellationToken)
    {
        if (!plan.BeginsTransaction || plan.IsolationLevel != SqlIsolationLevel.Default || _sessionIsolation != SqlIsolationLevel.Default || MainBackend is not { } main)
        {
            return;
        }

        if (main.DefaultIsolation is null)
        {
            var result = await QueryCurrentMainAsync("SELECT pg_catalog.current_setting('default_transaction_isolation')", cancellationToken);
            if (result.Error is not null || result.Scalar is not { } level)
            {
                return; // a failed transaction: the BEGIN fails too
            }

            main = MainBackend ?? main; // the node that answered, should the main node have changed meanwhile
            main.DefaultIsolation = level;
        }

        _sessionIsolation = SqlIsolationLevels.Parse(main.DefaultIsolation!);
    }

    /// <summary>
    /// The route for this session right now: a read becomes a write when it calls a function
    /// that may write, when /*REPLICATION*/ asks for it or when the transaction's isolation level
    /// needs every node to take its snapshot at the same statement. A READ ONLY transaction
    /// (pg_dump's) writes nothing whose result could depend on the snapshot: its reads stay on one node.
    /// </summary>
    private QueryRoute EffectiveRoute(QueryPlan plan)
    {
        if (plan.SessionIsolationLevel is { } sessionLevel)
        {
            _sessionIsolation = sessionLevel == SqlIsolationLevel.Default ? _startupIsolation : sessionLevel;
        }

        // A BEGIN that names no level runs at the session's default (SET SESSION CHARACTERISTICS,
        // default_transaction_isolation, the startup options).
        if (plan.IsolationLevel.NeedsAlignedSnapshots()
            || (plan.BeginsTransaction && plan.IsolationLevel == SqlIsolationLevel.Default && _sessionIsolation.NeedsAlignedSnapshots()))
        {
            _transactionNeedsAllNodes = true;
        }

        if (plan.TransactionReadOnly is { } readOnly)
        {
            _transactionReadOnly = readOnly;
        }

        if (RouteSnapshotImport(plan))
        {
            return QueryRoute.Read;
        }

        if (plan.Route != QueryRoute.Read)
        {
            return plan.Route;
        }

        if (plan.FunctionCalls.Count > 0 && _context.Router.AnyFunctionMayWrite(SessionCatalog, plan.FunctionCalls))
        {
            return QueryRoute.Write;
        }

        if (plan.NoLoadBalance || (_transactionNeedsAllNodes && !_transactionReadOnly && _transactionStatus != 'I'))
        {
            return QueryRoute.Broadcast;
        }

        // replicate_select: a read that load balancing does not place (it is off, or the
        // transaction has written) goes to every node instead of the main node alone.
        var options = _context.Options.Current;
        if (options.ReplicateSelect && (!options.LoadBalanceMode || (_transactionStatus != 'I' && _transactionWrote && !_transactionReadOnly)))
        {
            return QueryRoute.Broadcast;
        }

        return QueryRoute.Read;
    }

    /// <summary>
    /// The node a read goes to: the load-balance node unless the transaction has written. A READ
    /// ONLY transaction (which can write only temporary tables, on every node) keeps reading where
    /// it began, so all its reads see one snapshot.
    /// </summary>
    private BackendConnection ReadTarget()
    {
        if (BackendOf(_transactionReadNodeId) is { } imported)
        {
            return imported;
        }

        if (_transactionStatus == 'I' && _context.Options.Current.StatementLevelLoadBalance)
        {
            // statement_level_load_balance: each read outside a transaction picks its node; inside
            // one, reads stay on one node, so they share a snapshot.
            ChooseLoadBalanceNode();
        }

        if ((_transactionStatus == 'I' || !_transactionWrote || _transactionReadOnly) && BackendOf(_loadBalanceNodeId) is { } balanced)
        {
            return balanced;
        }

        return MainBackend ?? throw new SessionTerminatedException("57P03", "all backend nodes of this session are down");
    }

    /// <summary>
    /// Runs a read on one node. A node that fails before anything reached the client is replaced
    /// by another one transparently. A read that fails inside a transaction makes the other
    /// nodes' transaction fail too, so every node is in the same state.
    /// </summary>
    private async Task<bool> ExecuteReadAsync(ReadOnlyMemory<byte> request, QueryPlan plan, string sql, bool final, CancellationToken cancellationToken)
    {
        while (true)
        {
            var backend = ReadTarget();
            var result = ResultFor(backend);
            try
            {
                await SendAsync(backend, request, cancellationToken);
                LogPerNodeStatement(backend, sql);
                await ReadResultAsync(result, 1, streamToClient: true, cancellationToken);
            }
            catch (Exception e) when (IsConnectionFailure(e))
            {
                await HandleBackendLostAsync(backend.NodeId, e, cancellationToken);
                ThrowIfCutMidMessage(result, e);
                if (result.Streamed)
                {
                    await SendErrorAndReadyAsync("57P01", $"backend node {backend.NodeId} terminated while sending the result of this query", e.Message, cancellationToken);
                    return false;
                }

                continue; // nothing reached the client yet: run it on another node
            }

            if (result.StoppedAtCopyIn)
            {
                await RefuseUnexpectedCopyAsync(result, cancellationToken);
                return false;
            }

            _context.Store.Statistics(backend.NodeId).CountStatement(plan.Category);
            CountErrors(result);
            NoteExportedSnapshot(plan, result);
            await FinishReadAsync(result, final, cancellationToken);
            return !result.Failed;
        }
    }

    /// <summary>
    /// Relays a read's answer. A read that failed inside a transaction makes the other nodes'
    /// transaction fail too, so every node is in the same state.
    /// </summary>
    private async Task FinishReadAsync(NodeResult result, bool final, CancellationToken cancellationToken)
    {
        if (result.Status == 'E' && _transactionStatus == 'T')
        {
            foreach (var other in LiveBackends().Where(b => b != result.Backend))
            {
                await ForceFailureAsync(other, cancellationToken);
            }
        }

        SetTransactionStatus(result.Status, wrote: false);
        await ForwardAsync(result, result.Status, final, cancellationToken);
    }

    /// <summary>Runs a replicated request (or COPY) and relays the answer. Returns false when it failed.</summary>
    private async Task<bool> ExecuteAndRelayAsync(ReplicatedRequest request, QueryPlan plan, bool final, CancellationToken cancellationToken)
    {
        var outcome = await ExecuteReplicatedAsync(request, cancellationToken);
        await RelayOutcomeAsync(outcome, plan.Category, request.Order == ReplicationOrder.MainFirst, final, cancellationToken);
        return outcome.ReplacementError is null && !outcome.Answer.Failed;
    }

    /// <summary>Counts, updates the transaction state and sends the answer (or the replacement error) to the client.</summary>
    private ValueTask RelayOutcomeAsync(ReplicationOutcome outcome, StatementCategory category, bool wrote, bool final, CancellationToken cancellationToken)
    {
        foreach (var result in outcome.Results)
        {
            _context.Store.Statistics(result.NodeId).CountStatement(category);
            CountErrors(result);
        }

        var answer = outcome.Answer;
        var status = answer.Backend.TransactionStatus;
        SetTransactionStatus(status, wrote);
        if (outcome.ReplacementError is { } error)
        {
            // Keep what was already streamed; drop the answer's own completion and add the error.
            if (!answer.Streamed)
            {
                answer.Bytes.ResetWrittenCount();
            }

            PgWriter.ErrorOrNotice(answer.Bytes, true, error);
        }

        return ForwardAsync(answer, status, final, cancellationToken);
    }

    private void SetTransactionStatus(char status, bool wrote)
    {
        _transactionStatus = status;
        if (status == 'I')
        {
            foreach (var backend in _backends)
            {
                backend?.ForgetOwedBegin(); // a node that never needed the transaction's BEGIN
            }

            _transactionWrote = false;
            _transactionNeedsAllNodes = false;
            _transactionReadOnly = false;
            _transactionReadNodeId = -1;
            _clock.TransactionEnded();
            EndCatalogChanges();
        }
        else if (wrote)
        {
            _transactionWrote = true;
        }
    }

    private void CountErrors(NodeResult result)
    {
        if (result.FirstError is { } error)
        {
            _context.Store.Statistics(result.NodeId).CountError(error.Severity);
        }
    }

    /// <summary>
    /// The main node's clocks for a write that calls time functions: its transaction timestamp
    /// (read once per transaction) and its current time. Null when they cannot be read (the
    /// transaction has failed: the write will fail everywhere anyway).
    /// </summary>
    private async Task<(string Transaction, string Statement)?> ReadClocksAsync(bool needStatementClock, CancellationToken cancellationToken)
    {
        if (_transactionStatus == 'T' && !needStatementClock)
        {
            if (_clock.Use() is { } known)
            {
                return (known, known);
            }

            _clock.Missed();
        }

        var result = await QueryCurrentMainAsync(TimeFunctions.ReadClocksSql, cancellationToken);
        if (!result.Succeeded || result.Rows.Count == 0)
        {
            return null;
        }

        var transaction = result.Rows[0][0]!;
        if (_transactionStatus == 'T')
        {
            transaction = _clock.Store(transaction);
        }

        return (transaction, result.Rows[0][1]!);
    }

    /// <summary>
    /// A legacy FunctionCall ('F', used by large objects): a write on every node. One that creates
    /// a large object gets an OID picked by the proxy, so every node creates the same one.
    /// </summary>
    private async Task HandleFunctionCallAsync(PgMessage message, CancellationToken cancellationToken)
    {
        _request = MessageBuffer.Reuse(_request, 1024);
        foreach (var segment in message.Raw)
        {
            _request.Write(segment.Span);
        }

        if (_request.WrittenCount <= MaxLargeObjectCreateLength && FunctionCallMessage.CreatesLargeObject(_request.WrittenSpan, out var resultFormat)
            && await NewLargeObjectIdsAsync(1, cancellationToken) is [var oid])
        {
            _request = MessageBuffer.Reuse(_request, 1024);
            FunctionCallMessage.LargeObjectCreate(_request, (uint)oid, resultFormat);
        }

        var request = new ReplicatedRequest { Body = _request.WrittenMemory, Sql = "<function call>", Order = ReplicationOrder.MainFirst };
        var outcome = await ExecuteReplicatedAsync(request, cancellationToken);
        await RelayOutcomeAsync(outcome, StatementCategory.Other, wrote: true, final: true, cancellationToken);
    }

    // A FunctionCall of lo_creat or lo_create with its one argument is far smaller.
    private const int MaxLargeObjectCreateLength = 64;

    /// <summary>A statement routed as a read asked for COPY data: abort that COPY and say why.</summary>
    private async Task RefuseUnexpectedCopyAsync(NodeResult result, CancellationToken cancellationToken)
    {
        PgWriter.CopyFail(result.Backend.Writer, "pgpoolconsole: unexpected COPY FROM STDIN in a read-only statement");
        await result.Backend.Writer.FlushAsync(cancellationToken);
        result.Reset();
        await ReadResultAsync(result, 1, streamToClient: false, cancellationToken);
        SetTransactionStatus(result.Backend.TransactionStatus, wrote: false);
        await SendErrorAndReadyAsync("0A000", "COPY FROM STDIN started by a statement that was routed as read-only", null, cancellationToken);
    }

    [LoggerMessage(EventId = 1040, Level = LogLevel.Information, Message = "pid {Pid}: statement: {Sql}")]
    private static partial void LogStatementText(ILogger logger, int pid, string sql);
}
