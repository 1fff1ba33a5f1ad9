using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Sessions;

public sealed partial class ClientSession
{
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

        var catalog = _context.Router.Catalog.For(Database);
        if (!catalog.FunctionsLoaded && MainBackend is { } main)
        {
            await catalog.LoadFunctionsAsync(main, cancellationToken);
        }
    }

    /// <summary>
    /// How to make a write deterministic on every node (values for time and random functions and
    /// defaults, insert_lock keys), reading the target tables' defaults from the main node's catalog.
    /// </summary>
    private async Task<WriteRewrite> PrepareWriteAsync(string sql, QueryPlan plan, CancellationToken cancellationToken)
    {
        var options = _context.Options.Current;
        var catalog = _context.Router.Catalog.For(Database);
        var tables = new Dictionary<QualifiedName, TableInfo?>();
        foreach (var statement in plan.Statements)
        {
            if (statement.TargetTable is { } target && statement.Kind is StatementKind.Insert or StatementKind.Update && !tables.ContainsKey(target) && MainBackend is { } main)
            {
                tables[target] = await catalog.TableAsync(target, main, cancellationToken);
            }
        }

        return WriteRewriter.Rewrite(sql, plan, name => tables.GetValueOrDefault(name), options.AllowNondeterministicWrites, options.InsertLock);
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

        return template.Values(transactionTime, statementTime);
    }

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

        PgWriter.Error(_clientOut, "ERROR", "0A000", "pgpoolconsole refused the statement: " + reason, hint: "the nodes would store different values");
        if (sendReady)
        {
            PgWriter.ReadyForQuery(_clientOut, _transactionStatus);
        }

        await _clientOut.FlushAsync(cancellationToken);
    }
}
