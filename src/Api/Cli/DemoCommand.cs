using System.Globalization;
using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Api.Cli;

/// <summary>
/// <c>pgpoolconsole demo [FOLDER] [options]</c>: creates (first run) or reuses a PostgreSQL 15
/// cluster in FOLDER (default .demo), then runs the product on it in the foreground. Ctrl-C
/// stops the product and the nodes; the next run starts them again.
/// </summary>
internal static class DemoCommand
{
    private const string Usage = """
        Usage: pgpoolconsole demo [ FOLDER ] [ option... ]
        Creates (first run) a local PostgreSQL 15 cluster in FOLDER (default .demo) with its pgpool.conf
        and pcp.conf, and runs the product on it in the foreground; Ctrl-C stops it and the nodes.
        A later run in the same folder starts them again with the folder's own files.
          --nodes=N                 number of nodes when creating (default 2, ports 5433 and up)
          --node-ports=PORT,PORT... the nodes' ports when creating (default 5433,5434)
          --port=PORT               the proxy's port when creating (default 9999)
          --pcp-port=PORT           the PCP port when creating (default 9898)
          --urls=URLS               HTTP endpoint(s) of the control plane (default http://127.0.0.1:5000)
          -d, --debug               debug logging
          -h, --help                print this help
        """;

    private const int FirstNodePort = 5433;

    public static async Task<int> RunAsync(CommandLine commandLine)
    {
        var request = Parse(commandLine);
        if (request is null)
        {
            Console.WriteLine(Usage);
            return 0;
        }

        var (options, urls, debug, layoutGiven) = request.Value;
        var exists = File.Exists(Path.Combine(options.Folder, "pgpool.conf"));
        if (exists && layoutGiven)
        {
            // The folder's pgpool.conf already names its nodes and ports; changing only some of them would break it.
            throw new CommandLineException($"demo: {options.Folder} already holds a demo cluster; --nodes, --node-ports, --port and --pcp-port apply only when a folder is created (give a new folder)");
        }

        Console.WriteLine($"pgpoolconsole demo: {(exists ? "starting the cluster in" : $"creating a {options.NodePorts.Count}-node PostgreSQL 15 cluster in")} {options.Folder} ...");
        DemoCluster cluster;
        try
        {
            cluster = await DemoCluster.StartAsync(options);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            await Console.Error.WriteLineAsync($"pgpoolconsole demo: the cluster in {options.Folder} could not start: {(debug ? e.ToString() : e.Message)}");
            return 1;
        }

        var productArgs = new List<string> { "-n", "-f", cluster.PgpoolConfPath, "-F", cluster.PcpConfPath, "--urls", urls };
        if (debug)
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

    /// <summary>The demo's own words after <c>demo</c>; null for --help.</summary>
    private static (DemoClusterOptions Options, string Urls, bool Debug, bool LayoutGiven)? Parse(CommandLine commandLine)
    {
        string? folder = null;
        int? nodes = null;
        IReadOnlyList<int>? nodePorts = null;
        int? port = null;
        int? pcpPort = null;
        var urls = commandLine.Urls ?? ProductHost.DefaultUrls;
        var debug = commandLine.Debug;
        var arguments = CommandLine.SplitLongOptions(commandLine.Arguments);
        for (var i = 0; i < arguments.Count; i++)
        {
            var argument = arguments[i];
            switch (argument)
            {
                case "-h" or "--help" or "-?":
                    return null;
                case "-d" or "--debug":
                    debug = true;
                    break;
                case "--nodes":
                    nodes = Number(Value(arguments, ref i, argument), argument, 1, 16);
                    break;
                case "--node-ports":
                    nodePorts = [.. Value(arguments, ref i, argument).Split(',', StringSplitOptions.TrimEntries).Select(p => Number(p, argument, 1, 65535))];
                    break;
                case "--port":
                    port = Number(Value(arguments, ref i, argument), argument, 1, 65535);
                    break;
                case "--pcp-port":
                    pcpPort = Number(Value(arguments, ref i, argument), argument, 1, 65535);
                    break;
                case "--urls":
                    urls = Value(arguments, ref i, argument);
                    break;
                case var option when option.StartsWith('-'):
                    throw new CommandLineException($"demo: unknown option \"{option}\"\n{Usage}");
                default:
                    folder = folder is null ? argument : throw new CommandLineException($"demo: one folder at a time (\"{folder}\" and \"{argument}\")");
                    break;
            }
        }

        if (nodes is { } count && nodePorts is not null && nodePorts.Count != count)
        {
            throw new CommandLineException($"demo: --nodes {count} but --node-ports names {nodePorts.Count} port(s)");
        }

        var defaults = new DemoClusterOptions { Folder = "." };
        var options = new DemoClusterOptions
        {
            Folder = Path.GetFullPath(folder ?? ".demo"),
            NodePorts = nodePorts ?? (nodes is { } n ? [.. Enumerable.Range(FirstNodePort, n)] : defaults.NodePorts),
            ProxyPort = port ?? defaults.ProxyPort,
            PcpPort = pcpPort ?? defaults.PcpPort,
            DashboardPort = DashboardPort(urls) ?? defaults.DashboardPort,
        };
        try
        {
            options.Validate();
        }
        catch (ArgumentException e)
        {
            throw new CommandLineException($"demo: {e.Message.Replace($" (Parameter '{e.ParamName}')", "", StringComparison.Ordinal)}");
        }

        return (options, urls, debug, nodes is not null || nodePorts is not null || port is not null || pcpPort is not null);
    }

    private static string Value(List<string> arguments, ref int i, string option) =>
        i + 1 < arguments.Count ? arguments[++i] : throw new CommandLineException($"demo: option {option} requires a value");

    private static int Number(string text, string option, int min, int max) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var value) && value >= min && value <= max
            ? value
            : throw new CommandLineException($"demo: {option} takes a number from {min} to {max}, not \"{text}\"");

    /// <summary>The port of the first HTTP endpoint, for the connection help; null when it does not parse (the host reports that).</summary>
    private static int? DashboardPort(string urls) =>
        Uri.TryCreate(urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault(), UriKind.Absolute, out var uri) ? uri.Port : null;
}
