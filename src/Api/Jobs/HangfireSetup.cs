using Hangfire;
using Hangfire.InMemory;
using Hangfire.PostgreSql;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Api.Jobs;

/// <summary>
/// Background jobs (online recovery, consistency checks) run on Hangfire: in memory by default,
/// or in PostgreSQL when hangfire_connection_string names a database outside the replicated
/// cluster (a job store inside it could not survive the node it is recovering).
/// </summary>
internal static class HangfireSetup
{
    public const string RecoveryQueue = "recovery";

    public static void AddJobs(this IServiceCollection services, PgPoolOptions options)
    {
        services.AddHangfire(configuration =>
        {
            configuration
                .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
                .UseSimpleAssemblyNameTypeSerializer()
                .UseRecommendedSerializerSettings();
            if (string.IsNullOrWhiteSpace(options.HangfireConnectionString))
            {
                configuration.UseInMemoryStorage(new InMemoryStorageOptions { MaxExpirationTime = TimeSpan.FromDays(1) });
            }
            else
            {
                configuration.UsePostgreSqlStorage(storage => storage.UseNpgsqlConnection(options.HangfireConnectionString), new PostgreSqlStorageOptions { SchemaName = "pgpoolconsole_hangfire", PrepareSchemaIfNecessary = true });
            }
        });
        services.AddHangfireServer(server =>
        {
            server.WorkerCount = 2;
            server.Queues = [RecoveryQueue, "default"];
            server.ServerName = $"pgpoolconsole-{Environment.ProcessId}";
        });
        services.AddSingleton<ConsistencyCheckJob>();
    }
}
