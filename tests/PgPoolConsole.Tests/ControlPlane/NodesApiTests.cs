using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using PgPoolConsole.Api.ControlPlane;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Tests.ControlPlane;

[Collection(ControlPlaneCollection.Name)]
public sealed class NodesApiTests(ControlPlaneFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.AttachAllAsync();

    public Task DisposeAsync() => fixture.AttachAllAsync();

    [Fact]
    public async Task GetNodes_TwoAttachedNodes_ListsBothWithStatusRoleWeightAndHealthStats()
    {
        using var client = fixture.Basic();

        var nodes = await client.GetFromJsonAsync<List<JsonElement>>("/api/nodes");

        Assert.NotNull(nodes);
        Assert.Equal([0, 1], nodes.Select(n => n.GetProperty("id").GetInt32()));
        Assert.All(nodes, n => Assert.Contains(n.GetProperty("status").GetInt32(), new[] { 1, 2 }));
        Assert.All(nodes, n => Assert.Contains(n.GetProperty("statusName").GetString(), new[] { "waiting", "up" }));
        Assert.Equal(["main", "replica"], nodes.Select(n => n.GetProperty("role").GetString()));
        Assert.All(nodes, n => Assert.Equal(0.5, n.GetProperty("lbWeight").GetDouble()));
        Assert.Equal(fixture.Nodes[1].Port, nodes[1].GetProperty("port").GetInt32());
        Assert.True(nodes[0].GetProperty("healthCheck").TryGetProperty("totalCount", out _));
    }

    [Fact]
    public async Task GetNode_UnknownId_Is404ProblemAndANonNumberIs400NamingTheField()
    {
        using var client = fixture.Basic();

        using var unknown = await client.GetAsync(new Uri("/api/nodes/7", UriKind.Relative));
        using var bad = await client.GetAsync(new Uri("/api/nodes/first", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
        Assert.Equal("application/problem+json", unknown.Content.Headers.ContentType?.MediaType);
        var problem = await unknown.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("urn:pgpoolconsole:unknown-node", 404), (problem.GetProperty("type").GetString(), problem.GetProperty("status").GetInt32()));
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var validation = await bad.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(validation.GetProperty("errors").TryGetProperty("id", out _));
    }

    [Fact]
    public async Task DetachThenAttach_Node1_GoesDownAndComesBackAndTheLastNodeCannotBeDetached()
    {
        using var client = fixture.Basic();

        using var detach = await client.PostAsync(new Uri("/api/nodes/1/detach", UriKind.Relative), null);
        var detached = await detach.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.OK, detach.StatusCode);
        Assert.Equal((3, "down"), (detached.GetProperty("node").GetProperty("status").GetInt32(), detached.GetProperty("node").GetProperty("statusName").GetString()));
        Assert.Equal(NodeStatus.Down, fixture.Host.Store.Current.Find(1)!.Status);

        using var last = await client.PostAsync(new Uri("/api/nodes/0/detach", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Conflict, last.StatusCode);
        Assert.Equal("urn:pgpoolconsole:last-node", (await last.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());

        using var again = await client.PostAsync(new Uri("/api/nodes/1/detach", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);

        using var attach = await client.PostAsync(new Uri("/api/nodes/1/attach", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.OK, attach.StatusCode);
        Assert.True(fixture.Host.Store.Current.Find(1)!.IsUsable);
    }

    [Fact]
    public async Task Attach_AttachedNode_Is409AndUnknownNodeIs404()
    {
        using var client = fixture.Basic();

        using var attached = await client.PostAsync(new Uri("/api/nodes/0/attach", UriKind.Relative), null);
        using var unknown = await client.PostAsync(new Uri("/api/nodes/9/attach", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.Conflict, attached.StatusCode);
        Assert.Equal("urn:pgpoolconsole:invalid-state", (await attached.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Theory]
    [InlineData("/api/nodes/9/recover", HttpStatusCode.NotFound, null)]
    [InlineData("/api/nodes/x/recover", HttpStatusCode.BadRequest, "id")]
    [InlineData("/api/nodes/9/detach", HttpStatusCode.NotFound, null)]
    [InlineData("/api/nodes/1/detach?graceful=maybe", HttpStatusCode.BadRequest, "graceful")]
    public async Task NodeActions_UnknownNodeIs404AndBadInputIs400NamingTheField(string path, HttpStatusCode status, string? field)
    {
        using var client = fixture.Basic();

        using var response = await client.PostAsync(new Uri(path, UriKind.Relative), null);

        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        if (field is null)
        {
            Assert.Equal("urn:pgpoolconsole:unknown-node", problem.GetProperty("type").GetString());
        }
        else
        {
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
        }

        Assert.True(fixture.Host.Store.Current.Find(1)!.IsUsable);
    }

    [Theory]
    [InlineData(AdminError.UnknownNode, 404)]
    [InlineData(AdminError.InvalidState, 409)]
    [InlineData(AdminError.LastNode, 409)]
    [InlineData(AdminError.Busy, 409)]
    [InlineData(AdminError.Unreachable, 502)]
    [InlineData(AdminError.NotSupported, 501)]
    [InlineData(AdminError.Failed, 500)]
    public void StatusOf_EachAdministrationError_HasItsHttpStatus(AdminError error, int status)
    {
        Assert.Equal(status, AdminProblems.StatusOf(error));
    }
}
