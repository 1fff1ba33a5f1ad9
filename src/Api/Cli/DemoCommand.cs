using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Api.Cli;

/// <summary>
/// <c>pgpoolconsole demo [FOLDER]</c>: creates (first run) or reuses a two-node PostgreSQL 15
/// cluster in FOLDER (default .demo), then runs the product on it in the foreground. Ctrl-C
/// stops the product and the nodes; the next run starts them again.
/// </summary>
internal static class DemoCommand
{
    public static async Task<int> RunAsync(CommandLine commandLine)
    {
        var folder = Path.GetFullPath(commandLine.Arguments.FirstOrDefault() ?? ".demo");
        Console.WriteLine($"pgpoolconsole demo: {(Directory.Exists(folder) ? "starting the cluster in" : "creating a two-node PostgreSQL 15 cluster in")} {folder} ...");
        var cluster = await DemoCluster.StartAsync(new DemoClusterOptions { Folder = folder });
        var productArgs = new List<string> { "-n", "-f", cluster.PgpoolConfPath, "-F", cluster.PcpConfPath, "--urls", commandLine.Urls ?? ProductHost.DefaultUrls };
        if (commandLine.Debug)
        {
            productArgs.Add("-d");
        }

        try
        {
            await using var host = ProductHost.Create(CommandLine.Parse(productArgs));
            Console.WriteLine(cluster.ConnectionHelp);
            await host.RunAsync();
        }
        finally
        {
            Console.WriteLine("pgpoolconsole demo: stopping the PostgreSQL nodes (run the demo again to restart them)");
            await cluster.StopNodesAsync();
        }

        return 0;
    }
}
