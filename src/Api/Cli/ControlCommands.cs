using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Api.Cli;

/// <summary><c>stop</c>, <c>reload</c> and <c>md5</c>: commands that act on a running instance or help configure one.</summary>
internal static class ControlCommands
{
    public static async Task<int> StopAsync(CommandLine commandLine)
    {
        var pidFile = PidFileOf(commandLine);
        if (pidFile.ReadRunningPid() is not { } pid)
        {
            await Console.Error.WriteLineAsync($"pgpoolconsole: could not open pid file \"{pidFile.Path}\" or no process runs with its pid: is pgpoolconsole running?");
            return 1;
        }

        var signal = commandLine.Mode switch
        {
            ShutdownMode.Smart => Signals.SigTerm,
            ShutdownMode.Fast => Signals.SigUsr1,
            _ => Signals.SigUsr2,
        };
        Console.Write("stop request sent to pgpoolconsole (pid " + pid + "). waiting for termination...");
        Signals.Send(pid, signal);
        while (Signals.IsAlive(pid))
        {
            Console.Write('.');
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }

        Console.WriteLine("done.");
        return 0;
    }

    public static int Reload(CommandLine commandLine)
    {
        var pidFile = PidFileOf(commandLine);
        if (pidFile.ReadRunningPid() is not { } pid)
        {
            Console.Error.WriteLine($"pgpoolconsole: could not open pid file \"{pidFile.Path}\" or no process runs with its pid: is pgpoolconsole running?");
            return 1;
        }

        Signals.Send(pid, Signals.SigHup);
        Console.WriteLine($"reload request sent to pgpoolconsole (pid {pid})");
        return 0;
    }

    /// <summary>pg_md5: prints md5(password) for pcp.conf; -p asks for the password.</summary>
    public static int Md5(CommandLine commandLine)
    {
        string password;
        if (commandLine.Arguments.Count == 1 && commandLine.Arguments[0] is not ("-p" or "--prompt"))
        {
            password = commandLine.Arguments[0];
        }
        else if (commandLine.Arguments.Count == 0 || commandLine.Arguments[0] is "-p" or "--prompt")
        {
            Console.Write("password: ");
            password = ReadPassword();
            Console.WriteLine();
        }
        else
        {
            throw new CommandLineException("usage: pgpoolconsole md5 [-p | PASSWORD]");
        }

        Console.WriteLine(PgMd5.Hex(password));
        return 0;
    }

    /// <summary>A line from stdin when it is redirected, else typed without echo.</summary>
    internal static string ReadPassword()
    {
        if (Console.IsInputRedirected)
        {
            return Console.ReadLine() ?? "";
        }

        var builder = new System.Text.StringBuilder();
        while (true)
        {
            var key = Console.ReadKey(intercept: true);
            if (key.Key == ConsoleKey.Enter)
            {
                return builder.ToString();
            }

            if (key.Key == ConsoleKey.Backspace && builder.Length > 0)
            {
                builder.Length--;
            }
            else if (!char.IsControl(key.KeyChar))
            {
                builder.Append(key.KeyChar);
            }
        }
    }

    private static PidFile PidFileOf(CommandLine commandLine)
    {
        var appSettings = new ConfigurationBuilder().SetBasePath(AppContext.BaseDirectory).AddJsonFile("appsettings.json", optional: true).Build();
        var loaded = ConfigurationFiles.Load(commandLine, appSettings);
        return new PidFile(loaded.Options.PidFileName);
    }
}
