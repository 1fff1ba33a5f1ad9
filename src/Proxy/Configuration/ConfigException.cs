namespace PgPoolConsole.Proxy.Configuration;

/// <summary>
/// The configuration cannot be used. Carries every error found, not just the first; the message
/// has one line per error, each naming source, line and what is wrong.
/// </summary>
public sealed class ConfigException : Exception
{
    public ConfigException(IReadOnlyList<ConfigMessage> errors)
        : base(string.Join('\n', errors))
    {
        ArgumentOutOfRangeException.ThrowIfZero(errors.Count);
        Errors = errors;
    }

    public IReadOnlyList<ConfigMessage> Errors { get; }
}
