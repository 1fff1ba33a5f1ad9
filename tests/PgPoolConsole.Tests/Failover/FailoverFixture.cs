using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Failover;

/// <summary>Two nodes, health checks every second (2 s timeout, one retry), failover/failback commands logging every placeholder.</summary>
public sealed class FailoverFixture() : ProxyFixture(2)
{
    public string FailoverLog => Path.Combine(Directory, "failover.log");

    public string FailbackLog => Path.Combine(Directory, "failback.log");

    protected override string ExtraConfiguration =>
        "health_check_period = 1\nhealth_check_timeout = 2\nhealth_check_max_retries = 1\nhealth_check_retry_delay = 1\n" +
        $"failover_command = 'echo \"d=%d h=%h p=%p D=%D m=%m H=%H M=%M P=%P r=%r R=%R N=%N S=%S pct=%%\" >> {FailoverLog}'\n" +
        $"failback_command = 'echo \"d=%d h=%h p=%p D=%D m=%m H=%H M=%M\" >> {FailbackLog}'\n";
}

[CollectionDefinition(Name)]
public sealed class FailoverCollection : ICollectionFixture<FailoverFixture>
{
    public const string Name = "failover on two nodes";
}
