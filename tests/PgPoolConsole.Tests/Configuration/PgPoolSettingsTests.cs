using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Tests.Configuration;

public class PgPoolSettingsTests
{
    [Fact]
    public void All_NamesAreUniqueLowerCaseAndNotAlsoIgnored()
    {
        var names = PgPoolSettings.All.Select(d => d.Name).ToList();

        Assert.Equal(names.Count, names.Distinct().Count());
        Assert.All(names, n => Assert.Equal(n.ToLowerInvariant(), n));
        Assert.Empty(names.Intersect(PgPoolSettings.IgnoredParameters));
    }

    [Theory]
    [InlineData("port", "9999", SettingType.Integer, true)]
    [InlineData("load_balance_mode", "on", SettingType.Boolean, true)]
    [InlineData("client_idle_limit", "0", SettingType.Integer, false)]
    [InlineData("reset_query_list", "ABORT;DISCARD ALL", SettingType.List, false)]
    [InlineData("log_min_messages", "warning", SettingType.Enumeration, false)]
    [InlineData("health_check_database", "postgres", SettingType.String, false)]
    [InlineData("backend_weight", "1", SettingType.Real, false)]
    [InlineData("backend_port", "5432", SettingType.Integer, true)]
    [InlineData("backend_flag", "ALLOW_TO_FAILOVER", SettingType.Flags, false)]
    [InlineData("backend_clustering_mode", "native_replication", SettingType.Enumeration, true)]
    public void Find_KnownSetting_DescribesTypeDefaultAndRestart(string name, string defaultValue, SettingType type, bool needsRestart)
    {
        var definition = PgPoolSettings.Find(name);

        Assert.NotNull(definition);
        Assert.Equal((defaultValue, type, needsRestart), (definition.Default, definition.Type, definition.NeedsRestart));
    }

    [Fact]
    public void Find_OldSpelling_GivesTheCurrentSetting()
    {
        Assert.Equal("failover_on_backend_error", PgPoolSettings.Find("Fail_Over_On_Backend_Error")?.Name);
    }

    [Fact]
    public void Find_UnknownOrIgnored_GivesNull()
    {
        Assert.Null(PgPoolSettings.Find("use_watchdog"));
        Assert.Null(PgPoolSettings.Find("no_such_setting"));
    }

    [Fact]
    public void All_PasswordsTheJobStoreConnectionStringAndTheApiToken_AreSecret()
    {
        Assert.Equal(
            ["health_check_password", "recovery_password", "hangfire_connection_string", "control_plane_api_token"],
            PgPoolSettings.All.Where(d => d.IsSecret).Select(d => d.Name));
    }

    [Fact]
    public void All_HealthCheckAndBackendTlsSettingsButNotConnectTimeout_ArePerNodeToo()
    {
        Assert.Equal(
            ["health_check_period", "health_check_timeout", "health_check_user", "health_check_password", "health_check_database", "health_check_max_retries", "health_check_retry_delay",
             "backend_sslmode", "backend_sslrootcert", "backend_sslcert", "backend_sslkey"],
            PgPoolSettings.All.Where(d => d.Scope == SettingScope.GlobalAndPerNode).Select(d => d.Name));
    }
}
