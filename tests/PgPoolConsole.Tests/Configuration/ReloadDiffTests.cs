using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Tests.Configuration;

public class ReloadDiffTests
{
    private const string TwoNodes = """
        replication_mode = on
        backend_hostname0 = 'db0'
        backend_weight0 = 1
        backend_hostname1 = 'db1'
        backend_weight1 = 1
        """;

    private static PgPoolOptions Load(string pgpoolConf) =>
        PgPoolOptionsLoader.Load(PgPoolConfigFile.Parse(pgpoolConf, "pgpool.conf")).Options;

    private static ConfigReloadDiff Diff(string before, string after) =>
        PgPoolOptionsLoader.ReloadDiff(Load(before), Load(after));

    [Fact]
    public void ReloadDiff_SameConfiguration_HasNoChanges()
    {
        var diff = Diff(ConfigSamples.PgPool43, ConfigSamples.PgPool43);

        Assert.Empty(diff.Changes);
        Assert.False(diff.NeedsRestart);
    }

    [Fact]
    public void ReloadDiff_OnlyCommentsAndLayoutChanged_HasNoChanges()
    {
        Assert.Empty(Diff(TwoNodes, "# reformatted\n" + TwoNodes.Replace(" = ", "\t", StringComparison.Ordinal)).Changes);
    }

    [Fact]
    public void ReloadDiff_ReloadableSettings_DoNotNeedRestart()
    {
        var diff = Diff(TwoNodes, TwoNodes + "\nlog_statement = on\nhealth_check_period = 10\nbackend_weight1 = 3\n");

        Assert.Equal(
            [
                new SettingChange("log_statement", "off", "on", false),
                new SettingChange("health_check_period", "0", "10", false),
                new SettingChange("health_check_period0", "0", "10", false),
                new SettingChange("backend_weight1", "1", "3", false),
                new SettingChange("health_check_period1", "0", "10", false),
            ],
            diff.Changes);
        Assert.False(diff.NeedsRestart);
        Assert.Empty(diff.RestartRequired);
    }

    [Fact]
    public void ReloadDiff_StartupSettings_NeedRestart()
    {
        var diff = Diff(TwoNodes, TwoNodes + "\nport = 9998\nnum_init_children = 8\nclient_idle_limit = 30\n");

        Assert.True(diff.NeedsRestart);
        Assert.Equal(
            [("port", "9999", "9998"), ("num_init_children", "32", "8")],
            diff.RestartRequired.Select(c => (c.Name, c.OldValue, c.NewValue)));
        Assert.Contains(new SettingChange("client_idle_limit", "0", "30", false), diff.Changes);
    }

    [Fact]
    public void ReloadDiff_BackendAdded_IsReloadable()
    {
        var diff = Diff(TwoNodes, TwoNodes + "\nbackend_hostname2 = 'db2'\nbackend_port2 = 5433\nbackend_data_directory2 = '/data'\n");

        Assert.False(diff.NeedsRestart);
        Assert.Equal(
            [("backend_hostname2", "", "db2"), ("backend_port2", "", "5433"), ("backend_weight2", "", "1"), ("backend_data_directory2", "", "/data"), ("backend_flag2", "", "ALLOW_TO_FAILOVER"), ("backend_sslmode2", "", "prefer")],
            diff.Changes.Where(c => c.Name.StartsWith("backend_", StringComparison.Ordinal)).Select(c => (c.Name, c.OldValue, c.NewValue)));
        Assert.Contains(new SettingChange("health_check_user2", "", "nobody", false), diff.Changes);
    }

    [Theory]
    [InlineData("backend_hostname1 = 'db1-new'", "backend_hostname1", "db1", "db1-new")]
    [InlineData("backend_port1 = 6432", "backend_port1", "5432", "6432")]
    public void ReloadDiff_ExistingBackendMoved_NeedsRestart(string line, string name, string before, string after)
    {
        var diff = Diff(TwoNodes, TwoNodes + "\n" + line + "\n");

        Assert.Equal(new SettingChange(name, before, after, true), Assert.Single(diff.Changes));
        Assert.True(diff.NeedsRestart);
    }

    [Fact]
    public void ReloadDiff_BackendRemoved_NeedsRestart()
    {
        var diff = Diff(TwoNodes, "replication_mode = on\nbackend_hostname0 = 'db0'\nbackend_weight0 = 1\n");

        Assert.True(diff.NeedsRestart);
        Assert.Contains(new SettingChange("backend_hostname1", "db1", "", true), diff.Changes);
        Assert.All(diff.Changes, c => Assert.EndsWith("1", c.Name, StringComparison.Ordinal));
    }

    [Fact]
    public void ReloadDiff_SecretChanged_IsReportedMasked()
    {
        var diff = Diff(TwoNodes + "\nrecovery_password = 'old'\n", TwoNodes + "\nrecovery_password = 'new'\n");

        Assert.Equal(new SettingChange("recovery_password", "*****", "*****", false), Assert.Single(diff.Changes));
    }

    private static PgPoolOptions Installed(string running, string reloaded, params int[] runningNodes) =>
        PgPoolOptionsLoader.Load(PgPoolOptionsLoader.KeepRestartOnlyEntries(
            PgPoolConfigFile.Parse(running, "pgpool.conf"), PgPoolConfigFile.Parse(reloaded, "pgpool.conf"), runningNodes)).Options;

    [Fact]
    public void Reload_KeepsTheRunningValueOfEveryKeyThatNeedsARestart_AndTakesTheRest()
    {
        var installed = Installed(
            TwoNodes + "\nport = 9999\nload_balance_mode = on\nconnection_cache = on\n",
            TwoNodes.Replace("'db1'", "'moved'", StringComparison.Ordinal) + "\nport = 7777\nnum_init_children = 5\nconnection_cache = off\nlog_statement = on\nbackend_weight1 = 3\n",
            0, 1);

        Assert.Equal(9999, installed.Port);
        Assert.Equal(32, installed.NumInitChildren); // the default it ran with: a key the reload adds waits for a restart too
        Assert.True(installed.ConnectionCache);
        Assert.True(installed.LoadBalanceMode);
        Assert.Equal("db1", installed.Backends[1].Hostname);
        Assert.True(installed.LogStatement);
        Assert.Equal(3, installed.Backends[1].Weight);
    }

    [Fact]
    public void Reload_ANodeLeftOutStaysAsItRuns_AndANewNodeIsTakenWhole()
    {
        var installed = Installed(
            TwoNodes + "\nbackend_weight1 = 4\n",
            "replication_mode = on\nbackend_hostname0 = 'db0'\nbackend_hostname2 = 'db2'\nbackend_port2 = 5433\nbackend_weight2 = 2\n",
            0, 1);

        Assert.Equal([0, 1, 2], installed.Backends.Select(b => b.Id));
        Assert.Equal(("db1", 4.0), (installed.Backends[1].Hostname, installed.Backends[1].Weight));
        Assert.Equal(("db2", 5433, 2.0), (installed.Backends[2].Hostname, installed.Backends[2].Port, installed.Backends[2].Weight));
    }
}
