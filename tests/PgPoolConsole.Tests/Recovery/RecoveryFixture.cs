using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Recovery;

/// <summary>Two nodes with the default recovery scripts installed, health checks every second, a failback log.</summary>
public sealed class RecoveryFixture() : ProxyFixture(2)
{
    public string FailbackLog => Path.Combine(Directory, "failback.log");

    protected override string ExtraConfiguration =>
        "health_check_period = 1\nhealth_check_timeout = 2\nhealth_check_max_retries = 0\n" +
        DefaultRecoverySettings +
        $"failback_command = 'echo \"d=%d h=%h p=%p D=%D m=%m\" >> {FailbackLog}'\n";

    protected override Task PrepareNodesAsync() => InstallRecoveryScriptsAsync();
}

[CollectionDefinition(Name)]
public sealed class RecoveryCollection : ICollectionFixture<RecoveryFixture>
{
    public const string Name = "online recovery on two nodes";
}
