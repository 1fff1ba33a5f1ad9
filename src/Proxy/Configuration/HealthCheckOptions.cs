namespace PgPoolConsole.Proxy.Configuration;

public sealed record HealthCheckOptions
{
    /// <summary>health_check_period, seconds, 0 = off.</summary>
    public int Period { get; init; }

    /// <summary>Seconds.</summary>
    public int Timeout { get; init; } = 20;

    public string User { get; init; } = "nobody";

    public string Password { get; init; } = "";

    /// <summary>'' = try postgres then template1.</summary>
    public string Database { get; init; } = "postgres";

    public int MaxRetries { get; init; }

    /// <summary>Seconds.</summary>
    public int RetryDelay { get; init; } = 1;
}
