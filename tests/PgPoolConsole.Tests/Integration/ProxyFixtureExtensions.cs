using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Integration;

public static class ProxyFixtureExtensions
{
    /// <summary>Runs a psql script through the proxy without stopping at errors (as a user would paste it).</summary>
    public static Task<ProcessResult> ScriptAsync(ProxyFixture proxy, string database, string script) =>
        Psql.RunAsync(proxy.PsqlOptions(database) with { StandardInput = script }, ["--set=ON_ERROR_STOP=0", "-f", "-"]);
}
