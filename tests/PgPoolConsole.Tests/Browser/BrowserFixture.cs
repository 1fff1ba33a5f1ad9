using Microsoft.Playwright;
using PgPoolConsole.Tests.ControlPlane;

namespace PgPoolConsole.Tests.Browser;

/// <summary>
/// The product on two real nodes (its own, so tests may kill them and recover them) plus Debian's
/// Chromium driven by Playwright (never a downloaded browser).
/// </summary>
public sealed class BrowserFixture : ControlPlaneFixture, IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    /// <summary>The control plane's settings plus online recovery with the default scripts.</summary>
    protected override string ExtraConfiguration =>
        base.ExtraConfiguration + "\n" + DefaultRecoverySettings;

    protected override Task PrepareNodesAsync() => InstallRecoveryScriptsAsync();

    /// <summary>Where screenshots go: $PGPOOLCONSOLE_SCREENSHOTS, else a folder under the temp directory.</summary>
    public static string ScreenshotDirectory =>
        Environment.GetEnvironmentVariable("PGPOOLCONSOLE_SCREENSHOTS") is { Length: > 0 } folder
            ? folder
            : Path.Combine(Path.GetTempPath(), "pgpoolconsole-screenshots");

    async Task IAsyncLifetime.InitializeAsync()
    {
        await InitializeAsync();
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking", "--disable-component-update", "--no-first-run"],
            Timeout = 60_000,
        });
    }

    async Task IAsyncLifetime.DisposeAsync()
    {
        try
        {
            if (Browser is not null)
            {
                await Browser.CloseAsync();
            }

            _playwright?.Dispose();
        }
        finally
        {
            await DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class BrowserCollection : ICollectionFixture<BrowserFixture>
{
    public const string Name = "dashboard in Chromium";
}
