namespace PgPoolConsole.Proxy.Sql;

/// <summary>Utility statements: SHOW, pool commands, transaction control, SET, PREPARE, DECLARE and DDL.</summary>
public static partial class StatementClassifier
{
    private static void AnalyzeShow(in TokenReader r, int i, ref Facts f)
    {
        f.Kind = StatementKind.Show;
        f.IsReadOnly = true;
        Span<char> buffer = stackalloc char[WordBuffer];
        f.PoolCommand = r.LowerWord(i + 1, buffer) switch
        {
            "pool_nodes" => PoolCommand.ShowPoolNodes,
            "pool_processes" => PoolCommand.ShowPoolProcesses,
            "pool_pools" => PoolCommand.ShowPoolPools,
            "pool_version" => PoolCommand.ShowPoolVersion,
            "pool_status" => PoolCommand.ShowPoolStatus,
            "pool_health_check_stats" => PoolCommand.ShowPoolHealthCheckStats,
            "pool_backend_stats" => PoolCommand.ShowPoolBackendStats,
            "pool_cache" => PoolCommand.ShowPoolCache,
            _ => PoolCommand.None,
        };
    }

    /// <summary>PGPOOL SHOW|SET|RESET: answered by the proxy, so nothing reaches a node.</summary>
    private static void AnalyzePgpool(in TokenReader r, int i, ref Facts f)
    {
        Span<char> buffer = stackalloc char[WordBuffer];
        (f.Kind, f.PoolCommand) = r.LowerWord(i + 1, buffer) switch
        {
            "show" => (StatementKind.Show, PoolCommand.PgpoolShow),
            "set" => (StatementKind.Set, PoolCommand.PgpoolSet),
            "reset" => (StatementKind.Reset, PoolCommand.PgpoolReset),
            _ => (StatementKind.Other, PoolCommand.None),
        };
        f.IsReadOnly = f.PoolCommand != PoolCommand.None;
    }

    private static void AnalyzeTransaction(in TokenReader r, int i, ReadOnlySpan<char> word, ref Facts f)
    {
        f.Kind = StatementKind.Transaction;
        switch (word)
        {
            case "begin":
                f.Transaction = TransactionCommand.Begin;
                f.IsolationLevel = ReadIsolationLevel(r, i + 1);
                f.TransactionReadOnly = ReadAccessMode(r, i + 1);
                break;
            case "start" when r.Is(i + 1, "transaction"):
                f.Transaction = TransactionCommand.Begin;
                f.IsolationLevel = ReadIsolationLevel(r, i + 2);
                f.TransactionReadOnly = ReadAccessMode(r, i + 2);
                break;
            case "start":
                f.Kind = StatementKind.Other;
                break;
            case "commit" or "rollback" when r.Is(i + 1, "prepared"):
                f.Transaction = word is "commit" ? TransactionCommand.CommitPrepared : TransactionCommand.RollbackPrepared;
                f.CannotRunInTransactionBlock = true;
                break;
            case "commit" or "end":
                f.Transaction = TransactionCommand.Commit;
                break;
            case "rollback":
                var j = r.Is(i + 1, "work") || r.Is(i + 1, "transaction") ? i + 2 : i + 1;
                f.Transaction = r.Is(j, "to") ? TransactionCommand.RollbackToSavepoint : TransactionCommand.Rollback;
                break;
            case "abort":
                f.Transaction = TransactionCommand.Rollback;
                break;
            case "savepoint":
                f.Transaction = TransactionCommand.Savepoint;
                break;
            case "release":
                f.Transaction = TransactionCommand.Release;
                break;
        }
    }

    /// <summary>The level in <c>ISOLATION LEVEL ...</c> among the transaction modes from <paramref name="start"/>.</summary>
    private static SqlIsolationLevel ReadIsolationLevel(in TokenReader r, int start)
    {
        for (var k = start; k + 2 < r.Count; k++)
        {
            if (!r.Is(k, "isolation") || !r.Is(k + 1, "level"))
            {
                continue;
            }

            var level = k + 2;
            if (r.Is(level, "serializable"))
            {
                return SqlIsolationLevel.Serializable;
            }

            if (r.Is(level, "repeatable"))
            {
                return SqlIsolationLevel.RepeatableRead;
            }

            if (r.Is(level, "read"))
            {
                return r.Is(level + 1, "uncommitted") ? SqlIsolationLevel.ReadUncommitted : SqlIsolationLevel.ReadCommitted;
            }
        }

        return SqlIsolationLevel.Default;
    }

