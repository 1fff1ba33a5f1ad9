using Microsoft.Extensions.Logging.Abstractions;
using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Proxy.Security;

namespace PgPoolConsole.Api.Cli;

/// <summary>
/// <c>pgpoolconsole -f pgpool.conf verify [--database DB]... [--chunk-rows N] [TABLE...]</c>: compares the
/// tables on every node that pgpool_status does not mark down. Exit code 0 when identical, 1 when
/// they differ, 2 when the check failed.
/// </summary>
internal static class VerifyCommand
{
    private const string Usage = """
        Usage: pgpoolconsole [ -f CONFIG_FILE ] verify [ -d DATABASE ]... [ --chunk-rows N ] [ TABLE ... ]
        Compares the tables on every node that pgpool_status does not mark down.
          -d, --database=DATABASE  only this database (repeatable; default: every database)
          --chunk-rows=N           rows compared per round trip (default 10000)
          TABLE                    only these tables (schema.table or table)
        Exit status: 0 identical, 1 different, 2 the check failed.
        """;

    public static async Task<int> RunAsync(CommandLine commandLine)
    {
        var databases = new List<string>();
        var tables = new List<string>();
        var chunkRows = 10000;
        var arguments = CommandLine.SplitLongOptions(commandLine.Arguments);
        for (var i = 0; i < arguments.Count; i++)
        {
            var argument = arguments[i];
            switch (argument)
            {
                case "-h" or "--help" or "-?":
                    Console.WriteLine(Usage);
                    return 0;
                case "--database" or "-d":
                    databases.Add(i + 1 < arguments.Count ? arguments[++i] : throw new CommandLineException($"verify: {argument} needs a database name"));
                    break;
                case "--chunk-rows":
                    chunkRows = i + 1 < arguments.Count && int.TryParse(arguments[++i], out var rows) && rows > 0
                        ? rows
                        : throw new CommandLineException("verify: --chunk-rows needs a positive number of rows");
                    break;
                case var option when option.StartsWith('-'):
                    throw new CommandLineException($"verify: unknown option \"{option}\"\n{Usage}");
                default:
                    tables.Add(argument);
                    break;
            }
        }

        var appSettings = new ConfigurationBuilder().SetBasePath(AppContext.BaseDirectory).AddJsonFile("appsettings.json", optional: true).Build();
        var loaded = ConfigurationFiles.Load(commandLine, appSettings);
        var saved = new NodeStatusFile(Path.Combine(loaded.Options.Logdir, "pgpool_status")).Read();
        var now = DateTimeOffset.UtcNow;
        var nodes = loaded.Options.Backends.Select(b => NodeState.FromOptions(b, BackendTls.Load(b.Tls, loaded.Directory, b.Id), saved.GetValueOrDefault(b.Id) == NodeStatus.Down ? NodeStatus.Down : NodeStatus.Up, "down in pgpool_status", now));
        var store = new ClusterStateStore(nodes, TimeProvider.System);
        var verifier = new ConsistencyVerifier(store, new OptionsHolder(loaded.Options), NullLogger<ConsistencyVerifier>.Instance);
        var check = await verifier.RunAsync("cli", new ConsistencyRequest(databases, tables, chunkRows), CancellationToken.None);
        foreach (var table in check.Tables)
        {
            var counts = string.Join(", ", table.Nodes.Select(n => $"node {n.NodeId}: {n.Rows} rows"));
            Console.WriteLine($"{(table.Identical ? "identical" : "DIFFERENT")}  {table.Database}  {table.Table}  ({counts}){(table.Identical ? "" : "  " + table.Difference)}");
        }

        if (check.State == ConsistencyCheckState.Failed)
        {
            await Console.Error.WriteLineAsync($"pgpoolconsole verify: {check.Error}");
            return 2;
        }

        Console.WriteLine(check.AllIdentical ? $"all {check.Tables.Length} table(s) identical on every attached node" : $"{check.DifferingTables} of {check.Tables.Length} table(s) differ");
        return check.AllIdentical ? 0 : 1;
    }
}
