using System.Globalization;
using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Benchmarks;

/// <summary>What the numbers were measured on.</summary>
public sealed record MachineInfo(string Cpu, int Cores, long MemoryMiB, string Kernel, string Postgres, string Pgbench, string Pgpool, string Dotnet, string Commit)
{
    public string Summary =>
        $"{Cores} cores ({Cpu}), {MemoryMiB / 1024} GiB, Linux {Kernel}; {Postgres}; {Pgbench}; {Pgpool}; .NET {Dotnet}; commit {Commit}";

    public static async Task<MachineInfo> CollectAsync(CancellationToken cancellationToken)
    {
        var cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "?";
        var memory = File.ReadLines("/proc/meminfo").First(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
        var memoryKiB = long.Parse(memory.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);
        var kernel = File.ReadAllText("/proc/sys/kernel/osrelease").Trim();

        async Task<string> Output(string file, params string[] arguments)
        {
            try
            {
                var result = await ProcessRunner.RunAsync(file, arguments, timeout: TimeSpan.FromSeconds(30), cancellationToken: cancellationToken);
                return (result.StandardOutput + result.StandardError).Trim().Split('\n')[0];
            }
            catch (InvalidOperationException)
            {
                return "?";
            }
        }

        return new MachineInfo(
            cpu,
            Environment.ProcessorCount,
            memoryKiB / 1024,
            kernel,
            await Output("/usr/lib/postgresql/15/bin/postgres", "--version"),
            await Output(PgPoolConsole.Benchmarks.Pgbench.Path, "--version"),
            await Output(PgpoolServer.Executable, "--version"),
            await Output("/usr/bin/env", "dotnet", "--version"),
            await Output("/usr/bin/git", "log", "-1", "--format=%h %cs %s"));
    }
}
