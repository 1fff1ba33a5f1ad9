using PgPoolConsole.Api.Hosting;

namespace PgPoolConsole.Api.Cli;

/// <summary>
/// <c>pgpoolconsole [-f pgpool.conf] recover NODE_ID [-U USER] [-w]</c>: online recovery of a node
/// through the running instance's PCP port (taken from the configuration), waiting for the
/// outcome like pcp_recovery_node; the password comes from .pcppass or a prompt.
/// </summary>
internal static class RecoverCommand
{
    public static async Task<int> RunAsync(CommandLine commandLine)
    {
        if (commandLine.Arguments.Count == 0 || !int.TryParse(commandLine.Arguments[0], out var nodeId) || nodeId < 0)
        {
            throw new CommandLineException("recover: give the id of the node to recover (recover NODE_ID [-U USER] [-w])");
        }

        var appSettings = new ConfigurationBuilder().SetBasePath(AppContext.BaseDirectory).AddJsonFile("appsettings.json", optional: true).Build();
        var options = ConfigurationFiles.Load(commandLine, appSettings).Options;
        var host = options.PcpListenAddresses.Split(',')[0].Trim() is var address && address is "*" or "" ? "localhost" : address;
        var pcpArguments = new List<string> { "recovery-node", "-h", host, "-p", options.PcpPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-n", nodeId.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        pcpArguments.AddRange(commandLine.Arguments.Skip(1));
        return await PcpCommand.RunAsync(pcpArguments, Console.Out, Console.Error);
    }
}
