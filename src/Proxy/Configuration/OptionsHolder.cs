namespace PgPoolConsole.Proxy.Configuration;

/// <summary>Holds the current options; <c>reload</c> swaps in a new instance.</summary>
public sealed class OptionsHolder(PgPoolOptions options)
{
    private PgPoolOptions _current = options;

    public PgPoolOptions Current => Volatile.Read(ref _current);

    public void Replace(PgPoolOptions options) => Volatile.Write(ref _current, options);
}
