using System.Diagnostics;
using System.Globalization;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Integration;
using Xunit.Abstractions;

namespace PgPoolConsole.Tests.Replication;

/// <summary>
/// The seed tutorial's check: a million-row insert into history and an update of all of it. The
/// tutorial used PostgreSQL 8.3's pgbench, whose table was "history"; PostgreSQL 15's pgbench names
/// it pgbench_history, so the same statements run against that.
/// </summary>
public sealed class SeedExampleFixture() : ProxyFixture(2);

public sealed class SeedExampleTests(SeedExampleFixture proxy, ITestOutputHelper output) : IClassFixture<SeedExampleFixture>
{
    private const string Insert = "insert into pgbench_history (tid, bid,aid,mtime,filler) (select 1,1,1,now(),i::text from (select generate_series(1,1000000) as i) as q)";
    private const string Update = "update pgbench_history set tid=2";

    [Fact]
    public async Task MillionRowInsertAndUpdate_LeaveNodesIdentical()
    {
        var database = await proxy.CreateDatabaseAsync("bench_replication");
        var port = proxy.ProxyPort.ToString(CultureInfo.InvariantCulture);
        var init = await Pgbench.RunAsync(["-h", "127.0.0.1", "-p", port, "-U", "postgres", "-i", database], null, TimeSpan.FromMinutes(2));
        Assert.True(init.Process.Succeeded, init.Process.Describe());

        var viaProxy = await TimeAsync(() => proxy.PsqlAsync(database, Insert), () => proxy.PsqlAsync(database, Update));

        // The same on one node directly, for comparison (a scratch database on node 0 only).
        await proxy.Nodes[0].ExecuteAsync("CREATE DATABASE seed_direct");
        var direct = new PsqlOptions("127.0.0.1", proxy.Nodes[0].Port, "postgres", "seed_direct");
        (await Psql.RunAsync(direct, ["CREATE TABLE pgbench_history (tid int, bid int, aid int, delta int, mtime timestamp, filler char(22))"])).EnsureSuccess();
        var onOneNode = await TimeAsync(() => Psql.RunAsync(direct, [Insert]), () => Psql.RunAsync(direct, [Update]));
        await proxy.Nodes[0].ExecuteAsync("DROP DATABASE seed_direct");

        output.WriteLine($"insert 1,000,000 rows: {viaProxy.Insert.TotalSeconds:0.00} s through the proxy, {onOneNode.Insert.TotalSeconds:0.00} s directly on one node");
        output.WriteLine($"update history set tid=2: {viaProxy.Update.TotalSeconds:0.00} s through the proxy, {onOneNode.Update.TotalSeconds:0.00} s directly on one node");
        foreach (var node in proxy.Nodes)
        {
            Assert.Equal(["1000000|1000000"], await NodeSql.ReadColumnAsync(node, database, "SELECT count(*) || '|' || count(*) FILTER (WHERE tid = 2) FROM pgbench_history"));
        }

        var digests = new List<string>();
        foreach (var node in proxy.Nodes)
        {
            digests.Add((await NodeSql.ReadColumnAsync(node, database, "SELECT sum(hashtextextended(h::text, 0))::text FROM pgbench_history h")).Single());
        }

        Assert.Single(digests.Distinct());
    }

    private static async Task<(TimeSpan Insert, TimeSpan Update)> TimeAsync(Func<Task<ProcessResult>> insert, Func<Task<ProcessResult>> update)
    {
        var watch = Stopwatch.StartNew();
        (await insert()).EnsureSuccess();
        var inserted = watch.Elapsed;
        watch.Restart();
        (await update()).EnsureSuccess();
        return (inserted, watch.Elapsed);
    }
}
