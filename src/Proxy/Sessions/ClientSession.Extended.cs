using System.Buffers;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Replication;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// Parameters the proxy added to a prepared write in place of time and random functions and such
/// defaults (from $First on), so each execution gives every node the same values; and the
/// insert_lock keys its executions take on the main node.
/// </summary>
internal sealed record InjectedParameters(int First, SqlTemplate? Template, IReadOnlyList<string> LockKeys)
{
    public int Count => Template?.Slots.Count ?? 0;
}

/// <summary>A prepared statement of the session (named, or the unnamed one) and the nodes that hold it.</summary>
internal sealed class PreparedStatementState(string name, string sql, QueryPlan plan, byte[] parseMessage, InjectedParameters? injected)
{
    public InjectedParameters? Injected { get; } = injected;

    public string Name { get; } = name;

    public string Sql { get; } = sql;

    public QueryPlan Plan { get; } = plan;

    /// <summary>The client's Parse message, to re-create the statement on a node that lacks it.</summary>
    public byte[] ParseMessage { get; } = parseMessage;

    public UInt128 Nodes { get; set; }
}

/// <summary>A portal and the nodes it was bound on.</summary>
internal sealed record PortalState(string StatementName, QueryPlan? Plan, UInt128 Nodes);

/// <summary>One message of an extended-query batch (Parse ... Sync) with what routing needs.</summary>
internal readonly record struct BatchMessage(char Type, int Offset, int Length, string Name, string StatementName, char DescribeKind, QueryPlan? Plan, string? Sql = null, InjectedParameters? Injected = null);

/// <summary>The extended-query messages received since the last Sync.</summary>
internal sealed class ExtendedBatch
{
    public ArrayBufferWriter<byte> Bytes { get; private set; } = new(1024);

    public List<BatchMessage> Messages { get; } = [];

    /// <summary>Messages already sent to the backends (on Flush).</summary>
    public int Dispatched { get; set; }

    /// <summary>Set once part of the batch was sent: later parts go to the same nodes.</summary>
    public QueryRoute? Route { get; set; }

    public int ReadNodeId { get; set; } = -1;

    public bool IsOpen => Messages.Count > 0 || Route is not null;

    /// <summary>Some of the batch reached a node: until its Sync the session is not at a boundary.</summary>
    public bool SentAny => Route is not null || SentTo != 0;

    /// <summary>Set when a Parse was refused (a write, or a pgpool command the extended protocol cannot run): the batch answers with this error instead of running.</summary>
    public PgErrorFields? Refusal { get; set; }

    /// <summary>Nodes that got parts of the batch (on Flush, or at a DDL before a write): they wait for its Sync.</summary>
    public UInt128 SentTo { get; set; }

    /// <summary>A part failed (or a lookup between parts did): as in PostgreSQL, the rest up to Sync is skipped.</summary>
    public bool Failed { get; private set; }

    /// <summary>Nodes that answered a part with an error: they skip everything up to Sync.</summary>
    public UInt128 Skipping { get; private set; }

    /// <summary>An error the client has not been told yet (a failed lookup, a refusal after a part ran).</summary>
    public PgErrorFields? PendingError { get; set; }

    /// <summary>The proxy opened a transaction block for this batch (see DispatchBeforeWriteAsync) and ends it at Sync.</summary>
    public bool ImplicitBlock { get; set; }

    public bool WasSentTo(int nodeId) => (SentTo & (UInt128.One << nodeId)) != 0;

    public void Fail(PgErrorFields? untold, UInt128 skipping)
    {
        Failed = true;
        PendingError ??= untold;
        Skipping |= skipping;
    }

    public void Clear()
    {
        Refusal = null;
        SentTo = 0;
        Failed = false;
        Skipping = 0;
        PendingError = null;
        ImplicitBlock = false;
        Bytes = MessageBuffer.Reuse(Bytes, 1024);
        Messages.Clear();
        Dispatched = 0;
        Route = null;
        ReadNodeId = -1;
    }
}

public sealed partial class ClientSession
{
    private static readonly byte[] SyncMessage = [(byte)'S', 0, 0, 0, 4];
    private static readonly byte[] FlushMessage = [(byte)'H', 0, 0, 0, 4];

