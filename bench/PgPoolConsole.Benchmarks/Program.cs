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
            BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run([.. options.MicroArguments]);
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
            return options.Mode == "profile"
                ? await new ProfileRun(options, proxyDll, Console.Out).RunAsync(cancel.Token)
                : await new BenchRun(options, proxyDll, Console.Out).RunAsync(cancel.Token);
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            await Console.Error.WriteLineAsync("cancelled; servers stopped");
            return 130;
        }
    }
}
