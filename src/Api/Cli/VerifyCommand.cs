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
    public static async Task<int> RunAsync(CommandLine commandLine)
    {
        var databases = new List<string>();
        var tables = new List<string>();
        var chunkRows = 10000;
        for (var i = 0; i < commandLine.Arguments.Count; i++)
        {
            var argument = commandLine.Arguments[i];
            if (argument is "--database" or "-d" && i + 1 < commandLine.Arguments.Count)
            {
                databases.Add(commandLine.Arguments[++i]);
            }
            else if (argument == "--chunk-rows" && i + 1 < commandLine.Arguments.Count && int.TryParse(commandLine.Arguments[++i], out var rows))
            {
                chunkRows = rows;
            }
            else if (argument.StartsWith('-'))
            {
                throw new CommandLineException($"verify: unknown option \"{argument}\"");
            }
            else
            {
                tables.Add(argument);
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