    private readonly ExtendedBatch _batch = new();
    private readonly Dictionary<string, PreparedStatementState> _statements = new(StringComparer.Ordinal);
    private readonly Dictionary<string, PortalState> _portals = new(StringComparer.Ordinal);
    private byte[]? _parseScratch;

    /// <summary>Keeps an extended-query message until the batch is flushed or synced.</summary>
    private async ValueTask AddToBatchAsync(PgMessage message, CancellationToken cancellationToken)
    {
        var offset = _batch.Bytes.WrittenCount;
        var type = message.TypeChar;
        var payload = new PgPayload(PgPayload.Contiguous(message, ref _parseScratch), type);
        switch (type)
        {
            case 'P':
                {
                    var rawParse = message.Raw.ToArray();
                    var name = payload.ReadCString();
                    var sql = payload.ReadCString();
                    var typeCount = payload.ReadInt16();
                    var types = new int[Math.Max((int)typeCount, 0)];
                    for (var i = 0; i < types.Length; i++)
                    {
                        types[i] = payload.ReadInt32();
                    }

                    var plan = _context.Router.Plan(sql);
                    if (_settings.LogStatement)
                    {
                        LogStatementText(_logger, Id, sql);
                    }

                    string? literalSql = null;
                    if (plan.Route == QueryRoute.PoolCommand)
                    {
                        var (showSql, rejection) = PoolCommands.OverExtendedProtocol(this, plan.PoolCommand, sql, named: name.Length > 0);
                        if (showSql is not null)
                        {
                            literalSql = showSql;
                            plan = _context.Router.Plan(showSql);
                        }
                        else
                        {
                            _batch.Refusal ??= rejection;
                        }
                    }

                    if (PendingPartChangesCatalog() && _batch.Refusal is null && !_batch.Failed && plan.Statements.Any(statement => WriteRewriter.TablesToLookUp(sql, statement).Count > 0))
                    {
                        await DispatchBeforeWriteAsync(cancellationToken);
                    }

                    InjectedParameters? injected = null;
                    if (plan.Route != QueryRoute.Empty && !_batch.Failed)
                    {
                        await EnsureFunctionCatalogAsync(plan, cancellationToken);
                    }

                    if (!_batch.Failed)
                    {
                        await ResolveDefaultIsolationAsync(plan, cancellationToken);
                    }

                    if (!_batch.Failed && plan.Statements is [{ Kind: Sql.StatementKind.Prepare }])
                    {
                        // The SQL PREPARE is noted before it runs: a node joined after that would get it twice.
                        await EndDeferredBoundaryAsync(cancellationToken);
                        var (prepareSql, preparedName, prepareRewrite, prepareRefusal) = await RewriteSqlPrepareAsync(sql, cancellationToken);
                        if (prepareRefusal is not null)
                        {
                            _batch.Refusal ??= RefusalError(prepareRefusal);
                        }
                        else if (preparedName is not null)
                        {
                            // Noted now rather than once it ran: should the PREPARE fail (its name
                            // taken), EXECUTEs of that name fail alike on every node.
                            NoteSqlPrepared(preparedName, prepareRewrite, succeeded: true);
                            literalSql = ReferenceEquals(prepareSql, sql) ? null : prepareSql;
                        }
                    }

                    if (!_batch.Failed && EffectiveRoute(plan) == QueryRoute.Write)
                    {
                        // Copy what the Parse message says before anything awaits: the message lives in the pipe's buffer.
                        var rewrite = await PrepareWriteAsync(sql, plan, cancellationToken);
                        if (rewrite.Refusal is { } refusal)
                        {
                            _batch.Refusal ??= RefusalError(refusal);
                        }
                        else if (rewrite.CopyFill is { } fill)
                        {
                            _batch.Refusal ??= RefusalError($"COPY leaves column {fill.Columns[0]} to its default, which each node would compute differently; the proxy fills it in only for a COPY sent as a simple query; include the column in the data or set allow_nondeterministic_writes = on");
                        }
                        else if (rewrite.Template is { } literalTemplate && (plan.ChangesCatalog || plan.Statements is [{ Kind: Sql.StatementKind.Execute }]))
                        {
                            // DDL and EXECUTE take no parameters: their values go in as literals, read now.
                            // A prepared EXECUTE would repeat one execution's random values and OIDs.
                            if (!plan.ChangesCatalog && name.Length > 0)
                            {
                                _batch.Refusal ??= RefusalError("this EXECUTE runs a prepared write that gets fresh values from the proxy at every execution, so the driver must not prepare it; send it unprepared");
                            }
                            else if (await TemplateValuesAsync(literalTemplate, cancellationToken) is { } values)
                            {
                                literalSql = literalTemplate.RenderLiterals(values);
                            }
                        }
                        else if (!rewrite.IsNone)
                        {
                            injected = new InjectedParameters(Math.Max(TimeFunctions.HighestParameter(sql), types.Length) + 1, rewrite.Template, rewrite.LockKeys);
                        }
                    }

                    if (literalSql is not null)
                    {
                        BindMessage.Parse(_batch.Bytes, name, literalSql, types);
                    }
                    else if (injected?.Template is { } template)
                    {
                        // Time and random functions become parameters the proxy fills at every execution.
                        BindMessage.Parse(_batch.Bytes, name, template.RenderParameters(injected.First), types);
                    }
                    else
                    {
                        _batch.Bytes.Write(rawParse);
                    }

                    _batch.Messages.Add(new BatchMessage('P', offset, _batch.Bytes.WrittenCount - offset, name, name, '\0', plan, sql, injected));
                    return;
                }

            case 'B':
                {
                    var portal = payload.ReadCString();
                    var statement = payload.ReadCString();
                    CopyRaw(message);
                    _batch.Messages.Add(new BatchMessage('B', offset, _batch.Bytes.WrittenCount - offset, portal, statement, '\0', PlanOfStatementInBatch(statement), Injected: InjectedOfStatement(statement)));
                    return;
                }

            case 'D':
            case 'C':
                {
                    var kind = (char)payload.ReadByte();
                    if (kind is not ('S' or 'P'))
                    {
                        throw new PgProtocolException($"invalid {(type == 'D' ? "DESCRIBE" : "CLOSE")} message subtype {(int)kind}");
                    }

                    var name = payload.ReadCString();
                    CopyRaw(message);
                    _batch.Messages.Add(new BatchMessage(type, offset, _batch.Bytes.WrittenCount - offset, name, kind == 'S' ? name : "", kind, null, Injected: kind == 'S' ? InjectedOfStatement(name) : null));
                    return;
                }

            case 'E':
                {
                    var portal = payload.ReadCString();
                    CopyRaw(message);
                    _batch.Messages.Add(new BatchMessage('E', offset, _batch.Bytes.WrittenCount - offset, portal, "", '\0', PlanOfPortalInBatch(portal)));
                    return;
                }
        }
    }

