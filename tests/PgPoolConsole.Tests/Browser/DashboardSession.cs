using Microsoft.Playwright;

namespace PgPoolConsole.Tests.Browser;

/// <summary>
/// One browser context (its own cookies) on the dashboard, collecting console errors and page
/// errors so a test can assert there were none.
/// </summary>
public sealed class DashboardSession : IAsyncDisposable
{
    private readonly IBrowserContext _context;

    private DashboardSession(IBrowserContext context, IPage page, Uri baseAddress)
    {
        _context = context;
        Page = page;
        BaseAddress = baseAddress;
        page.Console += (_, message) =>
        {
            if (message.Type == "error")
            {
                Errors.Add($"console: {message.Text}");
            }
        };
        page.PageError += (_, error) => Errors.Add($"page error: {error}");
    }

    public IPage Page { get; }

    public Uri BaseAddress { get; }

    public List<string> Errors { get; } = [];

    public static async Task<DashboardSession> OpenAsync(BrowserFixture fixture, int width = 1280, int height = 800)
    {
        var context = await fixture.Browser.NewContextAsync(new BrowserNewContextOptions
        {
            BaseURL = fixture.BaseAddress.ToString(),
            ViewportSize = new ViewportSize { Width = width, Height = height },
        });
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        return new DashboardSession(context, page, fixture.BaseAddress);
    }

    /// <summary>Opens <paramref name="path"/>, is sent to the login page, logs in and lands back on it.</summary>
    public async Task LogInAsync(string path = "/", string user = ControlPlane.ControlPlaneFixture.User, string password = ControlPlane.ControlPlaneFixture.UserPassword)
    {
        await Page.GotoAsync(path);
        await Page.WaitForURLAsync("**/login**");
        await Page.FillAsync("#user", user);
        await Page.FillAsync("#password", password);
        await Page.ClickAsync("button[type=submit]");
        await Page.WaitForURLAsync(url => !url.Contains("/login", StringComparison.Ordinal));
        await WaitForCircuitAsync();
    }

    /// <summary>Waits until the interactive circuit is connected (buttons work from then on).</summary>
    public Task WaitForCircuitAsync() =>
        Page.WaitForSelectorAsync("[data-circuit-ready]", new PageWaitForSelectorOptions { State = WaitForSelectorState.Attached, Timeout = 30_000 });

    public async Task ScreenshotAsync(string name)
    {
        Directory.CreateDirectory(BrowserFixture.ScreenshotDirectory);
        await Page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(BrowserFixture.ScreenshotDirectory, name), FullPage = true });
    }

    public ILocator NodeStatus(int nodeId) => Page.Locator($"tr[data-node-id='{nodeId}'] [data-testid=status]");

    public ILocator NodeButton(int nodeId, string action) => Page.Locator($"tr[data-node-id='{nodeId}'] [data-testid={action}]");

    public async ValueTask DisposeAsync() => await _context.CloseAsync();
}
