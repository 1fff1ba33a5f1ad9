using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Sessions;

public sealed partial class ClientSession
{
    private static readonly BackendQueryResult SkippedByFailedBatch = new([], null, new PgErrorFields { SqlState = "25P02", Message = "the extended-query batch has already failed" });

    // Set once the session's transaction (or batch) has run DDL that other sessions cannot see
    // yet: until it ends, lookups go to a catalog of the session's own, not the shared one (which
    // may hold, or be refilled with, what the catalog was before).
    private CatalogCache.DatabaseCatalog? _transactionCatalog;

    private CatalogCache.DatabaseCatalog SessionCatalog => _transactionCatalog ?? _context.Router.Catalog.For(Database);

    /// <summary>DDL is about to run: from now until the transaction ends, read the catalog afresh.</summary>
    private void NoteCatalogChange() => _transactionCatalog = new CatalogCache.DatabaseCatalog();

    /// <summary>The transaction ended: its catalog changes are everybody's now (or gone), so the shared facts are dropped.</summary>
    private void EndCatalogChanges()
    {
        if (_transactionCatalog is not null)
        {
            _transactionCatalog = null;
            _context.Router.Catalog.Invalidate(Database);
        }
    }

    /// <summary>
    /// Runs one of the proxy's own queries (catalog lookups, clocks) on the main node. Between the
    /// parts of an extended-query batch it must not end the batch's transaction; once the batch has
    /// failed there the node answers nothing before Sync, so nothing is sent. A failed lookup inside
    /// a batch fails the batch, as PostgreSQL would: the client is told at its next Flush or Sync.
    /// </summary>
    private async Task<BackendQueryResult> QueryMainAsync(BackendConnection main, string sql, CancellationToken cancellationToken)
    {
        if (!_batch.WasSentTo(main.NodeId))
        {
            return await BackendQuery.RunAsync(main, sql, cancellationToken);
        }

        if (_batch.Failed)
        {
            return SkippedByFailedBatch;
        }

        var result = await BackendQuery.RunInsideBatchAsync(main, sql, cancellationToken);
        if (result.Error is { } error)
        {
            _batch.Fail(error with { Severity = "ERROR" }, UInt128.One << main.NodeId);
        }

        return result;
    }

    /// <summary>
    /// Runs one of the proxy's own queries on the main node; when that node is lost meanwhile, the
    /// next node becomes main and answers instead.
    /// </summary>
    private async Task<BackendQueryResult> QueryCurrentMainAsync(string sql, CancellationToken cancellationToken)
    {
        while (true)
        {
            var main = MainBackend ?? throw new SessionTerminatedException("57P03", "all backend nodes of this session are down");
            try
            {
                return await QueryMainAsync(main, sql, cancellationToken);
            }
            catch (Exception e) when (IsConnectionFailure(e))
            {
                await HandleBackendLostAsync(main.NodeId, e, cancellationToken);
            }
        }
    }

    /// <summary>
    /// Before routing a query that calls functions: make sure this database's function catalog is
    /// known, so a SELECT calling a volatile user function is recognised as a write.
    /// </summary>
    private async ValueTask EnsureFunctionCatalogAsync(QueryPlan plan, CancellationToken cancellationToken)
    {
        if (plan.FunctionCalls.Count == 0)
        {
            return;
        }

        var catalog = SessionCatalog;
        if (!catalog.FunctionsLoaded && MainBackend is { } main)
        {
            await catalog.LoadFunctionsAsync((sql, token) => QueryMainAsync(main, sql, token), cancellationToken);
        }
    }

    /// <summary>
    /// How to make a write deterministic on every node (values for time and random functions and
    /// defaults, insert_lock keys), reading the target tables' defaults from the main node's catalog.
    /// </summary>
    private async Task<WriteRewrite> PrepareWriteAsync(string sql, QueryPlan plan, CancellationToken cancellationToken)
    {
        var options = _context.Options.Current;
        var catalog = SessionCatalog;
        var tables = new Dictionary<QualifiedName, TableInfo?>();
        foreach (var statement in plan.Statements)
        {
            foreach (var name in WriteRewriter.TablesToLookUp(sql, statement))
            {
                if (!tables.ContainsKey(name) && MainBackend is { } main)
                {
                    var table = tables[name] = await catalog.TableAsync(name, (text, token) => QueryMainAsync(main, text, token), cancellationToken);
                    if (table is not null && _context.Router.Catalog.FirstTriggerWarning(Database, table))
                    {
                        LogNondeterministicTriggers(_logger, Id, Database, table.Name, table.NondeterministicTriggers!);
                    }
                }
            }
        }

        return WriteRewriter.Rewrite(sql, plan, name => tables.GetValueOrDefault(name), options.AllowNondeterministicWrites, options.InsertLock, _sqlPrepared.GetValueOrDefault);
    }

    /// <summary>The values a template's holes take for this execution (the main node's clocks when needed).</summary>
    private async Task<IReadOnlyList<string>?> TemplateValuesAsync(SqlTemplate template, CancellationToken cancellationToken)
    {
        var transactionTime = "";
        var statementTime = "";
        if (template.NeedsClock)
        {
            if (await ReadClocksAsync(template.Slots.Contains(SlotKind.StatementTime), cancellationToken) is not var (transaction, statement))
            {
                return null;
            }

            (transactionTime, statementTime) = (transaction, statement);
        }

        IReadOnlyList<long>? largeObjectIds = null;
        if (template.LargeObjectIdCount > 0)
        {
            largeObjectIds = await NewLargeObjectIdsAsync(template.LargeObjectIdCount, cancellationToken);
            if (largeObjectIds is null)
            {
                return null;
            }
        }

        return template.Values(transactionTime, statementTime, largeObjectIds);
    }

