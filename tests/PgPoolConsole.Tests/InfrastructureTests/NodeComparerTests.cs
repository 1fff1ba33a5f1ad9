using PgPoolConsole.Tests.Infrastructure;
using Xunit.Sdk;

namespace PgPoolConsole.Tests.InfrastructureTests;

public sealed class NodeComparerTests(TwoNodeFixture fixture) : NodesTestBase<TwoNodeFixture>(fixture), IClassFixture<TwoNodeFixture>
{
    [Fact]
    public async Task SameWritesOnBothNodes_AreIdentical_ADirectWriteOnOneNodeIsReported()
    {
        await Fixture.CreateDatabaseOnAllAsync("cmp");
        foreach (var node in Nodes)
        {
            await node.ExecuteAsync(
                "CREATE TABLE items (id int PRIMARY KEY, name text, doc json); " +
                "INSERT INTO items SELECT g, 'item ' || g, json_build_object('g', g) FROM generate_series(1, 50) g",
                "cmp");
        }

        await NodeComparer.AssertTablesIdenticalAsync(Nodes, "cmp", "items", "id");
        await NodeComparer.AssertAllTablesIdenticalAsync(Nodes, "cmp");

        await Nodes[1].ExecuteAsync("UPDATE items SET name = 'drifted' WHERE id = 7; INSERT INTO items VALUES (51, 'extra', NULL)", "cmp");

        var one = await Assert.ThrowsAsync<XunitException>(() => NodeComparer.AssertTablesIdenticalAsync(Nodes, "cmp", "items", "id"));
        Assert.Contains("node0=50, node1=51", one.Message, StringComparison.Ordinal);
        Assert.Contains("first difference at row 6", one.Message, StringComparison.Ordinal);
        Assert.Contains("(7,\"item 7\",\"{\"\"g\"\" : 7}\")", one.Message, StringComparison.Ordinal);
        Assert.Contains("(7,drifted,", one.Message, StringComparison.Ordinal);
        Assert.Contains("(51,extra,)", one.Message, StringComparison.Ordinal);

        var all = await Assert.ThrowsAsync<XunitException>(() => NodeComparer.AssertAllTablesIdenticalAsync(Nodes, "cmp"));
        Assert.Contains("cmp.public.items differs", all.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ATableMissingOnOneNode_IsReported()
    {
        await Fixture.CreateDatabaseOnAllAsync("cmp2");
        await Nodes[0].ExecuteAsync("CREATE TABLE only_here (id int)", "cmp2");

        var error = await Assert.ThrowsAsync<XunitException>(() => NodeComparer.AssertAllTablesIdenticalAsync(Nodes, "cmp2"));

        Assert.Contains("the list of user tables in cmp2 differs", error.Message, StringComparison.Ordinal);
        Assert.Contains("public.only_here", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reset_DropsTestDatabasesAndRoles_AndRestartsAStoppedNode()
    {
        await Fixture.CreateDatabaseOnAllAsync("leftover");
        await Nodes[0].ExecuteAsync("CREATE ROLE leftover_role LOGIN");
        await Nodes[1].StopAsync();

        await Fixture.ResetAsync();

        Assert.True(Nodes[1].IsRunning);
        foreach (var node in Nodes)
        {
            Assert.Equal(0L, await node.QueryScalarAsync<long>("SELECT count(*) FROM pg_database WHERE datname = 'leftover'"));
            Assert.Equal(0L, await node.QueryScalarAsync<long>("SELECT count(*) FROM pg_roles WHERE rolname = 'leftover_role'"));
        }
    }
}
