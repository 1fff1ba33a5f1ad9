using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace PgPoolConsole.Tests.ControlPlane;

[Collection(ControlPlaneCollection.Name)]
public sealed partial class AuthenticationApiTests(ControlPlaneFixture fixture)
{
    [Theory]
    [InlineData("/api/nodes")]
    [InlineData("/api/log")]
    [InlineData("/api/config")]
    [InlineData("/openapi/v1.json")]
    [InlineData("/metrics")]
    public async Task Get_WithoutCredentials_Is401WithABasicChallenge(string path)
    {
        using var client = fixture.Anonymous();

        using var response = await client.GetAsync(new Uri(path, UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(response.Headers.WwwAuthenticate, h => h.Scheme == "Basic");
    }

    [Fact]
    public async Task Actions_WithoutCredentials_AreRefusedAndChangeNothing()
    {
        using var client = fixture.Anonymous();

        using var detach = await client.PostAsync(new Uri("/api/nodes/1/detach", UriKind.Relative), null);
        using var reload = await client.PostAsync(new Uri("/api/reload", UriKind.Relative), null);

        Assert.Equal(HttpStatusCode.Unauthorized, detach.StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, reload.StatusCode);
        Assert.True(fixture.Host.Store.Current.Find(1)!.IsUsable);
    }

    [Fact]
    public async Task Basic_WrongPasswordIs401_RightPasswordAndTokenAre200_WrongTokenIs401()
    {
        using var wrong = fixture.Basic(password: "not-the-password");
        using var right = fixture.Basic();
        using var token = fixture.WithToken();
        using var badToken = fixture.WithToken("nope");

        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.GetAsync(new Uri("/api/nodes", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await right.GetAsync(new Uri("/api/nodes", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await token.GetAsync(new Uri("/api/nodes", UriKind.Relative))).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await badToken.GetAsync(new Uri("/api/nodes", UriKind.Relative))).StatusCode);
    }

    [Fact]
    public async Task FailedLogin_IsLoggedWithUserAndAddress()
    {
        var user = "intruder" + Guid.NewGuid().ToString("N")[..6];
        using var client = fixture.Basic(user, "guess");

        using var response = await client.GetAsync(new Uri("/api/nodes", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        var entry = Assert.Single(fixture.Host.Store.Log.Query(text: user));
        Assert.Contains($"failed login for user \"{user}\" from 127.0.0.1 (unknown user", entry.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dashboard_WithoutLogin_RedirectsToTheLoginPage()
    {
        using var client = fixture.Anonymous();

        using var response = await client.GetAsync(new Uri("/sessions", UriKind.Relative));
        using var hangfire = await client.GetAsync(new Uri("/hangfire", UriKind.Relative));

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/login", response.Headers.Location?.PathAndQuery, StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Redirect, hangfire.StatusCode);
        Assert.StartsWith("/login", hangfire.Headers.Location?.PathAndQuery, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoginForm_SetsTheCookie_WhichOpensTheDashboardAndHangfireButNotCookieOnlyPostsWithoutAntiforgery()
    {
        var cookies = new CookieContainer();
        using var client = new HttpClient(new HttpClientHandler { CookieContainer = cookies, AllowAutoRedirect = false }) { BaseAddress = fixture.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };

        var wrong = await PostLoginAsync(client, "postgres", "wrong");
        Assert.Equal(HttpStatusCode.OK, wrong.StatusCode);
        Assert.Contains("Invalid user name or password.", await wrong.Content.ReadAsStringAsync(), StringComparison.Ordinal);

        var right = await PostLoginAsync(client, ControlPlaneFixture.User, ControlPlaneFixture.UserPassword, "/sessions");
        Assert.Equal(HttpStatusCode.Redirect, right.StatusCode);
        Assert.Equal(new Uri(fixture.BaseAddress, "/sessions"), new Uri(fixture.BaseAddress, right.Headers.Location!));
        var cookie = Assert.Single(cookies.GetCookies(fixture.BaseAddress), c => c.Name == ".PgPoolConsole.Login");
        Assert.True(cookie.HttpOnly);

        using var page = await client.GetAsync(new Uri("/sessions", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("Sessions and pools", await page.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        using var hangfire = await client.GetAsync(new Uri("/hangfire", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, hangfire.StatusCode);
        using var api = await client.GetAsync(new Uri("/api/nodes", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, api.StatusCode);

        // A forged cross-site form post would carry the cookie but no antiforgery token.
        using var forged = await client.PostAsync(new Uri("/api/reload", UriKind.Relative), null);
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal("urn:pgpoolconsole:antiforgery", (await forged.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("type").GetString());
    }

    [Fact]
    public async Task OpenApi_DocumentsEveryEndpoint()
    {
        using var client = fixture.Basic();

        var document = await client.GetFromJsonAsync<JsonElement>("/openapi/v1.json");

        var paths = document.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToList();
        foreach (var path in new[] { "/api/nodes", "/api/nodes/{id}", "/api/nodes/{id}/attach", "/api/nodes/{id}/detach", "/api/nodes/{id}/recover", "/api/recoveries", "/api/recoveries/{jobId}", "/api/sessions", "/api/log", "/api/config", "/api/reload", "/api/consistency-checks", "/api/consistency-checks/{id}", "/health", "/health/nodes/{id}" })
        {
            Assert.Contains(path, paths);
        }
    }

    private static async Task<HttpResponseMessage> PostLoginAsync(HttpClient client, string user, string password, string returnUrl = "/")
    {
        var form = await client.GetStringAsync(new Uri($"/login?ReturnUrl={Uri.EscapeDataString(returnUrl)}", UriKind.Relative));
        var token = AntiforgeryInput().Match(form).Groups[1].Value;
        Assert.NotEmpty(token);
        using var content = new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["__RequestVerificationToken"] = token,
            ["_handler"] = "login",
            ["Input.User"] = user,
            ["Input.Password"] = password,
        });
        return await client.PostAsync(new Uri($"/login?ReturnUrl={Uri.EscapeDataString(returnUrl)}", UriKind.Relative), content);
    }

    [GeneratedRegex("name=\"__RequestVerificationToken\" value=\"([^\"]+)\"")]
    private static partial Regex AntiforgeryInput();
}
