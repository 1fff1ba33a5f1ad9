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

    /// <summary>
    /// Playwright sets Console.OutputEncoding, which takes the console's lock and then flushes
    /// Console.Out and Console.Error under theirs; a product log line written meanwhile holds
    /// Console.Error's lock and then wants Console.Out's and the console's (a lock-order inversion
    /// in .NET's console that hung a full test run). Taking the writers' locks first, in the order
    /// a log line takes them, leaves no cycle. Playwright sets the encoding before its first await.
    /// </summary>
    private static Task<IPlaywright> CreatePlaywrightAsync()
    {
        lock (Console.Error)
        {
            lock (Console.Out)
            {
                return Playwright.CreateAsync();
            }
        }
    }

    async Task IAsyncLifetime.InitializeAsync()
    {
        await InitializeAsync();
        _playwright = await CreatePlaywrightAsync();
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
