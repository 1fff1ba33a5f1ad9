using System.Buffers;
using System.IO.Pipelines;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Benchmarks.Micro;

/// <summary>
/// In-process (no generated project to build under this repository's warnings-as-errors rules),
/// short runs, with allocations: `bench/run micro` takes about two minutes.
/// </summary>
public sealed class MicroConfig : ManualConfig
{
    public MicroConfig()
    {
        AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance));
        AddDiagnoser(BenchmarkDotNet.Diagnosers.MemoryDiagnoser.Default);
        ArtifactsPath = Path.Combine("bench", "BenchmarkDotNet.Artifacts"); // bench/run runs from the repository root
    }
}

/// <summary>The statements of pgbench's TPC-B script as pgbench -M simple sends them (literals inlined).</summary>
public static class PgbenchStatements
{
    public static readonly string[] TpcbSimple =
    [
        "BEGIN;",
        "UPDATE pgbench_accounts SET abalance = abalance + -2917 WHERE aid = 683121;",
        "SELECT abalance FROM pgbench_accounts WHERE aid = 683121;",
        "UPDATE pgbench_tellers SET tbalance = tbalance + -2917 WHERE tid = 43;",
        "UPDATE pgbench_branches SET bbalance = bbalance + -2917 WHERE bid = 6;",
        "INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) VALUES (43, 6, 683121, -2917, CURRENT_TIMESTAMP);",
        "END;",
    ];
}

/// <summary>The SQL side of the hot path: what every simple-protocol Query goes through.</summary>
[Config(typeof(MicroConfig))]
public class SqlBenchmarks
{
    private readonly List<SqlToken> _tokens = new(64);
    private readonly QueryRouter _router = new(new CatalogCache());
    private int _counter;

    /// <summary>SqlLexer.Tokenize over the seven statements of one TPC-B transaction.</summary>
    [Benchmark]
    public int LexTpcbTransaction()
    {
        var count = 0;
        foreach (var sql in PgbenchStatements.TpcbSimple)
        {
            _tokens.Clear();
            SqlLexer.Tokenize(sql, _tokens);
            count += _tokens.Count;
        }

        return count;
    }

    /// <summary>StatementClassifier.ClassifyAll (lex, split, classify) over one TPC-B transaction.</summary>
    [Benchmark]
    public int ClassifyTpcbTransaction()
    {
        var count = 0;
        foreach (var sql in PgbenchStatements.TpcbSimple)
        {
            count += StatementClassifier.ClassifyAll(sql).Count;
        }

        return count;
    }

    /// <summary>TimeFunctions.Find on the INSERT (the only TPC-B statement with a time function).</summary>
    [Benchmark]
    public int FindTimeFunctionsInInsert() => TimeFunctions.Find(PgbenchStatements.TpcbSimple[5]).Count;

    /// <summary>
    /// QueryRouter.Plan as the proxy sees pgbench -M simple: every text is new (other literals), so
    /// every call classifies and also adds the text to the plan cache.
    /// </summary>
    [Benchmark]
    public int PlanTpcbTransactionUncached()
    {
        var count = 0;
        var n = Interlocked.Increment(ref _counter);
        foreach (var sql in PgbenchStatements.TpcbSimple)
        {
            count += _router.Plan(sql.Replace("683121", n.ToString(System.Globalization.CultureInfo.InvariantCulture), StringComparison.Ordinal)).Statements.Count;
        }

        return count;
    }

    /// <summary>
    /// What Plan does for a new text without the cache: QueryRouter.Build over ClassifyAll, and
    /// TimeFunctions.Find for writes. The difference to the uncached Plan is the cache's cost.
    /// </summary>
    [Benchmark]
    public int BuildTpcbPlansWithoutCache()
    {
        var count = 0;
        foreach (var sql in PgbenchStatements.TpcbSimple)
        {
            var plan = QueryRouter.Build(StatementClassifier.ClassifyAll(sql));
            if (plan.Route is not (QueryRoute.Read or QueryRoute.Empty or QueryRoute.PoolCommand))
            {
                count += TimeFunctions.Find(sql).Count;
            }

            count += plan.Statements.Count;
        }

        return count;
    }

    /// <summary>QueryRouter.Plan with texts seen before (extended and prepared protocol: the same Parse text).</summary>
    [Benchmark]
    public int PlanTpcbTransactionCached()
    {
        var count = 0;
        foreach (var sql in PgbenchStatements.TpcbSimple)
        {
            count += _router.Plan(sql).Statements.Count;
        }

        return count;
    }
}

/// <summary>The protocol side: framing backend answers and reading a Query's text.</summary>
[Config(typeof(MicroConfig))]
public class ProtocolBenchmarks
{
    private const int AnswerMessages = 16;
    private byte[] _answers = [];
    private byte[] _query = [];

    [GlobalSetup]
    public void Setup()
    {
        // What a node answers to one TPC-B transaction: CommandComplete + ReadyForQuery for each
        // statement, plus RowDescription + DataRow for the SELECT.
        var writer = new ArrayBufferWriter<byte>();
        foreach (var tag in new[] { "BEGIN", "UPDATE 1", "SELECT 1", "UPDATE 1", "UPDATE 1", "INSERT 0 1", "COMMIT" })
        {
            if (tag == "SELECT 1")
            {
                Message(writer, (byte)'T', [0, 1, .. "abalance"u8, 0, 0, 0, 0x40, 0x01, 0, 4, 0, 0, 0, 23, 0, 4, 0xff, 0xff, 0xff, 0xff, 0, 0]);
                Message(writer, (byte)'D', [0, 1, 0, 0, 0, 5, .. "-2917"u8]);
            }

            PgWriter.CommandComplete(writer, tag);
            PgWriter.ReadyForQuery(writer, tag is "COMMIT" ? 'I' : 'T');
        }

        _answers = writer.WrittenSpan.ToArray();
        _query = PgWriter.QueryBytes(PgbenchStatements.TpcbSimple[1]);
    }

    /// <summary>PgMessageReader framing the 16 messages of one TPC-B transaction's answers (one buffer).</summary>
    [Benchmark]
    public async Task<int> FrameTpcbAnswers()
    {
        var reader = new PgMessageReader(PipeReader.Create(new ReadOnlySequence<byte>(_answers)), 1 << 20, "bench");
        var count = 0;
        for (var i = 0; i < AnswerMessages; i++)
        {
            var message = await reader.ReadAsync(CancellationToken.None);
            count += message.Type;
        }

        return count;
    }

    /// <summary>PgPayload.SingleCString: the Query message's text as a string (one allocation per statement).</summary>
    [Benchmark]
    public int ReadQueryText()
    {
        var message = new PgMessage(_query[0], new ReadOnlySequence<byte>(_query));
        return PgPayload.SingleCString(message).Length;
    }

    private static void Message(ArrayBufferWriter<byte> writer, byte type, ReadOnlySpan<byte> payload)
    {
        var span = writer.GetSpan(5 + payload.Length);
        span[0] = type;
        System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(span[1..], 4 + payload.Length);
        payload.CopyTo(span[5..]);
        writer.Advance(5 + payload.Length);
    }
}
