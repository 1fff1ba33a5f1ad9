using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace PgPoolConsole.Tests.ControlPlane;

[Collection(ControlPlaneCollection.Name)]
public sealed class MonitoringApiTests(ControlPlaneFixture fixture) : IAsyncLifetime
{
    public Task InitializeAsync() => fixture.AttachAllAsync();

    public Task DisposeAsync() => fixture.AttachAllAsync();

    [Fact]
    public async Task Health_AnonymousByDefault_200WithNodesAnd503ForADetachedNode()
    {
        using var anonymous = fixture.Anonymous();
        using var admin = fixture.Basic();

        using var health = await anonymous.GetAsync(new Uri("/health", UriKind.Relative));
        using var live = await anonymous.GetAsync(new Uri("/health/live", UriKind.Relative));
        using var node1 = await anonymous.GetAsync(new Uri("/health/nodes/1", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        Assert.Equal(HttpStatusCode.OK, node1.StatusCode);
        var body = await health.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(("ok", true, 2), (body.GetProperty("status").GetString(), body.GetProperty("accepting").GetBoolean(), body.GetProperty("usableNodes").GetInt32()));

        (await admin.PostAsync(new Uri("/api/nodes/1/detach", UriKind.Relative), null)).EnsureSuccessStatusCode();

        using var down = await anonymous.GetAsync(new Uri("/health/nodes/1", UriKind.Relative));
        using var stillOk = await anonymous.GetAsync(new Uri("/health", UriKind.Relative));
        using var unknown = await anonymous.GetAsync(new Uri("/health/nodes/5", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        Assert.Equal("down", (await down.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("statusName").GetString());
        Assert.Equal(HttpStatusCode.OK, stillOk.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task Metrics_PrometheusTextWithQueriesByKindAndNodeSessionsFailoversAndHealthLatency()
    {
        var database = await fixture.CreateDatabaseAsync("metrics");
        (await fixture.PsqlAsync(database, "CREATE TABLE t (id int)", "INSERT INTO t VALUES (1)", "SELECT * FROM t")).EnsureSuccess();
        using var admin = fixture.Basic();
        (await admin.PostAsync(new Uri("/api/nodes/1/detach", UriKind.Relative), null)).EnsureSuccessStatusCode();

        var text = await Eventually(admin, "/metrics", t => t.Contains("pgpool_failovers_total{node=\"1\"} 1", StringComparison.Ordinal));

        Assert.Contains("# TYPE pgpool_queries_total counter", text, StringComparison.Ordinal);
        Assert.Matches("pgpool_queries_total\\{node=\"0\",kind=\"insert\"\\} [1-9]", text);
        Assert.Matches("pgpool_queries_total\\{node=\"1\",kind=\"insert\"\\} [1-9]", text);
        Assert.Matches("pgpool_queries_total\\{node=\"[01]\",kind=\"select\"\\} [1-9]", text);
        Assert.Contains("pgpool_sessions ", text, StringComparison.Ordinal);
        Assert.Contains("pgpool_node_status{node=\"1\"", text, StringComparison.Ordinal);
        Assert.Contains("pgpool_health_check_last_duration_ms{node=\"0\"}", text, StringComparison.Ordinal);
        Assert.Contains("pgpool_recovery_stage_duration_seconds", text, StringComparison.Ordinal);
        Assert.Contains("pgpool_backend_errors_total", text, StringComparison.Ordinal);
    }

    private static async Task<string> Eventually(HttpClient client, string path, Func<string, bool> condition)
    {
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var text = await client.GetStringAsync(new Uri(path, UriKind.Relative));
            if (condition(text) || DateTime.UtcNow > deadline)
            {
                return text;
            }

            await Task.Delay(100);
        }
    }
}
