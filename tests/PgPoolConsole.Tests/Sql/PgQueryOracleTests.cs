using System.Text.Json;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Tests.Sql;

/// <summary>
/// Checks the lexer, splitter and classifier against PostgreSQL 15's own scanner and parser (libpg_query)
/// over <see cref="OracleCorpus"/>. Every mismatch of the corpus is collected into one failure message.
/// </summary>
public sealed class PgQueryOracleTests
{
    public static TheoryData<int> CorpusIndexes()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < OracleCorpus.Queries.Length; i++)
        {
            data.Add(i);
        }

        return data;
    }

    public static TheoryData<int> ScannerIndexes()
    {
        var data = new TheoryData<int>();
        for (var i = 0; i < OracleCorpus.ScannerQueries.Length; i++)
        {
            data.Add(i);
        }

        return data;
    }

    [Fact]
    public void Oracle_LibraryIsInstalled()
    {
        var ranges = PgQuery.SplitWithParser("SELECT 1; SELECT 2");

        Assert.Equal([new PgQuery.Range(0, 8), new PgQuery.Range(9, 9)], ranges);
    }

    [Fact]
    public void Corpus_IsValidPostgreSql15_AndLarge()
    {
        var statements = OracleCorpus.Queries.Sum(q => PgQuery.SplitWithParser(q).Count);

        Assert.True(statements >= 200, $"the corpus has {statements} statements");
    }

    [Theory]
    [MemberData(nameof(ScannerIndexes))]
    public void Lexer_AgreesWithPostgresScanner(int index)
    {
        var sql = OracleCorpus.ScannerQueries[index];
        var expected = ExpectedTokens(sql);
        var actual = new List<SqlToken>();

        SqlLexer.Tokenize(sql, actual);

        var problems = new List<string>();
        for (var t = 0; t < Math.Max(expected.Count, actual.Count); t++)
        {
            var want = t < expected.Count ? expected[t] : default((int, int, SqlTokenKind, bool)?);
            var got = t < actual.Count ? actual[t] : default(SqlToken?);
            if (want is null || got is null
                || want.Value.Item1 != got.Value.Start
                || want.Value.Item3 != got.Value.Kind
                || (want.Value.Item4 && want.Value.Item2 != got.Value.End))
            {
                problems.Add($"token {t}: postgres {Describe(sql, want)}, ours {Describe(sql, got)}");
                break;
            }
        }

        Assert.True(problems.Count == 0, $"{sql}\n{string.Join('\n', problems)}");
    }

    [Theory]
    [MemberData(nameof(CorpusIndexes))]
    public void Splitter_AgreesWithPostgresParser(int index)
    {
        var sql = OracleCorpus.Queries[index];
        var expected = PgQuery.SplitWithParser(sql).Select(r => sql.Substring(r.Start, r.Length).Trim()).ToArray();

        var actual = StatementSplitter.Split(sql).Select(r => sql.Substring(r.Start, r.Length)).ToArray();

        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(CorpusIndexes))]
    public void Classifier_AgreesWithPostgresParseTree(int index)
    {
        var sql = OracleCorpus.Queries[index];
        using var document = JsonDocument.Parse(PgQuery.ParseToJson(sql));
        var statements = document.RootElement.GetProperty("stmts").EnumerateArray().ToArray();

        var infos = StatementClassifier.ClassifyAll(sql);

        Assert.Equal(statements.Length, infos.Count);
        var problems = new List<string>();
        for (var s = 0; s < statements.Length; s++)
        {
            var node = statements[s].GetProperty("stmt").EnumerateObject().First();
            var info = infos[s];
            var text = sql.Substring(info.Start, info.Length);
            Check(problems, text, "Kind", ExpectedKind(node), info.Kind);
            Check(problems, text, "Transaction", ExpectedTransaction(node), info.Transaction);
            Check(problems, text, "IsReadOnly", ExpectedReadOnly(node), info.IsReadOnly);
            Check(problems, text, "TargetTable", ExpectedTarget(node), info.TargetTable);
            Check(problems, text, "CreatesTemporaryObject", ExpectedTemporary(node), info.CreatesTemporaryObject);
            Check(problems, text, "BeginIsolationLevel", ExpectedIsolation(node), info.BeginIsolationLevel);
            if (node.Name is "InsertStmt" or "UpdateStmt" or "DeleteStmt")
            {
                Check(problems, text, "HasReturning", node.Value.TryGetProperty("returningList", out _), info.HasReturning);
            }

            if (node.Name == "VariableSetStmt")
            {
                Check(problems, text, "ChangesSessionState", ExpectedSetChangesSession(node.Value), info.ChangesSessionState);
            }

            if (info.Kind is not (StatementKind.Ddl or StatementKind.Grant))
            {
                Check(problems, text, "row locking", node.Value.GetRawText().Contains("\"lockingClause\"", StringComparison.Ordinal), info.IsWithHoldOrForUpdate && !info.IsHoldableCursor);
                CheckFunctionCalls(problems, sql, text, node.Value, info);
            }
        }

        Assert.True(problems.Count == 0, string.Join('\n', problems));
    }

    private static void Check<T>(List<string> problems, string statement, string what, T expected, T actual)
    {
        if (!EqualityComparer<T>.Default.Equals(expected, actual))
        {
            problems.Add($"{what}: expected {expected}, got {actual} in: {statement}");
        }
    }

    /// <summary>
    /// Every name we report must be a FuncCall of the tree, and every FuncCall written as a plain name (not
    /// generated by the grammar for EXTRACT, TRIM, AT TIME ZONE...) must be reported.
    /// </summary>
    private static void CheckFunctionCalls(List<string> problems, string sql, string statement, JsonElement tree, StatementInfo info)
    {
        var calls = new List<(string[] Name, int Location)>();
        CollectFuncCalls(tree, calls);
        var treeNames = calls.Select(c => c.Name[^1]).ToHashSet(StringComparer.Ordinal);
        foreach (var reported in info.FunctionCalls)
        {
            if (!treeNames.Contains(reported.Name))
            {
                problems.Add($"FunctionCalls: reported {reported} which is not a call in: {statement}");
            }
        }

        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(sql, tokens);
        var charAt = PgQuery.ByteToCharIndex(sql);
        foreach (var (name, location) in calls)
        {
            var tokenIndex = tokens.FindIndex(t => t.Start == charAt[location]);
            if (tokenIndex < 0 || !IsWrittenAsName(sql, tokens, tokenIndex, name))
            {
                continue;
            }

            var expected = new QualifiedName(name.Length >= 2 ? name[^2] : null, name[^1]);
            if (!info.FunctionCalls.Contains(expected))
            {
                problems.Add($"FunctionCalls: missed {expected} in: {statement} (got {string.Join(", ", info.FunctionCalls)})");
            }
        }
    }

    private static bool IsWrittenAsName(string sql, List<SqlToken> tokens, int index, string[] name)
    {
        var token = tokens[index];
        var text = sql.Substring(token.Start, token.Length);
        if (token.Kind == SqlTokenKind.Identifier
            && (index + 1 >= tokens.Count || tokens[index + 1].Kind != SqlTokenKind.Dot)
            && KeywordKind(text) is not 0)
        {
            // EXTRACT(...), NORMALIZE(...), COLLATION FOR (...): grammar constructs.
            return false;
        }

        var last = index;
        while (last + 2 < tokens.Count && tokens[last + 1].Kind == SqlTokenKind.Dot)
        {
            last += 2;
        }

        var lastText = sql.Substring(tokens[last].Start, tokens[last].Length).Trim('"');
        return tokens[index].Kind is SqlTokenKind.Identifier or SqlTokenKind.QuotedIdentifier
            && string.Equals(lastText, name[^1], StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Keyword kind of a word per PostgreSQL's scanner, excluding the callable LEFT, RIGHT and CURRENT_SCHEMA.</summary>
    private static int KeywordKind(string word)
    {
        if (word.ToLowerInvariant() is "left" or "right" or "current_schema")
        {
            return 0;
        }

        var token = PgQuery.Scan(word).Single();
        return token.KeywordKind is 2 or 3 or 4 ? token.KeywordKind : 0;
    }

    private static void CollectFuncCalls(JsonElement element, List<(string[], int)> calls)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (var property in element.EnumerateObject())
                {
                    // CallStmt holds its call as "funccall" without the node wrapper.
                    if (property.Name is "FuncCall" or "funccall")
                    {
                        var name = property.Value.GetProperty("funcname").EnumerateArray()
                            .Select(p => p.GetProperty("String").GetProperty("sval").GetString()!)
                            .ToArray();
                        calls.Add((name, property.Value.TryGetProperty("location", out var l) ? l.GetInt32() : -1));
                    }

                    CollectFuncCalls(property.Value, calls);
                }

                break;
            case JsonValueKind.Array:
                foreach (var item in element.EnumerateArray())
                {
                    CollectFuncCalls(item, calls);
                }

                break;
        }
    }

    private static StatementKind ExpectedKind(JsonProperty node) => node.Name switch
    {
        "SelectStmt" => StatementKind.Select,
        "InsertStmt" => StatementKind.Insert,
        "UpdateStmt" => StatementKind.Update,
        "DeleteStmt" => StatementKind.Delete,
        "MergeStmt" => StatementKind.Merge,
        "CopyStmt" => Flag(node.Value, "is_from") ? StatementKind.CopyFrom : StatementKind.CopyTo,
        "TransactionStmt" => StatementKind.Transaction,
        "VariableSetStmt" => node.Value.GetProperty("kind").GetString() is "VAR_RESET" or "VAR_RESET_ALL" ? StatementKind.Reset : StatementKind.Set,
        "ConstraintsSetStmt" => StatementKind.Set,
        "VariableShowStmt" => StatementKind.Show,
        "ExplainStmt" => StatementKind.Explain,
        "PrepareStmt" => StatementKind.Prepare,
        "ExecuteStmt" => StatementKind.Execute,
        "DeallocateStmt" => StatementKind.Deallocate,
        "ListenStmt" => StatementKind.Listen,
        "UnlistenStmt" => StatementKind.Unlisten,
        "NotifyStmt" => StatementKind.Notify,
        "LockStmt" => StatementKind.Lock,
        "VacuumStmt" => Flag(node.Value, "is_vacuumcmd") ? StatementKind.Vacuum : StatementKind.Analyze,
        "DeclareCursorStmt" => StatementKind.Declare,
        "FetchStmt" => Flag(node.Value, "ismove") ? StatementKind.Move : StatementKind.Fetch,
        "ClosePortalStmt" => StatementKind.ClosePortal,
        "DiscardStmt" => StatementKind.Discard,
        "CallStmt" => StatementKind.Call,
        "DoStmt" => StatementKind.Do,
        "CheckPointStmt" => StatementKind.Checkpoint,
        "TruncateStmt" => StatementKind.Truncate,
        "GrantStmt" or "GrantRoleStmt" => StatementKind.Grant,
        "LoadStmt" => StatementKind.Other,
        _ => StatementKind.Ddl,
    };

    private static TransactionCommand ExpectedTransaction(JsonProperty node) =>
        node.Name != "TransactionStmt"
            ? TransactionCommand.None
            : node.Value.GetProperty("kind").GetString() switch
            {
                "TRANS_STMT_BEGIN" or "TRANS_STMT_START" => TransactionCommand.Begin,
                "TRANS_STMT_COMMIT" => TransactionCommand.Commit,
                "TRANS_STMT_ROLLBACK" => TransactionCommand.Rollback,
                "TRANS_STMT_SAVEPOINT" => TransactionCommand.Savepoint,
                "TRANS_STMT_RELEASE" => TransactionCommand.Release,
                "TRANS_STMT_ROLLBACK_TO" => TransactionCommand.RollbackToSavepoint,
                "TRANS_STMT_PREPARE" => TransactionCommand.PrepareTransaction,
                "TRANS_STMT_COMMIT_PREPARED" => TransactionCommand.CommitPrepared,
                "TRANS_STMT_ROLLBACK_PREPARED" => TransactionCommand.RollbackPrepared,
                var other => throw new InvalidOperationException(other),
            };

    /// <summary>The read-only rules of the brief, computed from the tree.</summary>
    private static bool ExpectedReadOnly(JsonProperty node)
    {
        var raw = node.Value.GetRawText();
        switch (node.Name)
        {
            case "SelectStmt":
                string[] writers = ["\"intoClause\"", "\"lockingClause\"", "\"InsertStmt\"", "\"UpdateStmt\"", "\"DeleteStmt\"", "\"MergeStmt\""];
                return !writers.Any(w => raw.Contains(w, StringComparison.Ordinal));
            case "VariableShowStmt":
                return true;
            case "ExplainStmt":
                var analyze = node.Value.TryGetProperty("options", out var options) && options.EnumerateArray().Any(o =>
                {
                    var option = o.GetProperty("DefElem");
                    return option.GetProperty("defname").GetString() == "analyze"
                        && !(option.TryGetProperty("arg", out var arg) && arg.GetRawText() is var value
                            && (value.Contains("\"false\"", StringComparison.Ordinal) || value.Contains("\"off\"", StringComparison.Ordinal)));
                });
                return !analyze || ExpectedReadOnly(node.Value.GetProperty("query").EnumerateObject().First());
            case "CopyStmt":
                if (Flag(node.Value, "is_from"))
                {
                    return false;
                }

                if (!node.Value.TryGetProperty("query", out var query))
                {
                    return true;
                }

                var inner = query.EnumerateObject().First();
                return inner.Name == "SelectStmt" && ExpectedReadOnly(inner);
            default:
                return false;
        }
    }

    private static QualifiedName? ExpectedTarget(JsonProperty node)
    {
        JsonElement relation;
        switch (node.Name)
        {
            case "InsertStmt" or "UpdateStmt" or "DeleteStmt" or "CopyStmt":
                if (!node.Value.TryGetProperty("relation", out relation))
                {
                    return null;
                }

                break;
            case "MergeStmt":
                relation = node.Value.GetProperty("relation");
                break;
            case "LockStmt" or "TruncateStmt":
                relation = node.Value.GetProperty("relations")[0].GetProperty("RangeVar");
                break;
            default:
                return null;
        }

        return new QualifiedName(
            relation.TryGetProperty("schemaname", out var schema) ? schema.GetString() : null,
            relation.GetProperty("relname").GetString()!);
    }

    private static bool ExpectedTemporary(JsonProperty node)
    {
        if (node.Name == "ExplainStmt")
        {
            return false;
        }

        // The raw tree keeps pg_temp.x as persistent; analysis makes it temporary.
        var raw = node.Value.GetRawText();
        return (raw.Contains("\"relpersistence\":\"t\"", StringComparison.Ordinal) || raw.Contains("\"schemaname\":\"pg_temp\"", StringComparison.Ordinal)
                || raw.Contains("\"funcname\":[{\"String\":{\"sval\":\"pg_temp\"}},", StringComparison.Ordinal))
            && node.Name is "CreateStmt" or "CreateTableAsStmt" or "ViewStmt" or "CreateSeqStmt" or "SelectStmt" or "CreateFunctionStmt";
    }

    private static SqlIsolationLevel ExpectedIsolation(JsonProperty node)
    {
        var raw = node.Value.GetRawText();
        if (node.Name is not ("TransactionStmt" or "VariableSetStmt") || !raw.Contains("transaction_isolation", StringComparison.Ordinal))
        {
            return SqlIsolationLevel.Default;
        }

        return raw switch
        {
            _ when raw.Contains("\"serializable\"", StringComparison.Ordinal) => SqlIsolationLevel.Serializable,
            _ when raw.Contains("\"repeatable read\"", StringComparison.Ordinal) => SqlIsolationLevel.RepeatableRead,
            _ when raw.Contains("\"read committed\"", StringComparison.Ordinal) => SqlIsolationLevel.ReadCommitted,
            _ when raw.Contains("\"read uncommitted\"", StringComparison.Ordinal) => SqlIsolationLevel.ReadUncommitted,
            _ => SqlIsolationLevel.Default,
        };
    }

    private static bool ExpectedSetChangesSession(JsonElement set) =>
        !Flag(set, "is_local")
        && !(set.GetProperty("kind").GetString() == "VAR_SET_MULTI"
            && set.GetProperty("name").GetString() == "TRANSACTION");

    private static bool Flag(JsonElement element, string name) =>
        element.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.True;

    /// <summary>PostgreSQL's tokens as (start, end, our kind, end-is-reliable); see <see cref="PgQuery.Scan"/>.</summary>
    private static List<(int, int, SqlTokenKind, bool)?> ExpectedTokens(string sql)
    {
        var scanned = PgQuery.Scan(sql).Where(t => t.Token is not (PgQuery.Tokens.SqlComment or PgQuery.Tokens.CComment)).ToList();
        var result = new List<(int, int, SqlTokenKind, bool)?>();
        for (var t = 0; t < scanned.Count; t++)
        {
            var token = scanned[t];
            if (token.Token >= PgQuery.Tokens.FirstKeyword && token.End - token.Start == 1
                && t + 1 < scanned.Count && scanned[t + 1].Token == PgQuery.Tokens.StringConst && scanned[t + 1].Start == token.End)
            {
                // N'...': the scanner returns NCHAR then the string; we return one string.
                result.Add((token.Start, scanned[t + 1].End, SqlTokenKind.String, true));
                t++;
                continue;
            }

            var reliableEnd = token.Token is not (PgQuery.Tokens.UnicodeIdent or PgQuery.Tokens.UnicodeStringConst);
            result.Add((token.Start, token.End, KindOf(sql, token), reliableEnd));
        }

        return result;
    }

    private static SqlTokenKind KindOf(string sql, PgQuery.ScanToken token) => token.Token switch
    {
        PgQuery.Tokens.Ident => sql[token.Start] == '"' ? SqlTokenKind.QuotedIdentifier : SqlTokenKind.Identifier,
        PgQuery.Tokens.UnicodeIdent => SqlTokenKind.QuotedIdentifier,
        >= PgQuery.Tokens.FirstKeyword => SqlTokenKind.Identifier,
        PgQuery.Tokens.FloatConst or PgQuery.Tokens.IntConst => SqlTokenKind.Number,
        PgQuery.Tokens.StringConst or PgQuery.Tokens.UnicodeStringConst or PgQuery.Tokens.BitConst or PgQuery.Tokens.HexConst => SqlTokenKind.String,
        PgQuery.Tokens.Param => SqlTokenKind.Parameter,
        PgQuery.Tokens.Typecast => SqlTokenKind.DoubleColon,
        PgQuery.Tokens.DotDot => SqlTokenKind.Operator,
        '(' => SqlTokenKind.OpenParen,
        ')' => SqlTokenKind.CloseParen,
        '[' => SqlTokenKind.OpenBracket,
        ']' => SqlTokenKind.CloseBracket,
        ',' => SqlTokenKind.Comma,
        ';' => SqlTokenKind.Semicolon,
        ':' => SqlTokenKind.Colon,
        '.' => SqlTokenKind.Dot,
        _ => SqlTokenKind.Operator,
    };

    private static string Describe(string sql, (int Start, int End, SqlTokenKind Kind, bool)? token) =>
        token is { } t ? $"{t.Kind} '{sql[t.Start..Math.Max(t.Start, t.End)]}' at {t.Start}" : "nothing";

    private static string Describe(string sql, SqlToken? token) =>
        token is { } t ? $"{t.Kind} '{sql.Substring(t.Start, t.Length)}' at {t.Start}" : "nothing";
}
