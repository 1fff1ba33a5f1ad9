using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Tests.Configuration;

public class ControlPlaneSettingsTests
{
    private static ConfigLoadResult Load(string pgpoolConf) =>
        PgPoolOptionsLoader.Load(PgPoolConfigFile.Parse("backend_hostname0 = 'db0'\n" + pgpoolConf, "pgpool.conf"));

    [Fact]
    public void Defaults_NoTokenAnonymousHealthButNotMetricsFiveFailedLogins()
    {
        var options = Load("").Options;

        Assert.Equal(("", true, false, 5), (options.ControlPlaneApiToken, options.ControlPlaneAnonymousHealth, options.ControlPlaneAnonymousMetrics, options.ControlPlaneMaxFailedLogins));
    }

    [Fact]
    public void Load_ControlPlaneKeys_AreReadAndTheTokenIsMasked()
    {
        var result = Load("control_plane_api_token = 'tok-123'\ncontrol_plane_anonymous_health = off\ncontrol_plane_anonymous_metrics = on\ncontrol_plane_max_failed_logins = 3\n");

        var options = result.Options;
        Assert.Empty(result.Warnings);
        Assert.Equal(("tok-123", false, true, 3), (options.ControlPlaneApiToken, options.ControlPlaneAnonymousHealth, options.ControlPlaneAnonymousMetrics, options.ControlPlaneMaxFailedLogins));
        var token = options.Effective.Single(e => e.Name == "control_plane_api_token");
        Assert.Equal(("*****", true, "pgpool.conf:2"), (token.Value, token.IsSecret, token.Source));
    }

    [Theory]
    [InlineData("control_plane_api_token")]
    [InlineData("control_plane_anonymous_health")]
    [InlineData("control_plane_anonymous_metrics")]
    [InlineData("control_plane_max_failed_logins")]
    public void ControlPlaneKeys_TakeEffectOnReload(string name)
    {
        var definition = PgPoolSettings.Find(name);

        Assert.NotNull(definition);
        Assert.False(definition.NeedsRestart);
        Assert.Contains("not a pgpool-II key", definition.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void Load_ZeroFailedLogins_IsRejectedWithTheKey()
    {
        var error = Assert.Throws<ConfigException>(() => Load("control_plane_max_failed_logins = 0\n")).Message;

        Assert.Contains("control_plane_max_failed_logins", error, StringComparison.Ordinal);
    }

    [Fact]
    public void ReloadDiff_NewToken_IsAReloadableChangeShownMasked()
    {
        var before = Load("").Options;
        var after = Load("control_plane_api_token = 'new-token'\n").Options;

        var change = Assert.Single(PgPoolOptionsLoader.ReloadDiff(before, after).Changes);
        Assert.Equal(("control_plane_api_token", "*****", false), (change.Name, change.NewValue, change.NeedsRestart));
    }
}
