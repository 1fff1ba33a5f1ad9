using PgPoolConsole.Api.Cli;
using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Api;

public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        InlineSocketIo.EnableUnlessConfigured();
        CommandLine commandLine;
        try
        {
            commandLine = CommandLine.Parse(args);
        }
        catch (CommandLineException e)
        {
            await Console.Error.WriteLineAsync($"pgpoolconsole: {e.Message}\nTry \"pgpoolconsole --help\" for more information.");
            return 2;
        }

        if (commandLine.ShowHelp)
        {
            Console.WriteLine(CommandLine.Usage);
            return 0;
        }

        if (commandLine.ShowVersion)
        {
            Console.WriteLine(VersionInfo.Text);
            return 0;
        }

        try
        {
            return commandLine.Command switch
            {
                "start" => await StartCommand.RunAsync(commandLine, args),
                "stop" => await ControlCommands.StopAsync(commandLine),
                "reload" => ControlCommands.Reload(commandLine),
                "md5" => ControlCommands.Md5(commandLine),
                "passwd" => PasswdCommand.Run(commandLine),
                "demo" => await DemoCommand.RunAsync(commandLine),
                "verify" => await VerifyCommand.RunAsync(commandLine),
                "recover" => await RecoverCommand.RunAsync(commandLine),
                "pcp" => await PcpCommand.RunAsync(commandLine.Arguments, Console.Out, Console.Error),
                _ => throw new CommandLineException($"unknown command \"{commandLine.Command}\""),
            };
        }
        catch (ConfigException e)
        {
            await Console.Error.WriteLineAsync($"pgpoolconsole: invalid configuration:\n{e.Message}");
            return 3;
        }
        catch (CommandLineException e)
        {
            await Console.Error.WriteLineAsync($"pgpoolconsole: {e.Message}");
            return 2;
        }
        catch (ProductStartException e)
        {
            await Console.Error.WriteLineAsync($"pgpoolconsole: {e.Message}");
            return 1;
        }
        catch (IOException e) when (e.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
        {
            // Kestrel's "Failed to bind to address http://127.0.0.1:9999: address already in use."
            await Console.Error.WriteLineAsync($"pgpoolconsole: could not listen: {e.Message}");
            return 1;
        }
    }
}