    /// <summary>READ ONLY (true) or READ WRITE (false) among the transaction modes from <paramref name="start"/>; null when neither.</summary>
    private static bool? ReadAccessMode(in TokenReader r, int start)
    {
        for (var k = start; k + 1 < r.Count; k++)
        {
            // Not the READ of an isolation level (READ COMMITTED, REPEATABLE READ).
            if (r.Is(k, "read") && (r.Is(k + 1, "only") || r.Is(k + 1, "write")) && !r.Is(k - 1, "level"))
            {
                return r.Is(k + 1, "only");
            }
        }

        return null;
    }

    /// <summary>PREPARE TRANSACTION 'gid' is transaction control; PREPARE name [(types)] AS stmt is session state.</summary>
    private static void AnalyzePrepare(in TokenReader r, int i, ref Facts f)
    {
        if (r.Is(i + 1, "transaction") && r.IsKind(i + 2, SqlTokenKind.String))
        {
            f.Kind = StatementKind.Transaction;
            f.Transaction = TransactionCommand.PrepareTransaction;
            return;
        }

        f.Kind = StatementKind.Prepare;
        f.ChangesSessionState = true;
        f.ScanCalls = true;
        ScanQueryBody(r, i, ref f);
    }

    /// <summary>SET LOCAL, SET TRANSACTION and SET CONSTRAINTS last until the transaction ends; other SETs outlive it.</summary>
    private static void AnalyzeSet(in TokenReader r, int i, ref Facts f)
    {
        f.Kind = StatementKind.Set;
        var j = i + 1;
        if (r.Is(j, "local"))
        {
            return;
        }

        if (r.Is(j, "session"))
        {
            if (r.Is(j + 1, "characteristics"))
            {
                f.IsolationLevel = ReadIsolationLevel(r, j + 2);
                f.SessionIsolation = f.IsolationLevel;
                f.ChangesSessionState = true;
                return;
            }

            j++;
        }

        if (r.Is(j, "default_transaction_isolation"))
        {
            // SET default_transaction_isolation {= | TO} 'repeatable read' | serializable | DEFAULT
            var value = r.Is(j + 1, "to") || (r.IsKind(j + 1, SqlTokenKind.Operator) && r.Text(j + 1) is "=") ? j + 2 : j + 1;
            f.SessionIsolation = value < r.Count ? SqlIsolationLevels.Parse(r.Sql[r.Tokens[value].Start..r.Tokens[^1].End]) : SqlIsolationLevel.Default;
        }

        if (r.Is(j, "transaction"))
        {
            f.IsolationLevel = ReadIsolationLevel(r, j + 1);
            f.TransactionReadOnly = ReadAccessMode(r, j + 1);
            if (r.Is(j + 1, "snapshot") && r.IsKind(j + 2, SqlTokenKind.String) && r.Text(j + 2) is [ '\'', .. var id, '\'' ])
            {
                f.ImportedSnapshot = id.ToString();
            }

            return;
        }

        f.ChangesSessionState = !r.Is(j, "constraints");
    }

    /// <summary>DECLARE name [BINARY] [ASENSITIVE|INSENSITIVE] [[NO] SCROLL] CURSOR [WITH|WITHOUT HOLD] FOR query.</summary>
    private static void AnalyzeDeclare(in TokenReader r, int i, ref Facts f)
    {
        f.Kind = StatementKind.Declare;
        f.ScanCalls = true;
        for (var k = i + 1; k < r.Count && !r.Is(k, "for"); k++)
        {
            if (r.Is(k, "with") && r.Is(k + 1, "hold"))
            {
                f.IsHoldableCursor = true;
                f.ChangesSessionState = true;
            }
        }

        ScanQueryBody(r, i, ref f);
    }

