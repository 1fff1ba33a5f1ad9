using Npgsql;
using NpgsqlTypes;
using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Replication;

/// <summary>
/// New large objects get the same OID on every node, even when the nodes' OID counters have parted
/// (as they do after a restart or an online recovery): the proxy picks the OID.
/// </summary>
[Collection(ProxyCollection.Name)]
public sealed class LargeObjectTests(ProxyFixture proxy) : IAsyncLifetime
{
    private const string LargeObjects = "SELECT oid::text || ' ' || md5(lo_get(oid)) FROM pg_largeobject_metadata ORDER BY oid";

    private string _database = "";

    public async Task InitializeAsync()
    {
        await proxy.HealAsync();
        _database = await proxy.CreateDatabaseAsync("largeobjects");

        // Part the OID counters: node 1 alone takes a few OIDs, leaving no object behind.
        for (var i = 0; i < 3; i++)
        {
            await proxy.Nodes[1].ExecuteAsync("SELECT lo_unlink(lo_creat(-1))", _database);
        }
    }

    public Task DisposeAsync() => Task.CompletedTask;

    private async Task<IReadOnlyList<string>> AssertSameLargeObjectsAsync(int expected)
    {
        var main = await NodeSql.ReadColumnAsync(proxy.Nodes[0], _database, LargeObjects);
        var replica = await NodeSql.ReadColumnAsync(proxy.Nodes[1], _database, LargeObjects);
        Assert.Equal(expected, main.Count);
        Assert.Equal(main, replica);
        return main;
    }

    [Fact]
    public async Task PsqlLoImport_ThroughFunctionCalls_CreatesTheSameObjectOnEveryNode()
    {
        var file = Path.Combine(Path.GetTempPath(), $"lo-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(file, "the same bytes on every node\n");
        try
        {
            var first = await proxy.PsqlAsync(_database, $"\\lo_import {file}");
            first.EnsureSuccess();
            (await proxy.PsqlAsync(_database, $"\\lo_import {file} 'second'")).EnsureSuccess();

            var objects = await AssertSameLargeObjectsAsync(2);
            Assert.Contains(objects[0].Split(' ')[0], first.StandardOutput, StringComparison.Ordinal); // psql prints the OID it got

            // Read back through the proxy, and unlink on every node.
            var oid = objects[0].Split(' ')[0];
            var exported = file + ".out";
            (await proxy.PsqlAsync(_database, $"\\lo_export {oid} {exported}")).EnsureSuccess();
            Assert.Equal("the same bytes on every node\n", await File.ReadAllTextAsync(exported));
            File.Delete(exported);
            (await proxy.PsqlAsync(_database, $"\\lo_unlink {oid}")).EnsureSuccess();
            await AssertSameLargeObjectsAsync(1);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task SqlCallsThatLetTheServerPickTheOid_CreateTheSameObjectOnEveryNode()
    {
        var file = Path.Combine(Path.GetTempPath(), $"lo-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(file, "read by the server\n");
        try
        {
            (await proxy.PsqlAsync(_database,
                "CREATE TABLE documents (name text, content oid)",
                "SELECT lo_create(0), lo_creat(-1), pg_catalog.lo_from_bytea(0, 'abc'), lo_import('" + file + "')",
                "INSERT INTO documents VALUES ('a', lo_from_bytea(0, 'first')), ('b', lo_from_bytea('0', 'second'))",
                "BEGIN",
                "SELECT lo_put(lo_create(0), 0, 'in a transaction')",
                "COMMIT")).EnsureSuccess();

            await AssertSameLargeObjectsAsync(7);
            await NodeComparer.AssertTablesIdenticalAsync(proxy.Nodes, _database, "documents", "name");
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task ParametersOfZero_AreGivenAnOidAndOtherOidsAreKept(bool prepare)
    {
        await using var connection = await proxy.OpenAsync(_database);
        await using var command = new NpgsqlCommand("SELECT lo_from_bytea($1, $2)", connection);
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Oid });
        command.Parameters.Add(new NpgsqlParameter { NpgsqlDbType = NpgsqlDbType.Bytea });
        if (prepare)
        {
            await command.PrepareAsync();
        }

        var created = new List<uint>();
        for (var i = 0; i < 3; i++)
        {
            command.Parameters[0].Value = 0u;
            command.Parameters[1].Value = new byte[] { 1, 2, (byte)i };
            created.Add((uint)(await command.ExecuteScalarAsync())!);
        }

        command.Parameters[0].Value = 4_000_000_000u + (prepare ? 1u : 0u);
        command.Parameters[1].Value = new byte[] { 9 };
        Assert.Equal(4_000_000_000u + (prepare ? 1u : 0u), (uint)(await command.ExecuteScalarAsync())!);

        Assert.Equal(3, created.Distinct().Count());
        await AssertSameLargeObjectsAsync(4);
    }
}
