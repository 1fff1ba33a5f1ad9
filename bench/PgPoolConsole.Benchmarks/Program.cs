using BenchmarkDotNet.Running;

namespace PgPoolConsole.Benchmarks;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        BenchOptions options;
        try
        {
            options = BenchOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            await Console.Error.WriteLineAsync(e.Message);
            return 2;
        }

        if (options.Mode == "micro")
        {
            // With no arguments the switcher would ask which benchmark to run: run them all.
            string[] switcherArguments = options.MicroArguments.Count > 0 ? [.. options.MicroArguments] : ["--filter", "*"];
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(switcherArguments);
            return 0;
        }

        if (!OperatingSystem.IsLinux())
        {
            await Console.Error.WriteLineAsync("The harness drives local PostgreSQL servers and reads /proc: Linux only.");
            return 2;
        }

        var proxyDll = Path.GetFullPath(options.ProxyDll ?? Path.Combine("src", "Api", "bin", "Release", "net10.0", "pgpoolconsole.dll"));
        if (!File.Exists(proxyDll))
        {
            await Console.Error.WriteLineAsync($"{proxyDll} not found: build it first (dotnet build src/Api -c Release) or give --proxy-dll.");
            return 2;
        }

        // Ctrl-C or SIGTERM: stop the runs, then the finally blocks stop every server this run started.
        using var cancel = new CancellationTokenSource();
        Console.CancelKeyPress += (_, e) =>
        {
            e.Cancel = true;
            cancel.Cancel();
        };
        using var sigterm = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, context =>
        {
            context.Cancel = true;
            cancel.Cancel();
        });

        try
        {
            return options.Mode switch
            {
                "profile" => await new ProfileRun(options, proxyDll, Console.Out).RunAsync(cancel.Token),
                "serve" => await ServeAsync(options, proxyDll, cancel.Token),
                _ => await new BenchRun(options, proxyDll, Console.Out).RunAsync(cancel.Token),
            };
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("cancelled; servers stopped");
            return 130;
        }
    }

    /// <summary>
    /// The `serve` mode: the benchmark setup (two nodes with pgbench data, pgpool-II and ours) kept
    /// running for experiments by hand until Ctrl-C or SIGTERM.
    /// </summary>
    private static async Task<int> ServeAsync(BenchOptions options, string proxyDll, CancellationToken cancellationToken)
    {
        var directory = Path.GetFullPath(options.OutputDirectory ?? $"/tmp/pgpc-serve-{DateTime.Now:yyyyMMdd-HHmmss}");
        await Api.Local.OsUser.CreateDirectoryForPostgresAsync(directory, cancellationToken: cancellationToken);
        await using var cluster = await BenchCluster.CreateAsync(Path.Combine(directory, "nodes"), Math.Max(200, options.Hold + 200), options.Scale, options.Keep, cancellationToken);
        await using var pgpool = options.NoPgpool ? null : new PgpoolServer(Path.Combine(directory, "pgpool"), cluster.Nodes, options.NumInitChildren, options.MaxPool) { BackendSockets = options.BackendSockets };
        await using var ours = new OursServer(Path.Combine(directory, "ours"), cluster.Nodes, options.NumInitChildren, options.MaxPool, proxyDll) { BackendSockets = options.BackendSockets };
        if (pgpool is not null)
        {
            await pgpool.StartAsync(cancellationToken);
        }

        await ours.StartAsync(cancellationToken);
        Console.WriteLine($"nodes: {cluster.Nodes[0].Port} {cluster.Nodes[1].Port}");
        Console.WriteLine($"pgpool-II: {(pgpool is null ? "-" : $"{pgpool.Port} pid {pgpool.Pid}")}");
        Console.WriteLine($"ours: {ours.Port} pid {ours.Pid}");
        Console.WriteLine($"files in {directory}; Ctrl-C or SIGTERM stops everything");
        try
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }
        catch (OperationCanceledException)
        {
            // Stop.
        }

        return 0;
    }
}
