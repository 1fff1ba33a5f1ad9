using System.Diagnostics;
using PgPoolConsole.Api.Hosting;

namespace PgPoolConsole.Api.Cli;

/// <summary>Starting the product: in the foreground with -n, else detached with output to a log file.</summary>
internal static class StartCommand
{
    public static async Task<int> RunAsync(CommandLine commandLine, string[] rawArgs)
    {
        if (!commandLine.Foreground)
        {
            return Detach(commandLine, rawArgs);
        }

        await using var host = ProductHost.Create(commandLine);
        await host.RunAsync();
        return 0;
    }

    /// <summary>
    /// pgpool without -n becomes a daemon. .NET cannot fork, so the same command is started
    /// again with -n in a new session, its output appended to a log file in logdir.
    /// </summary>
    private static int Detach(CommandLine commandLine, string[] rawArgs)
    {
        // Validate the configuration here so errors reach the terminal.
        var loaded = ConfigurationFiles.Load(commandLine, new Microsoft.Extensions.Configuration.ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory).AddJsonFile("appsettings.json", optional: true).Build());
        var logFile = Path.Combine(loaded.Options.Logdir, "pgpoolconsole.log");
        Directory.CreateDirectory(loaded.Options.Logdir);
        var self = Environment.ProcessPath ?? "dotnet";
        var words = new List<string> { self };
        if (Path.GetFileNameWithoutExtension(self) == "dotnet")
        {
            words.Add(typeof(StartCommand).Assembly.Location);
        }

        words.AddRange(rawArgs);
        words.Add("-n");
        var command = "exec setsid " + string.Join(' ', words.Select(Proxy.Cluster.ShellCommand.Quote)) + " >> " + Proxy.Cluster.ShellCommand.Quote(logFile) + " 2>&1 < /dev/null &";
        using var process = Process.Start(new ProcessStartInfo("/bin/sh", ["-c", command]) { UseShellExecute = false, WorkingDirectory = Environment.CurrentDirectory })
            ?? throw new InvalidOperationException("could not start the background process");
        process.WaitForExit();
        Console.WriteLine($"pgpoolconsole: started in the background; log: {logFile}");
        return process.ExitCode;
    }
}