    private static void AnalyzeDdl(in TokenReader r, int i, ReadOnlySpan<char> word, ref Facts f)
    {
        f.Kind = StatementKind.Ddl;
        f.ScanCalls = true;
        Span<char> buffer = stackalloc char[WordBuffer];
        switch (word)
        {
            case "create":
                AnalyzeCreate(r, i, ref f);
                break;
            case "drop":
                // Dropping never calls a function; DROP FUNCTION f(int) names one.
                f.ScanCalls = false;
                var dropped = r.LowerWord(i + 1, buffer);
                f.CannotRunInTransactionBlock = dropped is "database" or "tablespace" or "subscription"
                    || (dropped is "index" && r.Is(i + 2, "concurrently"));
                if (dropped is "database")
                {
                    // DROP DATABASE [IF EXISTS] name
                    var named = r.Is(i + 2, "if") && r.Is(i + 3, "exists") ? i + 4 : i + 2;
                    f.DatabaseNeededAlone = DatabaseNameAt(r, named);
                }

                break;
            case "alter":
                var altered = r.LowerWord(i + 1, buffer);
                var movesDatabase = altered is "database" && FindSequence(r, i + 2, "set", "tablespace");
                f.CannotRunInTransactionBlock = altered switch
                {
                    "system" or "subscription" => true,
                    "database" => movesDatabase,
                    "table" => FindSequence(r, i + 2, "detach", "partition") && r.HasTopLevel(i + 2, "concurrently"),
                    _ => false,
                };
                if (movesDatabase || (altered is "database" && r.Is(i + 3, "rename")))
                {
                    f.DatabaseNeededAlone = DatabaseNameAt(r, i + 2);
                }

                break;
            case "reindex":
                var j = r.IsKind(i + 1, SqlTokenKind.OpenParen) ? r.SkipParens(i + 1) : i + 1;
                f.CannotRunInTransactionBlock = r.LowerWord(j, buffer) is "system" or "database" or "schema"
                    || r.Is(j + 1, "concurrently");
                break;
            case "cluster":
                var k = r.IsKind(i + 1, SqlTokenKind.OpenParen) ? r.SkipParens(i + 1) : i + 1;
                if (r.Is(k, "verbose"))
                {
                    k++;
                }

                f.CannotRunInTransactionBlock = k >= r.Count;
                break;
            case "comment" or "security":
                f.ScanCalls = false;
                break;
        }
    }

    /// <summary>The database named by the identifier at <paramref name="i"/>, or null.</summary>
    private static string? DatabaseNameAt(in TokenReader r, int i) =>
        r.IsName(i) ? SqlNames.FromToken(r.Sql, r.Tokens, i) : null;

    /// <summary>
    /// The template of CREATE DATABASE name [WITH] ... [TEMPLATE [=] t | DEFAULT] ..., read from the
    /// options at <paramref name="start"/>: template1 when not named.
    /// </summary>
    private static string? TemplateOf(in TokenReader r, int start)
    {
        for (var k = start; k < r.Count; k++)
        {
            if (!r.Is(k, "template"))
            {
                continue;
            }

            var value = r.IsKind(k + 1, SqlTokenKind.Operator) && r.Text(k + 1) is "=" ? k + 2 : k + 1;
            if (r.Is(value, "default"))
            {
                break;
            }

            if (r.IsKind(value, SqlTokenKind.String) && r.Text(value) is ['\'', .. var literal, '\''] && !literal.Contains('\''))
            {
                return literal.ToString();
            }

            return DatabaseNameAt(r, value);
        }

        return "template1";
    }

    private static bool FindSequence(in TokenReader r, int start, string first, string second)
    {
        for (var k = start; k + 1 < r.Count; k++)
        {
            if (r.Is(k, first) && r.Is(k + 1, second))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>CREATE [OR REPLACE] [GLOBAL|LOCAL] [TEMP|TEMPORARY|UNLOGGED|UNIQUE|RECURSIVE...] object ...</summary>
    private static void AnalyzeCreate(in TokenReader r, int i, ref Facts f)
    {
        var j = i + 1;
        if (r.Is(j, "or") && r.Is(j + 1, "replace"))
        {
            j += 2;
        }

        var temporary = false;
        while (r.Is(j, "temp") || r.Is(j, "temporary") || r.Is(j, "global") || r.Is(j, "local") || r.Is(j, "unlogged")
            || r.Is(j, "unique") || r.Is(j, "recursive"))
        {
            temporary |= r.Is(j, "temp") || r.Is(j, "temporary");
            j++;
        }

        Span<char> buffer = stackalloc char[WordBuffer];
        switch (r.LowerWord(j, buffer))
        {
            case "database" or "tablespace" or "subscription":
                f.CannotRunInTransactionBlock = true;
                if (r.Is(j, "database"))
                {
                    f.DatabaseNeededAlone = TemplateOf(r, j + 2);
                }

                break;
            case "index":
                f.IsCreateIndex = true;
                f.CannotRunInTransactionBlock = r.Is(j + 1, "concurrently");
                break;
            case "table" or "view" or "sequence" or "function" or "procedure":
                var k = j + 1;
                if (r.Is(k, "if") && r.Is(k + 1, "not") && r.Is(k + 2, "exists"))
                {
                    k += 3;
                }

                MarkTemporary(temporary || IsInTemporarySchema(r.ReadName(ref k)), ref f);
                break;
        }
    }
}