    private void CopyRaw(in PgMessage message)
    {
        foreach (var segment in message.Raw)
        {
            _batch.Bytes.Write(segment.Span);
        }
    }

    private InjectedParameters? InjectedOfStatement(string statementName)
    {
        for (var i = _batch.Messages.Count - 1; i >= 0; i--)
        {
            var message = _batch.Messages[i];
            if (message.Type == 'P' && message.Name == statementName)
            {
                return message.Injected;
            }
        }

        return _statements.TryGetValue(statementName, out var statement) ? statement.Injected : null;
    }

    /// <summary>
    /// The bytes to send for the pending part of the batch: the client's messages, except that
    /// Binds of statements with time parameters get the main node's time appended.
    /// </summary>
    private async Task<ArrayBufferWriter<byte>?> BuildPendingBodyAsync(bool sync, CancellationToken cancellationToken)
    {
        var pending = _batch.Messages.Skip(_batch.Dispatched).ToList();
        var body = new ArrayBufferWriter<byte>(_batch.Bytes.WrittenCount + 16);
        foreach (var message in pending)
        {
            var bytes = _batch.Bytes.WrittenSpan.Slice(message.Offset, message.Length);
            if (message.Type == 'B' && message.Injected?.Template is { } template)
            {
                if (await TemplateValuesAsync(template, cancellationToken) is not { } values)
                {
                    return null;
                }

                BindMessage.AppendTextParameters(_batch.Bytes.WrittenSpan.Slice(message.Offset, message.Length), values, body);
            }
            else
            {
                body.Write(bytes);
            }
        }

        body.Write(sync ? SyncMessage : FlushMessage);
        return body;
    }

