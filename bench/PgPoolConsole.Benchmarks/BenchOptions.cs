using System.Globalization;

namespace PgPoolConsole.Benchmarks;

/// <summary>Command-line settings of the harness; every duration and size is a parameter.</summary>
public sealed record BenchOptions
{
    /// <summary>run (the comparison), profile (our proxy under TPC-B with the .NET tools) or micro (BenchmarkDotNet).</summary>
    public string Mode { get; init; } = "run";

    /// <summary>pgbench -T of each measured run, in seconds.</summary>
    public int Duration { get; init; } = 15;

    /// <summary>Interleaved repeats of every (workload, target) pair; the table shows medians.</summary>
    public int Repeats { get; init; } = 3;

    /// <summary>pgbench -i -s.</summary>
    public int Scale { get; init; } = 10;

    /// <summary>pgbench -c.</summary>
    public int Clients { get; init; } = 8;

    /// <summary>pgbench -j.</summary>
    public int Threads { get; init; } = 2;

    /// <summary>num_init_children of both proxies in the throughput runs.</summary>
    public int NumInitChildren { get; init; } = 32;

    /// <summary>max_pool of both proxies.</summary>
    public int MaxPool { get; init; } = 4;

    /// <summary>Seconds of unmeasured TPC-B through every target before the first repeat (JIT, caches).</summary>
    public int Warmup { get; init; } = 8;

    /// <summary>pgbench -T of each connection-rate run (-C, select-only).</summary>
    public int ConnectDuration { get; init; } = 8;

    /// <summary>Idle client connections held open through our proxy (0 skips that test).</summary>
    public int Hold { get; init; } = 1000;

    /// <summary>Also measure the two-node limit for select-only (by default only TPC-B has one).</summary>
    public bool SelectLimit { get; init; }

    /// <summary>Both proxies reach the nodes through their Unix-socket directories instead of 127.0.0.1.</summary>
    public bool BackendSockets { get; init; }

    /// <summary>Skip stock pgpool-II (for a quick look at our proxy alone).</summary>
    public bool NoPgpool { get; init; }

    /// <summary>Only these workloads (e.g. tpcb-simple,select-prepared); empty means all.</summary>
    public IReadOnlyList<string> Workloads { get; init; } = [];

    /// <summary>Where logs, pgbench latency logs and the result files go.</summary>
    public string? OutputDirectory { get; init; }

    /// <summary>The built proxy (src/Api/bin/Release/net10.0/pgpoolconsole.dll).</summary>
    public string? ProxyDll { get; init; }

    /// <summary>Leave the nodes' data in the work directory (the servers are stopped anyway).</summary>
    public bool Keep { get; init; }

    /// <summary>Arguments after "micro", handed to BenchmarkDotNet's switcher.</summary>
    public IReadOnlyList<string> MicroArguments { get; init; } = [];

    public const string Usage = """
        usage: bench/run [run|profile|micro] [options]
          run        (default) direct / limit / pgpool-II / ours for TPC-B and select-only in
                     simple, extended and prepared modes, connection rate, 1000 held connections
          profile    our proxy alone under TPC-B: dotnet-counters, dotnet-trace, strace -c, perf
          serve      the same setup (nodes, pgpool-II, ours) left running for experiments until Ctrl-C
          micro      BenchmarkDotNet on SqlLexer, StatementClassifier, PgMessageReader
                     (further arguments go to BenchmarkDotNet, e.g. micro --filter '*Lexer*')
        options:
          --duration S         pgbench -T per measured run (15)
          --repeats N          interleaved repeats; medians are reported (3)
          --scale N            pgbench -i -s (10)
          --clients N          pgbench -c (8)
          --threads N          pgbench -j (2)
          --num-init-children N, --max-pool N   pooling sizes of both proxies (32, 4)
          --warmup S           unmeasured warm-up per target (8)
          --connect-duration S pgbench -C run length (8)
          --hold N             idle connections held through our proxy, 0 skips (1000)
          --select-limit       also measure the two-node limit for select-only
          --backend-sockets    both proxies reach the nodes over Unix sockets (backend_hostname = socket directory)
          --no-pgpool          skip stock pgpool-II
          --workloads a,b      subset of tpcb-simple,tpcb-extended,tpcb-prepared,
                               select-simple,select-extended,select-prepared,connect
          --out DIR            output directory (default /tmp/pgpc-bench-<time>)
          --proxy-dll PATH     the built pgpoolconsole.dll
          --keep               keep the work directory (servers are stopped regardless)
        """;

