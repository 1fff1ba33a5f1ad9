using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Replication;

/// <summary>
/// A node whose postgresql.conf has another TimeZone or DateStyle than the main node's (hosts set
/// up apart) would turn the same statement into other values: each session gives it the main node's.
/// </summary>
[Collection(ProxyCollection.Name)]
public sealed class ValueSettingsTests(ProxyFixture proxy) : IAsyncLifetime
{
    private static string Insert(int id) => $"INSERT INTO v VALUES ({id}, now()::text, '2026-01-02'::date::text, to_char(now(), 'YYYY-MM-DD HH24'))";

    public Task InitializeAsync() => proxy.HealAsync();

    public async Task DisposeAsync()
    {
        await proxy.Nodes[1].ExecuteAsync("ALTER SYSTEM RESET ALL");
        await proxy.Nodes[1].ExecuteAsync("SELECT pg_reload_conf()");
    }

    [Fact]
    public async Task ANodeWithItsOwnTimeZoneAndDateStyle_StoresTheSameValues_AfterResetAllToo_AndTheLogSaysOnce()
    {
        // A new database: no pooled connection made before the change (a pooled connection
        // reports a reloaded setting only with its next answer).
        var database = await proxy.CreateDatabaseAsync("valuesettings");
        await proxy.Nodes[1].ExecuteAsync("ALTER SYSTEM SET timezone = 'Asia/Tokyo'");
        await proxy.Nodes[1].ExecuteAsync("ALTER SYSTEM SET datestyle = 'SQL, DMY'");
        await proxy.Nodes[1].ExecuteAsync("SELECT pg_reload_conf()");
        await Eventually.TrueAsync(
            async () => (await NodeSql.ReadColumnAsync(proxy.Nodes[1], database, "SHOW timezone")).SequenceEqual(["Asia/Tokyo"]),
            TimeSpan.FromSeconds(10),
            "node 1 runs in its own time zone");
        (await proxy.PsqlAsync(database, "CREATE TABLE v (id int, stamp text, day text, hour text)")).EnsureSuccess();

        (await proxy.PsqlAsync(database, Insert(1))).EnsureSuccess();
        // RESET ALL and DISCARD ALL take each node back to its own defaults; the next statement runs after they are aligned again.
        (await proxy.PsqlAsync(database, "RESET ALL", Insert(2), "DISCARD ALL", Insert(3))).EnsureSuccess();

        var rows = new List<IReadOnlyList<string>>();
        foreach (var node in proxy.Nodes)
        {
            rows.Add(await NodeSql.ReadColumnAsync(node, database, "SELECT id || ' ' || stamp || ' ' || day || ' ' || hour FROM v ORDER BY id"));
        }

        Assert.Equal(3, rows[0].Count);
        Assert.Equal(rows[0], rows[1]);
        Assert.All(rows[0], row => Assert.Contains(" 2026-01-02 ", row, StringComparison.Ordinal));
        Assert.Single(proxy.Host.Store.Log.Query(text: "backend node 1 has TimeZone 'Asia/Tokyo' where the main node has"));
        Assert.Single(proxy.Host.Store.Log.Query(text: "backend node 1 has DateStyle 'SQL, DMY' where the main node has 'ISO, MDY'"));
    }
}