    /// <summary>insert_lock keys of the statements the pending part executes.</summary>
    private IReadOnlyList<string> PendingLockKeys() =>
        [.. _batch.Messages.Skip(_batch.Dispatched).Where(m => m.Type == 'E').Select(m => StatementOfPortal(m.Name)).Where(n => n is not null)
            .SelectMany(n => InjectedOfStatement(n!)?.LockKeys ?? [])];

    /// <summary>Parameters to hide from each ParameterDescription the pending part will produce (0: none).</summary>
    private int[] ParameterDescriptionTrims() =>
        [.. _batch.Messages.Skip(_batch.Dispatched).Where(m => m.Type == 'D' && m.DescribeKind == 'S').Select(m => m.Injected?.Count ?? 0)];

    private QueryPlan? PlanOfStatementInBatch(string statementName)
    {
        for (var i = _batch.Messages.Count - 1; i >= 0; i--)
        {
            var message = _batch.Messages[i];
            if (message.Type == 'P' && message.Name == statementName)
            {
                return message.Plan;
            }
        }

        return _statements.TryGetValue(statementName, out var statement) ? statement.Plan : null;
    }

    private QueryPlan? PlanOfPortalInBatch(string portalName)
    {
        for (var i = _batch.Messages.Count - 1; i >= 0; i--)
        {
            var message = _batch.Messages[i];
            if (message.Type == 'B' && message.Name == portalName)
            {
                return message.Plan;
            }
        }

        return _portals.TryGetValue(portalName, out var portal) ? portal.Plan : null;
    }

    /// <summary>
    /// Sends the batch received so far: on Sync the whole rest of it plus Sync, on Flush the
    /// rest plus Flush (the batch then stays open on the same nodes until Sync).
    /// </summary>
    private async Task ExecuteBatchAsync(bool sync, CancellationToken cancellationToken)
    {
        if (!sync)
        {
            await EndDeferredBoundaryAsync(cancellationToken);
        }

        if (_batch.Refusal is { } error && !_batch.Failed)
        {
            // A Parse was refused: the batch fails there, as if PostgreSQL had refused it.
            _batch.Fail(error, skipping: 0);
        }

        if (_batch.Failed)
        {
            await SkipFailedBatchAsync(sync, cancellationToken);
            return;
        }

        var pending = _batch.Messages.Count - _batch.Dispatched;
        if (!sync && pending == 0)
        {
            await _clientOut.FlushAsync(cancellationToken);
            return;
        }

        var route = _batch.Route ?? RouteBatch();
        if (_batch.Route == QueryRoute.Read && RequiresEveryNode(_batch.Dispatched))
        {
            // A read batch turned into a write after a Flush: the other nodes need what the read
            // node already got (statements and portals) before they can run the rest.
            route = QueryRoute.Write;
        }
        else if (_batch.Route == QueryRoute.Broadcast && EffectiveRoute(BatchPlan(_batch.Dispatched)) is var rest && rest is QueryRoute.Write or QueryRoute.TransactionEnd)
        {
            // A BEGIN sent ahead (Flush, or a simple Query before Sync) does not make the writes
            // after it order-free: they go to the main node first, or a commit to it last.
            route = rest;
        }

        var firstDispatch = _batch.Route is null;
        _batch.Route = route;
        var body = await BuildPendingBodyAsync(sync, cancellationToken);
        if (_batch.Failed)
        {
            await SkipFailedBatchAsync(sync, cancellationToken); // a clock read between parts failed
            return;
        }

        if (body is null)
        {
            // The clocks could not be read: the transaction has failed, so the batch fails on every node anyway.
            body = new ArrayBufferWriter<byte>();
            body.Write(_batch.Bytes.WrittenSpan[(_batch.Dispatched == 0 ? 0 : _batch.Messages[_batch.Dispatched - 1].Offset + _batch.Messages[_batch.Dispatched - 1].Length)..]);
            body.Write(sync ? SyncMessage : FlushMessage);
        }

        var trims = ParameterDescriptionTrims();
        var terminalCount = sync ? -1 : CountCompletions(_batch.Dispatched);
        var sql = DescribeBatch();
        var category = BatchCategory();
        if (PendingPartChangesCatalog())
        {
            NoteCatalogChange();
        }

        if (route == QueryRoute.Read)
        {
            await ExecuteReadBatchAsync(body.WrittenMemory, sync, terminalCount, firstDispatch, category, sql, trims, cancellationToken);
        }
        else
        {
            var plan = BatchPlan();
            await CloseIdleConnectionsToAsync(plan);
            var wrap = sync && firstDispatch && route == QueryRoute.Write && _transactionStatus == 'I' && !plan.HasTransactionControl && !plan.CannotRunInTransactionBlock;
            var lockKeys = PendingLockKeys();
            var request = new ReplicatedRequest
            {
                Body = body.WrittenMemory,
                Sql = sql,
                Order = OrderOf(route),
                ReadyCount = sync ? 1 : 0,
                TerminalCount = terminalCount,
                WrapInTransaction = wrap,
                MayCommit = plan.HasTransactionControl,
                MainPrefix = lockKeys.Count > 0 && (wrap || _transactionStatus == 'T') ? LockPrefix(new WriteRewrite(null, null, lockKeys)) : null,
                PrefixFor = firstDispatch ? nodeId => PrefixFor(nodeId) : null,
                ParameterDescriptionTrims = trims,
                StartsTransaction = sync && _transactionStatus == 'I' && plan.BeginsTransaction,
                OnlyRollsBack = plan.OnlyRollsBack,
            };
            var outcome = await ExecuteReplicatedAsync(request, cancellationToken);
            _listening |= plan.Statements.Any(s => s.Kind == Sql.StatementKind.Listen);
            if (sync)
            {
                await RelayOutcomeAsync(outcome, category, route == QueryRoute.Write, final: !_batch.ImplicitBlock, cancellationToken);
                if (_batch.ImplicitBlock)
                {
                    await EndImplicitBlockAsync(cancellationToken);
                    WriteReadyForQuery(_transactionStatus);
                    await _clientOut.FlushAsync(cancellationToken);
                }
            }
            else
            {
                _batch.SentTo |= LiveMask();
                await ForwardPartialAsync(outcome.Answer, outcome.ReplacementError, cancellationToken);
                if (outcome.Answer.Failed || outcome.ReplacementError is not null || outcome.SkippedOthers)
                {
                    _batch.Fail(untold: null, SkippingNodes(outcome.Results));
                }
            }

            RecordBatchNodes(LiveMask());
        }

        _batch.Dispatched = _batch.Messages.Count;
        if (sync)
        {
            FinishBatch();
        }
    }

