using PgPoolConsole.Proxy.Sessions;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Tests.Sessions;

public sealed class StartupIsolationTests
{
    [Theory]
    [InlineData("options", "-c default_transaction_isolation=serializable", SqlIsolationLevel.Serializable)]
    [InlineData("options", "-cdefault_transaction_isolation=serializable", SqlIsolationLevel.Serializable)]
    [InlineData("options", "--default-transaction-isolation=repeatable\\ read", SqlIsolationLevel.RepeatableRead)]
    [InlineData("options", "-c search_path=app -c default_transaction_isolation=repeatable\\ read -c work_mem=8MB", SqlIsolationLevel.RepeatableRead)]
    [InlineData("options", "-c search_path=app", SqlIsolationLevel.Default)]
    [InlineData("default_transaction_isolation", "repeatable read", SqlIsolationLevel.RepeatableRead)]
    [InlineData("default_transaction_isolation", "READ COMMITTED", SqlIsolationLevel.ReadCommitted)]
    [InlineData("application_name", "serializable", SqlIsolationLevel.Default)]
    public void StartupParameters_NameTheSessionsDefaultIsolation(string key, string value, SqlIsolationLevel level)
    {
        Assert.Equal(level, ClientSession.StartupIsolation([new(key, value)]));
    }
}
