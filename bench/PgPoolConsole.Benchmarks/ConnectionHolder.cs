using System.Diagnostics;
using Npgsql;

namespace PgPoolConsole.Benchmarks;

/// <summary>What holding many idle client connections through our proxy cost and showed.</summary>
public sealed record HoldResult(
    int Wanted,
    int Opened,
    TimeSpan OpenTime,
    long RssBeforeKiB,
    long RssHeldKiB,
    long RssAfterQueriesKiB,
    long RssAfterCloseKiB,
    int QueriesAnswered,
    TimeSpan QueryTime,
    PgbenchResult? LoadWhileHeld,
    int ThreadCount,
    string? FirstError);

/// <summary>
/// Opens N client connections through our proxy (each also holds one backend connection per node),
/// keeps them idle, checks that every one still answers a query and that new clients still get
/// through (pgbench select-only on top), and reads the proxy's RSS at each step.
/// </summary>
public static class ConnectionHolder
{
    private const int OpenParallelism = 16;

    public static async Task<HoldResult> RunAsync(OursServer proxy, int count, int clients, int threads, TextWriter console, CancellationToken cancellationToken)
    {
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken); // settle after start
        var rssBefore = ProcStats.RssKiB(proxy.Pid) ?? 0;
        var connections = new NpgsqlConnection?[count];
        string? firstError = null;
        var opened = 0;
        await using var dataSource = proxy.CreateDataSource(timeoutSeconds: 60);
        var openTime = Stopwatch.StartNew();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = OpenParallelism, CancellationToken = cancellationToken }, async (i, token) =>
        {
            var connection = dataSource.CreateConnection();
            try
            {
                await connection.OpenAsync(token);
                connections[i] = connection;
                var n = Interlocked.Increment(ref opened);
                if (n % 250 == 0)
                {
                    console.WriteLine($"[{DateTime.Now:HH:mm:ss}]   {n} connections open, proxy RSS {ProcStats.RssKiB(proxy.Pid) / 1024} MiB");
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
            {
                Interlocked.CompareExchange(ref firstError, ex.Message, null);
                await connection.DisposeAsync();
            }
        });
        openTime.Stop();
        await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
        var rssHeld = ProcStats.RssKiB(proxy.Pid) ?? 0;
        var threadCount = Directory.GetDirectories($"/proc/{proxy.Pid}/task").Length;
        console.WriteLine($"[{DateTime.Now:HH:mm:ss}]   {opened}/{count} open in {openTime.Elapsed.TotalSeconds:0.0} s; proxy RSS {rssBefore / 1024} -> {rssHeld / 1024} MiB, {threadCount} threads");

        // Every held connection still works: one query on each.
        var answered = 0;
        var queryTime = Stopwatch.StartNew();
        await Parallel.ForAsync(0, count, new ParallelOptions { MaxDegreeOfParallelism = OpenParallelism, CancellationToken = cancellationToken }, async (i, token) =>
        {
            if (connections[i] is not { } connection)
            {
                return;
            }

            try
            {
                await using var command = new NpgsqlCommand("SELECT count(*) FROM pgbench_branches", connection);
                if (await command.ExecuteScalarAsync(token) is long)
                {
                    Interlocked.Increment(ref answered);
                }
            }
            catch (Exception ex) when (ex is NpgsqlException or IOException or TimeoutException)
            {
                Interlocked.CompareExchange(ref firstError, ex.Message, null);
            }
        });
        queryTime.Stop();
        console.WriteLine($"[{DateTime.Now:HH:mm:ss}]   {answered}/{opened} held connections answered a query in {queryTime.Elapsed.TotalSeconds:0.0} s");

        // New clients still get through while the others are held.
        var arguments = Pgbench.Arguments(proxy.Port, Workload.All[3], clients, threads, duration: 5, logPrefix: null);
        var load = await Pgbench.RunAsync(arguments, 5, cancellationToken);
        console.WriteLine($"[{DateTime.Now:HH:mm:ss}]   pgbench -S -c {clients} on top: {load.Tps:0.0} tps{(load.Succeeded ? "" : " FAILED\n" + load.Output)}");
        var rssAfterQueries = ProcStats.RssKiB(proxy.Pid) ?? 0;

        foreach (var connection in connections)
        {
            if (connection is not null)
            {
                await connection.DisposeAsync();
            }
        }

        await Task.Delay(TimeSpan.FromSeconds(3), cancellationToken);
        var rssAfterClose = ProcStats.RssKiB(proxy.Pid) ?? 0;
        return new HoldResult(count, opened, openTime.Elapsed, rssBefore, rssHeld, rssAfterQueries, rssAfterClose, answered, queryTime.Elapsed, load, threadCount, firstError);
    }
}