    /// <summary>A read-only batch on one node, retried elsewhere if that node fails before answering.</summary>
    private async Task ExecuteReadBatchAsync(ReadOnlyMemory<byte> body, bool sync, int terminalCount, bool firstDispatch, StatementCategory category, string sql, int[] trims, CancellationToken cancellationToken)
    {
        while (true)
        {
            var backend = BackendOf(_batch.ReadNodeId) ?? PortalNode() ?? ReadTarget();
            _batch.ReadNodeId = backend.NodeId;
            var result = ResultFor(backend);
            result.ParameterDescriptionTrims = trims.Length > 0 ? new Queue<int>(trims) : null;
            try
            {
                if (firstDispatch)
                {
                    var (prefix, suppressed) = PrefixFor(backend.NodeId);
                    backend.Writer.Write(prefix.Span);
                    result.SuppressedCompletions = suppressed;
                }

                await SendAsync(backend, body, cancellationToken);
                LogPerNodeStatement(backend, sql);
                await ReadResultAsync(result, 1, streamToClient: true, cancellationToken, terminalCount);
            }
            catch (Exception e) when (IsConnectionFailure(e))
            {
                await HandleBackendLostAsync(backend.NodeId, e, cancellationToken);
                ThrowIfCutMidMessage(result, e);
                if (result.Streamed || !firstDispatch)
                {
                    _batch.Dispatched = _batch.Messages.Count;
                    if (sync)
                    {
                        FinishBatch();
                        await SendErrorAndReadyAsync("57P01", $"backend node {backend.NodeId} terminated while running this query", e.Message, cancellationToken);
                    }
                    else
                    {
                        throw new SessionTerminatedException("57P01", $"backend node {backend.NodeId} terminated in the middle of an extended-query batch", e.Message);
                    }

                    return;
                }

                _batch.ReadNodeId = -1;
                continue;
            }

            if (result.StoppedAtCopyIn)
            {
                await RefuseUnexpectedCopyAsync(result, cancellationToken);
                return;
            }

            _context.Store.Statistics(backend.NodeId).CountStatement(category);
            CountErrors(result);
            RecordBatchNodes(UInt128.One << backend.NodeId);
            if (!sync)
            {
                _batch.SentTo |= UInt128.One << backend.NodeId;
                await ForwardPartialAsync(result, null, cancellationToken);
                if (result.Failed)
                {
                    _batch.Fail(untold: null, UInt128.One << backend.NodeId);
                }

                return;
            }

            await FinishReadAsync(result, final: true, cancellationToken);
            return;
        }
    }