    /// <summary>
    /// OIDs for the large objects a write creates, the same on every node: above the main node's
    /// highest (read in the session's transaction, so its own new objects count). Null when the
    /// main node could not be asked (a failed transaction: the write then fails on every node) or
    /// no OID is left above its highest.
    /// </summary>
    private async Task<IReadOnlyList<long>?> NewLargeObjectIdsAsync(int count, CancellationToken cancellationToken)
    {
        var result = await QueryCurrentMainAsync(LargeObjectIds.HighestQuery, cancellationToken);
        if (!result.Succeeded || result.Rows.Count != 1)
        {
            return null;
        }

        long? highest = result.Rows[0][0] is { } text ? long.Parse(text, System.Globalization.CultureInfo.InvariantCulture) : null;
        var ids = new long[count];
        for (var i = 0; i < count; i++)
        {
            if (_context.LargeObjects.Next(highest) is not { } id)
            {
                return null;
            }

            ids[i] = id;
        }

        return ids;
    }

    /// <summary>
    /// A COPY FROM STDIN that leaves time defaults out: the filler that appends their values,
    /// evaluated once on the main node, to every row. Null filler and null refusal when the
    /// transaction has failed (the COPY then fails on every node without reading data).
    /// </summary>
    private async Task<(CopyRowFiller? Filler, string? Refusal)> PrepareCopyFillAsync(CopyRowFill fill, CancellationToken cancellationToken)
    {
        var encoding = fill.Layout.Encoding ?? MainBackend?.ServerParameters.GetValueOrDefault("client_encoding") ?? "UTF8";
        if (EmbedsAscii(encoding))
        {
            return (null, $"COPY leaves column {fill.Columns[0]} to its default, which each node would compute differently; the proxy fills it in only for encodings whose multibyte characters never contain ASCII bytes, not {encoding}; include the column in the data or set allow_nondeterministic_writes = on");
        }

        if (!fill.NeedsMainNode)
        {
            return (new CopyRowFiller(fill.Layout, fill.Columns, [.. fill.Columns.Select(_ => (string?)null)], fill.PerRow), null);
        }

        if (await TemplateValuesAsync(fill.Values, cancellationToken) is not { } values)
        {
            return (null, null);
        }

        var result = await QueryCurrentMainAsync(fill.Values.RenderLiterals(values), cancellationToken);
        if (result.Error is not null || result.Rows.Count != 1)
        {
            return (null, $"the defaults of {string.Join(", ", fill.Columns)} could not be evaluated for the COPY: {result.Error?.Message ?? "no row"}");
        }

        return (new CopyRowFiller(fill.Layout, fill.Columns, result.Rows[0], fill.PerRow), null);
    }

    // Client encodings in which a byte of a multibyte character can be a backslash, quote or
    // delimiter (PostgreSQL's list of encodings that embed ASCII), with their aliases.
    private static bool EmbedsAscii(string encoding) =>
        new string([.. encoding.Where(char.IsLetterOrDigit)]).ToUpperInvariant() is "SJIS" or "SHIFTJIS" or "MSKANJI" or "WIN932" or "CP932" or "SHIFTJIS2004"
            or "BIG5" or "WIN950" or "CP950" or "GBK" or "WIN936" or "CP936" or "UHC" or "WIN949" or "CP949" or "GB18030" or "JOHAB";

    /// <summary>insert_lock: the statements that take the advisory locks on the main node before a write.</summary>
    private static byte[]? LockPrefix(WriteRewrite rewrite)
    {
        if (rewrite.LockKeys.Count == 0)
        {
            return null;
        }

        var sql = "SELECT " + string.Join(", ", rewrite.LockKeys.Distinct().Select(key => $"pg_catalog.pg_advisory_xact_lock({key})"));
        return PgWriter.QueryBytes(sql);
    }

    /// <summary>
    /// Refuses a statement that cannot be made deterministic. Like any error inside a transaction it
    /// aborts the transaction, on every node.
    /// </summary>
    private async Task RefuseAsync(string reason, bool sendReady, CancellationToken cancellationToken)
    {
        if (_transactionStatus == 'T')
        {
            foreach (var backend in LiveBackends())
            {
                await ForceFailureAsync(backend, cancellationToken);
            }

            SetTransactionStatus(MainBackend?.TransactionStatus ?? 'E', wrote: false);
        }

        PgWriter.ErrorOrNotice(_clientOut, true, RefusalError(reason));
        if (sendReady)
        {
            WriteReadyForQuery(_transactionStatus);
        }

        await _clientOut.FlushAsync(cancellationToken);
    }

    private static PgErrorFields RefusalError(string reason) =>
        new() { Severity = "ERROR", SqlState = "0A000", Message = "pgpoolconsole refused the statement: " + reason, Hint = "the nodes would store different values" };

    [LoggerMessage(EventId = 1060, Level = LogLevel.Warning, Message = "pid {Pid}: table {Database}.{Table} has triggers that read the clock or a random value: {Triggers}; the proxy cannot see inside them, so each node stores its own value there (pgpoolconsole verify will show the table as differing)")]
    private static partial void LogNondeterministicTriggers(ILogger logger, int pid, string database, string table, string triggers);
}
