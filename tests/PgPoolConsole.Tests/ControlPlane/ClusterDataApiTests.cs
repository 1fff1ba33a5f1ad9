using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Npgsql;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Tests.ControlPlane;

[Collection(ControlPlaneCollection.Name)]
public sealed class ClusterDataApiTests(ControlPlaneFixture fixture)
{
    [Fact]
    public async Task Log_FiltersByLevelNodeAndText_PagesForwardAndBackward()
    {
        var marker = "logtest-" + Guid.NewGuid().ToString("N")[..8];
        var log = fixture.Host.Store.Log;
        var first = log.Append(EventLevel.Log, 1, 1, "test", $"{marker} one");
        log.Append(EventLevel.Warning, 1, 0, "test", $"{marker} two");
        log.Append(EventLevel.Error, 1, 1, "test", $"{marker} three");
        using var client = fixture.Basic();

        var warnings = await client.GetFromJsonAsync<JsonElement>($"/api/log?text={marker}&level=warning");
        var node1 = await client.GetFromJsonAsync<JsonElement>($"/api/log?text={marker}&node=1");
        var firstPage = await client.GetFromJsonAsync<JsonElement>($"/api/log?text={marker}&limit=2&after={first.Sequence - 1}");
        var next = firstPage.GetProperty("nextAfter").GetInt64();
        var secondPage = await client.GetFromJsonAsync<JsonElement>($"/api/log?text={marker}&limit=2&after={next}");
        var older = await client.GetFromJsonAsync<JsonElement>($"/api/log?text={marker}&limit=5&before={next}");

        Assert.Equal([$"{marker} two", $"{marker} three"], Messages(warnings));
        Assert.Equal([$"{marker} one", $"{marker} three"], Messages(node1));
        Assert.Equal([$"{marker} one", $"{marker} two"], Messages(firstPage));
        Assert.Equal([$"{marker} three"], Messages(secondPage));
        Assert.Equal([$"{marker} one"], Messages(older));
        var line = warnings.GetProperty("entries")[1].GetProperty("line").GetString();
        Assert.Matches($@"^\d{{4}}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{{3}}: .* pid 1: ERROR:  {marker} three$", line);
    }

