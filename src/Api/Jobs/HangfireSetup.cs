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
        // Each host owns its storage and job activator. Hangfire's defaults are per process
        // (JobStorage.Current, JobActivator.Current, configured once): a second host in the same
        // process (tests, a restart in place) would run jobs against the first host's services
        // and lose its storage when the first stops.
        services.AddSingleton<JobActivator>(provider => new Hangfire.AspNetCore.AspNetCoreJobActivator(provider.GetRequiredService<IServiceScopeFactory>()));
        services.AddSingleton<JobStorage>(_ => string.IsNullOrWhiteSpace(options.HangfireConnectionString)
            ? new InMemoryStorage(new InMemoryStorageOptions { MaxExpirationTime = TimeSpan.FromDays(1) })
            : CreatePostgreSqlStorage(options.HangfireConnectionString));
        services.AddHangfire((provider, configuration) => configuration
            .SetDataCompatibilityLevel(CompatibilityLevel.Version_180)
            .UseSimpleAssemblyNameTypeSerializer()
            .UseRecommendedSerializerSettings()
            .UseLogProvider(new HangfireLogBridge(provider.GetRequiredService<ILoggerFactory>()))
            .UseStorage(provider.GetRequiredService<JobStorage>()));
        services.AddHangfireServer(server =>
        {
            server.WorkerCount = 2;
            server.Queues = [RecoveryQueue, "default"];
            server.ServerName = $"pgpoolconsole-{Environment.ProcessId}";
        });
        services.AddSingleton<ConsistencyCheckJob>();
    }

    private static PostgreSqlStorage CreatePostgreSqlStorage(string connectionString)
    {
        var storageOptions = new PostgreSqlStorageOptions { SchemaName = "pgpoolconsole_hangfire", PrepareSchemaIfNecessary = true };
        return new PostgreSqlStorage(new Hangfire.PostgreSql.Factories.NpgsqlConnectionFactory(connectionString, storageOptions), storageOptions);
    }
}