    /// <summary>Whether the part not sent yet executes DDL.</summary>
    private bool PendingPartChangesCatalog()
    {
        for (var i = _batch.Dispatched; i < _batch.Messages.Count; i++)
        {
            if (_batch.Messages[i] is { Type: 'E', Plan.ChangesCatalog: true })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// A write whose target's column defaults must be looked up follows DDL in the same batch
    /// (Npgsql sends "CREATE TABLE t (... DEFAULT now()); INSERT INTO t ..." as one): the lookup
    /// must see the DDL, so the batch so far is sent first, ending with Flush. Outside a
    /// transaction the batch then runs in a transaction block of the proxy's own, committed at
    /// Sync (the other nodes first, as for any write), where PostgreSQL would have run it as one
    /// implicit transaction.
    /// </summary>
    private async Task DispatchBeforeWriteAsync(CancellationToken cancellationToken)
    {
        if (_batch.Route is null && _transactionStatus == 'I')
        {
            var plan = BatchPlan();
            if (!plan.HasTransactionControl && !plan.CannotRunInTransactionBlock)
            {
                _batch.ImplicitBlock = await BeginImplicitBlockAsync(cancellationToken);
            }
        }

        await ExecuteBatchAsync(sync: false, cancellationToken);
    }

    /// <summary>
    /// After a part of the batch failed (or a Parse was refused, or a lookup between parts failed):
    /// as PostgreSQL does after an error, everything up to Sync is skipped. At Sync every node ends
    /// the batch the same way: a node that failed skips to the Sync; any other first runs a
    /// statement that fails, so that what the batch did there is rolled back (or its transaction
    /// aborted) as on the failed node.
    /// </summary>
    private async Task SkipFailedBatchAsync(bool sync, CancellationToken cancellationToken)
    {
        _batch.Dispatched = _batch.Messages.Count;
        if (_batch.PendingError is { } error)
        {
            PgWriter.ErrorOrNotice(_clientOut, true, error);
            _batch.PendingError = null;
        }

        if (!sync)
        {
            await _clientOut.FlushAsync(cancellationToken);
            return;
        }

        foreach (var backend in LiveBackends())
        {
            if (_batch.SentTo == 0)
            {
                await ForceFailureAsync(backend, cancellationToken); // in a transaction, which the error aborts
            }
            else
            {
                await EndFailedBatchOnNodeAsync(backend, (_batch.Skipping & (UInt128.One << backend.NodeId)) != 0, cancellationToken);
            }
        }

        SetTransactionStatus(MainBackend?.TransactionStatus ?? 'I', wrote: false);
        if (_batch.ImplicitBlock)
        {
            await EndImplicitBlockAsync(cancellationToken);
        }

        WriteReadyForQuery(_transactionStatus);
        await _clientOut.FlushAsync(cancellationToken);

        FinishBatch();
    }

    private async Task EndFailedBatchOnNodeAsync(BackendConnection backend, bool skipping, CancellationToken cancellationToken)
    {
        var result = ControlResultFor(backend);
        try
        {
            if (!skipping)
            {
                backend.Writer.Write(MirrorFailureQuery);
            }

            await SendAsync(backend, SyncMessage, cancellationToken);
            await ReadResultAsync(result, skipping ? 1 : 2, streamToClient: false, cancellationToken);
        }
        catch (Exception e) when (IsConnectionFailure(e))
        {
            await HandleBackendLostAsync(backend.NodeId, e, cancellationToken);
        }
    }

    private static UInt128 SkippingNodes(List<NodeResult> results)
    {
        UInt128 nodes = 0;
        foreach (var result in results)
        {
            if (result.Failed)
            {
                nodes |= UInt128.One << result.NodeId;
            }
        }

        return nodes;
    }

    /// <summary>After a Flush: relay what arrived, without ReadyForQuery.</summary>
    private async Task ForwardPartialAsync(NodeResult answer, PgErrorFields? replacementError, CancellationToken cancellationToken)
    {
        if (answer.Bytes.WrittenCount > 0)
        {
            _clientOut.Write(answer.Bytes.WrittenSpan);
        }

        if (replacementError is not null)
        {
            PgWriter.ErrorOrNotice(_clientOut, true, replacementError);
        }

        await _clientOut.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Read batch: only Executes of read-only statements, no named Parse or statement Close (those
    /// change session state that must stay identical on every node), and load balancing allowed.
    /// Otherwise the batch's executed statements decide, as in a multi-statement query.
    /// </summary>
    private QueryRoute RouteBatch()
    {
        var plan = BatchPlan();
        var route = EffectiveRoute(plan);
        if (route == QueryRoute.Empty || route == QueryRoute.PoolCommand)
        {
            route = QueryRoute.Read;
        }

        if (route == QueryRoute.Read && RequiresEveryNode(0))
        {
            route = QueryRoute.Broadcast;
        }

        return route;
    }

    /// <summary>Whether messages from <paramref name="from"/> on must reach every node.</summary>
    private bool RequiresEveryNode(int from)
    {
        for (var i = from; i < _batch.Messages.Count; i++)
        {
            var message = _batch.Messages[i];
            if ((message.Type == 'P' && message.Name.Length > 0) || (message.Type == 'C' && message.DescribeKind == 'S' && message.Name.Length > 0))
            {
                return true;
            }

            if (message.Type == 'E' && (message.Plan is null || EffectiveRoute(message.Plan) != QueryRoute.Read))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The combined plan of the statements the batch executes (or parses, when it executes none),
    /// from its message <paramref name="from"/> on.
    /// </summary>
    private QueryPlan BatchPlan(int from = 0)
    {
        var statements = new List<Sql.StatementInfo>();
        foreach (var message in _batch.Messages.Skip(from))
        {
            if (message.Type == 'E' && message.Plan is not null)
            {
                statements.AddRange(message.Plan.Statements);
            }
        }

        if (statements.Count == 0)
        {
            foreach (var message in _batch.Messages.Skip(from))
            {
                if (message.Type == 'P' && message.Plan is not null)
                {
                    statements.AddRange(message.Plan.Statements.Where(s => s.IsReadOnly));
                }
            }
        }

        return QueryRouter.Build(statements);
    }

    private StatementCategory BatchCategory()
    {
        foreach (var message in _batch.Messages)
        {
            if (message.Type == 'E' && message.Plan is not null)
            {
                return message.Plan.Category;
            }
        }

        return StatementCategory.Other;
    }

    /// <summary>The SQL of the first statement the batch executes (or parses), for logs.</summary>
    private string DescribeBatch()
    {
        foreach (var message in _batch.Messages)
        {
            if (message.Type == 'E' && StatementOfPortal(message.Name) is { } statementName && SqlOfStatement(statementName) is { } sql)
            {
                return sql;
            }
        }

        foreach (var message in _batch.Messages)
        {
            if (message.Type == 'P')
            {
                return message.Sql ?? "";
            }
        }

        return "<extended query>";
    }

    private string? StatementOfPortal(string portal)
    {
        for (var i = _batch.Messages.Count - 1; i >= 0; i--)
        {
            if (_batch.Messages[i].Type == 'B' && _batch.Messages[i].Name == portal)
            {
                return _batch.Messages[i].StatementName;
            }
        }

        return _portals.TryGetValue(portal, out var state) ? state.StatementName : null;
    }

    private string? SqlOfStatement(string statement)
    {
        for (var i = _batch.Messages.Count - 1; i >= 0; i--)
        {
            if (_batch.Messages[i].Type == 'P' && _batch.Messages[i].Name == statement)
            {
                return _batch.Messages[i].Sql;
            }
        }

        return _statements.TryGetValue(statement, out var state) ? state.Sql : null;
    }

    /// <summary>Completions a flushed part produces: one per Parse, Bind, Describe, Execute and Close.</summary>
    private int CountCompletions(int from)
    {
        var count = 0;
        for (var i = from; i < _batch.Messages.Count; i++)
        {
            if (_batch.Messages[i].Type is 'P' or 'B' or 'D' or 'E' or 'C')
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>A read of a portal bound in an earlier batch must run where the portal lives.</summary>
    private BackendConnection? PortalNode()
    {
        foreach (var message in _batch.Messages)
        {
            if (message.Type is 'E' or 'D' && (message.Type == 'E' || message.DescribeKind == 'P') && !BoundInBatch(message.Name)
                && _portals.TryGetValue(message.Name, out var portal))
            {
                foreach (var backend in _backends)
                {
                    if (backend is not null && (portal.Nodes & (UInt128.One << backend.NodeId)) != 0)
                    {
                        return backend;
                    }
                }
            }
        }

        return null;
    }

    private bool BoundInBatch(string portal)
    {
        foreach (var message in _batch.Messages)
        {
            if (message.Type == 'B' && message.Name == portal)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Parse messages a node needs before this batch: statements the batch binds or describes
    /// that were prepared on other nodes only (an unnamed statement parsed for a read). Their
    /// ParseComplete answers are swallowed.
    /// </summary>
    private (ReadOnlyMemory<byte> Prefix, int Suppressed) PrefixFor(int nodeId)
    {
        ArrayBufferWriter<byte>? prefix = null;
        var count = 0;
        var bit = UInt128.One << nodeId;
        var parsedHere = new HashSet<string>(StringComparer.Ordinal);
        foreach (var message in _batch.Messages)
        {
            if (message.Type == 'P')
            {
                parsedHere.Add(message.Name);
                continue;
            }

            var needed = message.Type == 'B' || (message.Type == 'D' && message.DescribeKind == 'S') ? message.StatementName : null;
            if (needed is null || parsedHere.Contains(needed) || !_statements.TryGetValue(needed, out var statement) || (statement.Nodes & bit) != 0)
            {
                continue;
            }

            prefix ??= new ArrayBufferWriter<byte>();
            prefix.Write(statement.ParseMessage);
            parsedHere.Add(needed);
            statement.Nodes |= bit;
            count++;
        }

        return prefix is null ? (ReadOnlyMemory<byte>.Empty, 0) : (prefix.WrittenMemory, count);
    }

    private UInt128 LiveMask()
    {
        UInt128 mask = 0;
        foreach (var backend in _backends)
        {
            if (backend is not null)
            {
                mask |= UInt128.One << backend.NodeId;
            }
        }

        return mask;
    }

    /// <summary>Records where the dispatched part's statements and portals now exist.</summary>
    private void RecordBatchNodes(UInt128 nodes)
    {
        for (var i = _batch.Dispatched; i < _batch.Messages.Count; i++)
        {
            var message = _batch.Messages[i];
            switch (message.Type)
            {
                case 'P':
                    {
                        var bytes = _batch.Bytes.WrittenSpan.Slice(message.Offset, message.Length).ToArray();
                        _statements[message.Name] = new PreparedStatementState(message.Name, message.Sql ?? "", message.Plan!, bytes, message.Injected) { Nodes = nodes };
                        break;
                    }

                case 'B':
                    _portals[message.Name] = new PortalState(message.StatementName, message.Plan, nodes);
                    break;
                case 'C':
                    if (message.DescribeKind == 'S')
                    {
                        if (_statements.TryGetValue(message.Name, out var closed))
                        {
                            closed.Nodes &= ~nodes;
                            if (closed.Nodes == 0)
                            {
                                _statements.Remove(message.Name);
                            }
                        }
                    }
                    else
                    {
                        _portals.Remove(message.Name);
                    }

                    break;
            }
        }
    }

    private void FinishBatch()
    {
        _batch.Clear();
        if (_transactionStatus == 'I')
        {
            _portals.Clear(); // portals end with their transaction
        }
    }

    /// <summary>
    /// SQL DEALLOCATE and DISCARD ALL also drop protocol-level prepared statements: forget them so
    /// they are not re-created on a node that lacks them.
    /// </summary>
    private void ForgetDeallocatedStatements(QueryPlan plan, string sql)
    {
        foreach (var statement in plan.Statements)
        {
            if (statement.Kind == Sql.StatementKind.Discard)
            {
                _statements.Clear();
                ForgetSqlPrepared(null);
            }
            else if (statement.Kind == Sql.StatementKind.Deallocate)
            {
                var name = StatementNames.DeallocateTarget(sql.AsSpan(statement.Start, statement.Length));
                ForgetSqlPrepared(name);
                if (name is null)
                {
                    _statements.Clear();
                }
                else
                {
                    _statements.Remove(name);
                }
            }
        }
    }
}