    [Theory]
    [InlineData("level=loud", "level")]
    [InlineData("node=x", "node")]
    [InlineData("limit=0", "limit")]
    [InlineData("after=-3", "after")]
    public async Task Log_BadParameter_Is400NamingIt(string query, string field)
    {
        using var client = fixture.Basic();

        using var response = await client.GetAsync(new Uri($"/api/log?{query}", UriKind.Relative));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    [Fact]
    public async Task Config_ListsEffectiveSettingsWithSecretsMasked()
    {
        using var client = fixture.Basic();

        var config = await client.GetFromJsonAsync<JsonElement>("/api/config");

        var settings = config.GetProperty("settings").EnumerateArray().ToDictionary(s => s.GetProperty("name").GetString()!);
        Assert.Equal(fixture.ConfigPath, config.GetProperty("configFile").GetString());
        Assert.Equal(("*****", true), (settings["health_check_password"].GetProperty("value").GetString(), settings["health_check_password"].GetProperty("isSecret").GetBoolean()));
        Assert.Equal("*****", settings["control_plane_api_token"].GetProperty("value").GetString());
        Assert.Equal(fixture.ProxyPort.ToString(System.Globalization.CultureInfo.InvariantCulture), settings["port"].GetProperty("value").GetString());
        Assert.DoesNotContain(ControlPlaneFixture.ApiToken, config.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain(Integration.ProxyFixture.Password, config.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reload_RereadsTheConfiguration()
    {
        using var client = fixture.Basic();

        using var response = await client.PostAsync(new Uri("/api/reload", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("configuration reloaded", (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("message").GetString());
    }

    [Fact]
    public async Task Sessions_ShowAnOpenClientWithItsBackendConnections()
    {
        var database = await fixture.CreateDatabaseAsync("sessions");
        await using var connection = new NpgsqlConnection(fixture.ConnectionString(database) + ";Application Name=sessions-test");
        await connection.OpenAsync();
        await using (var command = new NpgsqlCommand("CREATE TABLE s (id int); INSERT INTO s VALUES (1)", connection))
        {
            await command.ExecuteNonQueryAsync();
        }

        using var client = fixture.Basic();

        var sessions = await client.GetFromJsonAsync<JsonElement>("/api/sessions");

        var mine = sessions.GetProperty("sessions").EnumerateArray().Single(s => s.GetProperty("applicationName").GetString() == "sessions-test");
        Assert.Equal((database, "postgres", "Idle"), (mine.GetProperty("database").GetString(), mine.GetProperty("user").GetString(), mine.GetProperty("status").GetString()));
        Assert.Equal([0, 1], mine.GetProperty("backends").EnumerateArray().Select(b => b.GetProperty("nodeId").GetInt32()).Order());
        Assert.All(mine.GetProperty("backends").EnumerateArray(), b => Assert.True(b.GetProperty("backendProcessId").GetInt32() > 0));
        Assert.True(sessions.GetProperty("count").GetInt32() >= 1);
    }

    [Fact]
    public async Task Recoveries_ShowPublishedProgressWithStagesOutputAndOutcome()
    {
        var jobId = "api-" + Guid.NewGuid().ToString("N")[..8];
        var start = DateTimeOffset.UtcNow;
        fixture.Host.Store.Recovery.Publish(new RecoveryProgress(jobId, 1, start, null, RecoveryOutcome.Running,
        [
            new RecoveryStageProgress(1, "1st stage", RecoveryStageOutcome.Succeeded, start, start.AddSeconds(2), "base backup copied\n", null),
            new RecoveryStageProgress(2, "2nd stage", RecoveryStageOutcome.Running, start.AddSeconds(2), null, "", null),
        ], null));
        using var client = fixture.Basic();

        var one = await client.GetFromJsonAsync<JsonElement>($"/api/recoveries/{jobId}");
        var all = await client.GetFromJsonAsync<JsonElement>("/api/recoveries");
        using var unknown = await client.GetAsync(new Uri("/api/recoveries/no-such-job", UriKind.Relative));

        Assert.Equal(("running", "2nd stage", 1), (one.GetProperty("outcome").GetString(), one.GetProperty("currentStage").GetString(), one.GetProperty("nodeId").GetInt32()));
        var stages = one.GetProperty("stages").EnumerateArray().ToList();
        Assert.Equal(("succeeded", 2000.0, "base backup copied\n"), (stages[0].GetProperty("outcome").GetString(), stages[0].GetProperty("durationMs").GetDouble(), stages[0].GetProperty("output").GetString()));
        Assert.Equal("running", stages[1].GetProperty("outcome").GetString());
        Assert.Contains(all.EnumerateArray(), r => r.GetProperty("jobId").GetString() == jobId);
        Assert.Equal(HttpStatusCode.NotFound, unknown.StatusCode);
    }

    [Fact]
    public async Task ConsistencyCheck_Accepted202WithLocation_CompletesIdenticalAndBadChunkSizeIs400()
    {
        var database = await fixture.CreateDatabaseAsync("consistency");
        (await fixture.PsqlAsync(database, "CREATE TABLE c (id int PRIMARY KEY, v text)", "INSERT INTO c SELECT g, 'v' || g FROM generate_series(1, 50) g")).EnsureSuccess();
        using var client = fixture.Basic();

        using var bad = await client.PostAsJsonAsync("/api/consistency-checks", new { databases = new[] { database }, chunkRows = 0 });
        using var started = await client.PostAsJsonAsync("/api/consistency-checks", new { databases = new[] { database } });

        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.True((await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("chunkRows", out _));
        Assert.Equal(HttpStatusCode.Accepted, started.StatusCode);
        var location = started.Headers.Location!.OriginalString;
        Assert.StartsWith("/api/consistency-checks/", location, StringComparison.Ordinal);
        JsonElement check;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        do
        {
            await Task.Delay(200);
            check = await client.GetFromJsonAsync<JsonElement>(location);
        }
        while (check.GetProperty("state").GetString() == "running" && DateTime.UtcNow < deadline);

        Assert.Equal(("completed", true), (check.GetProperty("state").GetString(), check.GetProperty("allIdentical").GetBoolean()));
        var table = Assert.Single(check.GetProperty("tables").EnumerateArray());
        Assert.Equal([50L, 50L], table.GetProperty("nodes").EnumerateArray().Select(n => n.GetProperty("rows").GetInt64()));
    }

    [Theory]
    [InlineData("{\"chunkRows\": \"many\"}", "chunkRows")]
    [InlineData("{\"databases\": \"postgres\"}", "databases")]
    [InlineData("{\"databases\": [\" \"]}", "databases")]
    [InlineData("{\"chunkRows\": -5}", "chunkRows")]
    [InlineData("{not json", "body")]
    public async Task ConsistencyCheck_BadBody_Is400NamingTheField(string body, string field)
    {
        using var client = fixture.Basic();
        using var content = new StringContent(body, System.Text.Encoding.UTF8, "application/json");

        using var response = await client.PostAsync(new Uri("/api/consistency-checks", UriKind.Relative), content);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), problem.ToString());
    }

    private static List<string?> Messages(JsonElement page) =>
        [.. page.GetProperty("entries").EnumerateArray().Select(e => e.GetProperty("message").GetString())];
}