    public static BenchOptions Parse(IReadOnlyList<string> args)
    {
        var options = new BenchOptions();
        var i = 0;
        if (args.Count > 0 && !args[0].StartsWith('-'))
        {
            options = options with { Mode = args[0] };
            i = 1;
        }

        if (options.Mode == "micro")
        {
            return options with { MicroArguments = args.Skip(i).ToArray() };
        }

        if (options.Mode is not ("run" or "profile" or "serve"))
        {
            throw new ArgumentException($"unknown mode '{options.Mode}'\n{Usage}");
        }

        for (; i < args.Count; i++)
        {
            var name = args[i];
            string Value()
            {
                if (i + 1 >= args.Count)
                {
                    throw new ArgumentException($"{name} needs a value");
                }

                return args[++i];
            }

            int Number()
            {
                var text = Value();
                return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var n)
                    ? n
                    : throw new ArgumentException($"{name}: '{text}' is not a whole number");
            }

            options = name switch
            {
                "--duration" => options with { Duration = Number() },
                "--repeats" => options with { Repeats = Number() },
                "--scale" => options with { Scale = Number() },
                "--clients" => options with { Clients = Number() },
                "--threads" => options with { Threads = Number() },
                "--num-init-children" => options with { NumInitChildren = Number() },
                "--max-pool" => options with { MaxPool = Number() },
                "--warmup" => options with { Warmup = Number() },
                "--connect-duration" => options with { ConnectDuration = Number() },
                "--hold" => options with { Hold = Number() },
                "--select-limit" => options with { SelectLimit = true },
                "--no-pgpool" => options with { NoPgpool = true },
                "--backend-sockets" => options with { BackendSockets = true },
                "--workloads" => options with { Workloads = Value().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) },
                "--out" => options with { OutputDirectory = Value() },
                "--proxy-dll" => options with { ProxyDll = Value() },
                "--keep" => options with { Keep = true },
                "-h" or "--help" => throw new ArgumentException(Usage),
                _ => throw new ArgumentException($"unknown option '{name}'\n{Usage}"),
            };
        }

        if (options.Duration < 1 || options.Repeats < 1 || options.Scale < 1 || options.Clients < 1 || options.Threads < 1)
        {
            throw new ArgumentException("--duration, --repeats, --scale, --clients and --threads must be at least 1");
        }

        if (options.Clients % options.Threads != 0)
        {
            throw new ArgumentException("pgbench needs --clients to be a multiple of --threads");
        }

        if (options.Clients > options.NumInitChildren)
        {
            throw new ArgumentException("--clients must not exceed --num-init-children (pgpool-II would queue the rest)");
        }

        var unknown = options.Workloads.Except(Workload.All.Select(w => w.Name).Append("connect")).ToList();
        if (unknown.Count > 0)
        {
            throw new ArgumentException($"unknown workloads: {string.Join(", ", unknown)}");
        }

        return options;
    }

    /// <summary>The measured workloads of this run, in order.</summary>
    public IReadOnlyList<Workload> SelectedWorkloads =>
        Workloads.Count == 0 ? Workload.All : Workload.All.Where(w => Workloads.Contains(w.Name)).ToList();

    /// <summary>Whether the connection-rate workload runs.</summary>
    public bool RunsConnect => Workloads.Count == 0 || Workloads.Contains("connect");
}

/// <summary>One pgbench workload: TPC-B or select-only in one query protocol mode.</summary>
public sealed record Workload(string Name, string Title, bool SelectOnly, string Protocol)
{
    public static readonly IReadOnlyList<Workload> All =
    [
        new("tpcb-simple", "TPC-B simple", false, "simple"),
        new("tpcb-extended", "TPC-B extended", false, "extended"),
        new("tpcb-prepared", "TPC-B prepared", false, "prepared"),
        new("select-simple", "select-only simple", true, "simple"),
        new("select-extended", "select-only extended", true, "extended"),
        new("select-prepared", "select-only prepared", true, "prepared"),
    ];

    /// <summary>pgbench -C -S: a new connection per transaction.</summary>
    public static readonly Workload Connect = new("connect", "connect (-C, select-only)", true, "simple");
}
