using PgPoolConsole.Proxy.Replication;

namespace PgPoolConsole.Proxy.Sessions;

public sealed partial class ClientSession
{
    // SQL-level prepared writes (PREPARE name AS INSERT ...) that need something from the proxy at
    // each EXECUTE: values for the parameters the proxy added (the main node's clock, random
    // values, large object OIDs) and insert_lock keys. By name, as PostgreSQL folds it.
    private readonly Dictionary<string, WriteRewrite> _sqlPrepared = new(StringComparer.Ordinal);

    /// <summary>
    /// <c>PREPARE name AS</c> a write: the text to send, with the proxy's values as extra
    /// parameters after the client's (as the extended protocol's prepared statements get them),
    /// and what its EXECUTEs will need (null when nothing). A refusal when the write cannot be
    /// made deterministic, as the statement itself would be refused.
    /// </summary>
    private async Task<(string Sql, string? Name, WriteRewrite? Rewrite, string? Refusal)> RewriteSqlPrepareAsync(string sql, CancellationToken cancellationToken)
    {
        if (StatementNames.PrepareParts(sql) is not var (name, declaredTypes, bodyStart))
        {
            return (sql, null, null, null);
        }

        var body = sql[bodyStart..];
        var plan = _context.Router.Plan(body);
        await EnsureFunctionCatalogAsync(plan, cancellationToken);
        var writes = plan.Route == QueryRoute.Write || (plan.FunctionCalls.Count > 0 && _context.Router.AnyFunctionMayWrite(SessionCatalog, plan.FunctionCalls));
        var rewrite = writes ? await PrepareWriteAsync(body, plan, cancellationToken) : WriteRewrite.None;
        if (rewrite.Refusal is { } refusal)
        {
            return (sql, null, null, refusal);
        }

        if (rewrite.Template is { } template)
        {
            sql = sql[..bodyStart] + template.RenderParameters(Math.Max(TimeFunctions.HighestParameter(body), declaredTypes) + 1);
        }

        return (sql, name, rewrite.IsNone ? null : rewrite, null);
    }

    /// <summary>A PREPARE ran: remember what its EXECUTEs need (a failed PREPARE changed nothing).</summary>
    private void NoteSqlPrepared(string name, WriteRewrite? rewrite, bool succeeded)
    {
        if (!succeeded)
        {
            return;
        }

        if (rewrite is null)
        {
            _sqlPrepared.Remove(name);
        }
        else
        {
            _sqlPrepared[name] = rewrite;
        }
    }

    /// <summary>DEALLOCATE and DISCARD ALL: forget SQL-level prepared statements.</summary>
    private void ForgetSqlPrepared(string? name)
    {
        if (name is null)
        {
            _sqlPrepared.Clear();
        }
        else
        {
            _sqlPrepared.Remove(name);
        }
    }
}
