using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Sessions;

public sealed partial class ClientSession
{
    // Characters to add to error positions while a statement cut out of a longer string runs.
    private int _positionOffset;

    /// <summary>
    /// Query strings that must run one statement at a time. One that both writes and ends a
    /// transaction (BEGIN; UPDATE ...; COMMIT) must end it on the other nodes before the main node,
    /// like a COMMIT on its own; sent whole, the main node would commit first. One with DDL before
    /// a write (CREATE TABLE t (... DEFAULT now()); INSERT INTO t ...) must have the write's
    /// defaults looked up once the DDL has run; sent whole, the table is not there yet when they
    /// are, and every node would compute now() or nextval() on its own. A PREPARE or EXECUTE is
    /// rewritten on its own (see RewriteSqlPrepareAsync).
    /// </summary>
    private static bool MustRunStatementByStatement(QueryPlan plan) =>
        plan.Statements.Count > 1 &&
        ((plan.Route is QueryRoute.Write or QueryRoute.TransactionEnd &&
          (plan.Statements.Any(s => s.Transaction is TransactionCommand.Commit or TransactionCommand.Rollback or TransactionCommand.PrepareTransaction)
           || WritesAfterDdl(plan.Statements)))
         || plan.Statements.Any(s => s.Kind is StatementKind.Prepare or StatementKind.Execute));

    private static bool WritesAfterDdl(IReadOnlyList<StatementInfo> statements)
    {
        var ddlSeen = false;
        foreach (var statement in statements)
        {
            if (ddlSeen && !statement.IsReadOnly && statement.Kind != StatementKind.Ddl)
            {
                return true;
            }

            ddlSeen |= statement.Kind == StatementKind.Ddl;
        }

        return false;
    }

    /// <summary>
    /// Runs the statements of such a string one by one, keeping PostgreSQL's semantics for
    /// multi-statement strings: statements outside an explicit transaction run in one implicit
    /// transaction (begun here and committed at the end, or when the string's COMMIT comes), a
    /// BEGIN turns it into an explicit one, and the first error stops the rest (rolling back the
    /// implicit transaction). The client sees one answer and one ReadyForQuery.
    /// </summary>
    private async Task ExecuteStatementByStatementAsync(string sql, QueryPlan plan, CancellationToken cancellationToken)
    {
        var implicitBlock = false;
        foreach (var statement in plan.Statements)
        {
            if (statement.Transaction == TransactionCommand.Begin && implicitBlock)
            {
                // The implicit block becomes the client's explicit transaction.
                implicitBlock = false;
                PgWriter.CommandComplete(_clientOut, "BEGIN");
                continue;
            }

            if (_transactionStatus == 'I' && statement.Transaction == TransactionCommand.None && !statement.CannotRunInTransactionBlock)
            {
                implicitBlock = await BeginImplicitBlockAsync(cancellationToken);
            }

            var text = sql.Substring(statement.Start, statement.Length);
            var succeeded = await ExecuteQueryAsync(text, _context.Router.Plan(text), final: false, positionOffset: statement.Start, cancellationToken);
            if (_transactionStatus == 'I')
            {
                implicitBlock = false;
            }

            if (!succeeded)
            {
                break;
            }
        }

        _positionOffset = 0;
        if (implicitBlock)
        {
            await EndImplicitBlockAsync(cancellationToken);
        }

        WriteReadyForQuery(_transactionStatus);
        await _clientOut.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Where PostgreSQL would run an implicit transaction but the proxy must run its statements one
    /// part at a time: a transaction block of the proxy's own on every node. True when it is open.
    /// </summary>
    private async Task<bool> BeginImplicitBlockAsync(CancellationToken cancellationToken)
    {
        await RunSilentlyAsync(BeginQuery, ReplicationOrder.Parallel, cancellationToken);
        return _transactionStatus == 'T';
    }

    /// <summary>Ends that block: COMMIT, or ROLLBACK after an error, on the other nodes first (nothing if the client's COMMIT ended it).</summary>
    private async Task EndImplicitBlockAsync(CancellationToken cancellationToken)
    {
        if (_transactionStatus != 'I')
        {
            await RunSilentlyAsync(_transactionStatus == 'T' ? CommitQuery : RollbackQuery, ReplicationOrder.MainLast, cancellationToken);
        }
    }

    /// <summary>Runs a statement of our own on every node (BEGIN, COMMIT) without relaying its answer.</summary>
    private async Task RunSilentlyAsync(byte[] query, ReplicationOrder order, CancellationToken cancellationToken)
    {
        var outcome = await ExecuteReplicatedAsync(new ReplicatedRequest { Body = query, Sql = "<transaction control>", Order = order, OnlyRollsBack = query == RollbackQuery }, cancellationToken);
        if (outcome.ReplacementError is { } error)
        {
            PgWriter.ErrorOrNotice(_clientOut, true, error);
        }

        SetTransactionStatus(outcome.Answer.Backend.TransactionStatus, wrote: false);
    }
}
