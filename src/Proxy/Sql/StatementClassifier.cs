using System.Runtime.InteropServices;
using System.Text;

namespace PgPoolConsole.Proxy.Sql;

/// <summary>
/// Classifies statements for routing, mirroring pgpool-II 4.3's pool_where_to_send in replication mode:
/// what a statement is, whether one node may answer it, and what it does to session state.
/// </summary>
/// <remarks>
/// Classification works on tokens, never on a syntax tree: one lexer pass, then a few forward scans
/// over a contiguous array of 12-byte tokens (reused per thread, see <see cref="TokenListPool"/>), so
/// the hot path allocates only the <see cref="StatementInfo"/> and the names it reports. Where tokens
/// are ambiguous the answer leans to "not read-only": sending a read to every node costs time, sending
/// a write to one node loses data.
/// </remarks>
public static partial class StatementClassifier
{
    /// <summary>Large enough for every keyword the classifier compares, pool command names included.</summary>
    private const int WordBuffer = 32;

    /// <summary>Classifies the single statement in <c>sql[start..start+length]</c>.</summary>
    public static StatementInfo Classify(string sql, int start, int length)
    {
        ArgumentNullException.ThrowIfNull(sql);
        ArgumentOutOfRangeException.ThrowIfNegative(start);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(start, sql.Length - length);
        var tokens = TokenListPool.Rent();
        try
        {
            var text = sql.AsSpan(0, start + length);
            SqlLexer.Tokenize(text, start, tokens);
            return Classify(text, CollectionsMarshal.AsSpan(tokens), start, length);
        }
        finally
        {
            TokenListPool.Return(tokens);
        }
    }

    /// <summary>Splits <paramref name="sql"/> (see <see cref="StatementSplitter"/>) and classifies each statement.</summary>
    public static IReadOnlyList<StatementInfo> ClassifyAll(string sql)
    {
        ArgumentNullException.ThrowIfNull(sql);
        var tokens = TokenListPool.Rent();
        try
        {
            SqlLexer.Tokenize(sql, tokens);
            var all = CollectionsMarshal.AsSpan(tokens);
            var segments = new List<StatementSegment>();
            StatementSplitter.Split(sql, all, segments);
            var result = new StatementInfo[segments.Count];
            for (var s = 0; s < result.Length; s++)
            {
                var segment = segments[s];
                result[s] = Classify(sql, all.Slice(segment.FirstToken, segment.TokenCount), segment.Start, segment.Length);
            }

            return result;
        }
        finally
        {
            TokenListPool.Return(tokens);
        }
    }

    private static StatementInfo Classify(ReadOnlySpan<char> sql, ReadOnlySpan<SqlToken> tokens, int start, int length)
    {
        var facts = default(Facts);
        ReadHints(sql.Slice(start, length), ref facts);
        IReadOnlyList<QualifiedName> calls = [];
        if (OnlySemicolons(tokens))
        {
            facts.Kind = StatementKind.Empty;
            facts.IsReadOnly = true;
        }
        else
        {
            var reader = new TokenReader(sql, tokens);
            var first = reader.SkipOpenParens(0);
            facts.CallScanEnd = reader.Count;
            Analyze(reader, first, ref facts);

            // An unterminated string or comment always runs to the end, so it is the last token. The
            // server rejects such text; never load balance what we could not read.
            facts.IsReadOnly &= tokens[^1].Kind != SqlTokenKind.Unterminated;
            if (facts.ScanCalls)
            {
                calls = FunctionCallScanner.Scan(
                    reader,
                    Math.Max(facts.CallScanStart, first + 1),
                    facts.CallScanEnd,
                    facts.Kind == StatementKind.Ddl,
                    facts.IsCreateIndex);
            }
        }

        return new StatementInfo
        {
            Kind = facts.Kind,
            Transaction = facts.Transaction,
            PoolCommand = facts.PoolCommand,
            IsReadOnly = facts.IsReadOnly,
            CannotRunInTransactionBlock = facts.CannotRunInTransactionBlock,
            ChangesSessionState = facts.ChangesSessionState,
            CreatesTemporaryObject = facts.CreatesTemporaryObject,
            IsHoldableCursor = facts.IsHoldableCursor,
            HasReplicationHint = facts.HasReplicationHint,
            InsertLockHint = facts.InsertLockHint,
            HasReturning = facts.HasReturning,
            IsWithHoldOrForUpdate = facts.IsLocking || facts.IsHoldableCursor,
            ChangesRowsSkippingLocked = facts.ChangesRowsSkippingLocked,
            TargetTable = facts.TargetTable,
            DatabaseNeededAlone = facts.DatabaseNeededAlone,
            BeginIsolationLevel = facts.IsolationLevel,
            TransactionReadOnly = facts.TransactionReadOnly,
            ImportedSnapshot = facts.ImportedSnapshot,
            SessionIsolationLevel = facts.SessionIsolation,
            FunctionCalls = calls,
            Start = start,
            Length = length,
        };
    }

