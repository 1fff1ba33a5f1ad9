using System.Net.Http.Headers;
using System.Text;
using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.ControlPlane;

/// <summary>
/// Two real PostgreSQL 15 nodes and the whole product in-process, with an API token and health
/// checks every second (so a killed node is noticed). pcp.conf has postgres/postgres.
/// </summary>
public class ControlPlaneFixture : ProxyFixture
{
    public const string User = "postgres";
    public const string UserPassword = "postgres";
    public const string ApiToken = "test-api-token-0123";

    public ControlPlaneFixture()
        : base(2)
    {
    }

    protected ControlPlaneFixture(int nodeCount)
        : base(nodeCount)
    {
    }

    protected override string ExtraConfiguration =>
        $"""
        health_check_period = 1
        health_check_timeout = 3
        health_check_max_retries = 0
        control_plane_api_token = '{ApiToken}'
        control_plane_max_failed_logins = {MaxFailedLogins}
        """;

    /// <summary>High by default so tests that try wrong passwords do not lock the others out.</summary>
    protected virtual int MaxFailedLogins => 1000;

    public Uri BaseAddress => new($"http://127.0.0.1:{HttpPort}");

    /// <summary>A client that sends no credentials (and does not follow redirects).</summary>
    public HttpClient Anonymous() => new(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

    /// <summary>A client logged in as the pcp.conf user with HTTP Basic.</summary>
    public HttpClient Basic(string user = User, string password = UserPassword)
    {
        var client = Anonymous();
        client.DefaultRequestHeaders.Authorization = BasicHeader(user, password);
        return client;
    }

    public HttpClient WithToken(string token = ApiToken)
    {
        var client = Anonymous();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return client;
    }

    public static AuthenticationHeaderValue BasicHeader(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    /// <summary>Attaches every node again (through the product) and waits until all are usable.</summary>
    public async Task AttachAllAsync()
    {
        await HealAsync();
        using var client = Basic();
        foreach (var node in Host.Store.Current.Nodes.Where(n => !n.IsUsable))
        {
            using var response = await client.PostAsync(new Uri($"/api/nodes/{node.Id}/attach", UriKind.Relative), null);
        }
    }
}

[CollectionDefinition(Name)]
public sealed class ControlPlaneCollection : ICollectionFixture<ControlPlaneFixture>
{
    public const string Name = "control plane on two nodes";
}