    private static bool OnlySemicolons(ReadOnlySpan<SqlToken> tokens)
    {
        foreach (var token in tokens)
        {
            if (token.Kind != SqlTokenKind.Semicolon)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>pgpool's hints are block comments at the very start: /*REPLICATION*/, /*INSERT LOCK*/, /*NO INSERT LOCK*/.</summary>
    private static void ReadHints(ReadOnlySpan<char> statement, ref Facts facts)
    {
        foreach (var comment in SqlLexer.EnumerateLeadingComments(statement))
        {
            if (!comment.IsBlock)
            {
                continue;
            }

            var body = comment.GetBody(statement).Trim();
            if (Ascii.EqualsIgnoreCase(body, "REPLICATION"))
            {
                facts.HasReplicationHint = true;
            }
            else if (Ascii.EqualsIgnoreCase(body, "INSERT LOCK"))
            {
                facts.InsertLockHint = true;
            }
            else if (Ascii.EqualsIgnoreCase(body, "NO INSERT LOCK"))
            {
                facts.InsertLockHint = false;
            }
        }
    }

    /// <summary>Classifies the statement whose first keyword is token <paramref name="i"/>.</summary>
    private static void Analyze(in TokenReader r, int i, ref Facts f)
    {
        Span<char> buffer = stackalloc char[WordBuffer];
        var word = r.LowerWord(i, buffer);
        f.Kind = StatementKind.Other;
        switch (word)
        {
            case "select" or "values" or "table" or "with" or "insert" or "update" or "delete" or "merge":
                AnalyzeQuery(r, i, ref f);
                break;
            case "explain":
                AnalyzeExplain(r, i, ref f);
                break;
            case "copy":
                AnalyzeCopy(r, i, ref f);
                break;
            case "show":
                AnalyzeShow(r, i, ref f);
                break;
            case "pgpool":
                AnalyzePgpool(r, i, ref f);
                break;
            case "begin" or "start" or "commit" or "end" or "rollback" or "abort" or "savepoint" or "release":
                AnalyzeTransaction(r, i, word, ref f);
                break;
            case "prepare":
                AnalyzePrepare(r, i, ref f);
                break;
            case "set":
                AnalyzeSet(r, i, ref f);
                break;
            case "create" or "alter" or "drop" or "comment" or "security" or "reindex" or "cluster" or "refresh"
                or "import" or "reassign":
                AnalyzeDdl(r, i, word, ref f);
                break;
            case "declare":
                AnalyzeDeclare(r, i, ref f);
                break;
            case "lock" or "truncate":
                f.Kind = word is "lock" ? StatementKind.Lock : StatementKind.Truncate;
                f.TargetTable = ReadTargetAfter(r, i + 1, "table");
                break;
            case "vacuum":
                f.Kind = StatementKind.Vacuum;
                f.CannotRunInTransactionBlock = true;
                break;
            case "analyze" or "analyse":
                f.Kind = StatementKind.Analyze;
                break;
            case "discard":
                f.Kind = StatementKind.Discard;
                f.ChangesSessionState = true;
                f.CannotRunInTransactionBlock = r.Is(i + 1, "all");
                f.SessionIsolation = r.Is(i + 1, "all") ? SqlIsolationLevel.Default : null;
                break;
            case "reset":
                AnalyzeSimple(word, ref f);
                f.SessionIsolation = r.Is(i + 1, "all") || r.Is(i + 1, "default_transaction_isolation") ? SqlIsolationLevel.Default : null;
                break;
            default:
                AnalyzeSimple(word, ref f);
                break;
        }
    }

    /// <summary>Statements whose first keyword says all there is to say.</summary>
    private static void AnalyzeSimple(ReadOnlySpan<char> word, ref Facts f)
    {
        (f.Kind, f.ChangesSessionState, f.ScanCalls) = word switch
        {
            "reset" => (StatementKind.Reset, true, false),
            "listen" => (StatementKind.Listen, true, false),
            "unlisten" => (StatementKind.Unlisten, true, false),
            "deallocate" => (StatementKind.Deallocate, true, false),
            "load" => (StatementKind.Other, true, false),
            "notify" => (StatementKind.Notify, false, false),
            "execute" => (StatementKind.Execute, false, true),
            "fetch" => (StatementKind.Fetch, false, false),
            "move" => (StatementKind.Move, false, false),
            "close" => (StatementKind.ClosePortal, false, false),
            "call" => (StatementKind.Call, false, true),
            "do" => (StatementKind.Do, false, false),
            "checkpoint" => (StatementKind.Checkpoint, false, false),
            "grant" or "revoke" => (StatementKind.Grant, false, false),
            _ => (StatementKind.Other, false, true),
        };
    }

    /// <summary>Reads the table after an optional <paramref name="optionalKeyword"/> and an optional ONLY.</summary>
    private static QualifiedName? ReadTargetAfter(in TokenReader r, int j, string optionalKeyword)
    {
        if (r.Is(j, optionalKeyword))
        {
            j++;
        }

        if (r.Is(j, "only"))
        {
            j++;
        }

        return r.ReadName(ref j);
    }

    /// <summary>Everything learnt about a statement; copied into <see cref="StatementInfo"/> at the end.</summary>
    private struct Facts
    {
        public StatementKind Kind;
        public TransactionCommand Transaction;
        public PoolCommand PoolCommand;
        public SqlIsolationLevel IsolationLevel;
        public bool? TransactionReadOnly;
        public string? ImportedSnapshot;
        public SqlIsolationLevel? SessionIsolation;
        public bool IsReadOnly;
        public bool CannotRunInTransactionBlock;
        public bool ChangesSessionState;
        public bool CreatesTemporaryObject;
        public bool IsHoldableCursor;
        public bool HasReplicationHint;
        public bool? InsertLockHint;
        public bool HasReturning;
        public bool IsLocking;
        public bool ChangesRowsSkippingLocked;
        public QualifiedName? TargetTable;
        public string? DatabaseNeededAlone;

        /// <summary>Whether function calls can occur, and in which token range.</summary>
        public bool ScanCalls;
        public int CallScanStart;
        public int CallScanEnd;

        /// <summary>CREATE INDEX: the name after ON is a table, not a function.</summary>
        public bool IsCreateIndex;
    }
}
