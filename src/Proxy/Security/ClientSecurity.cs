using System.Collections.Concurrent;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Proxy.Security;

/// <summary>
/// Everything client authentication reads, loaded together: TLS (fixed until restart), pool_hba.conf
/// (null when enable_pool_hba is off) and pool_passwd. Immutable; reload swaps a new one in.
/// </summary>
public sealed class ClientSecurity
{
    private readonly ConcurrentDictionary<string, ScramVerifier> _derivedVerifiers = new(StringComparer.Ordinal);

    public static ClientSecurity None { get; } = new(null, null, PoolPasswd.Empty);

    public ClientSecurity(ClientTls? tls, PoolHba? hba, PoolPasswd passwd)
    {
        Tls = tls;
        Hba = hba;
        Passwd = passwd;
    }

    public ClientTls? Tls { get; }

    public PoolHba? Hba { get; }

    public PoolPasswd Passwd { get; }

    /// <summary>
    /// Reads the files the options name. <paramref name="configDirectory"/> anchors relative paths
    /// (pool_passwd, ssl_*, pool_key_file); <paramref name="hbaFile"/> is -a, else pool_hba.conf in
    /// that directory. <paramref name="tls"/> reuses an already loaded TLS setup (reload).
    /// Throws <see cref="ConfigException"/>.
    /// </summary>
    public static ClientSecurity Load(PgPoolOptions options, string configDirectory, string? hbaFile, ClientTls? tls = null, bool loadTls = true)
    {
        ArgumentNullException.ThrowIfNull(options);
        tls ??= loadTls ? ClientTls.Load(options, configDirectory) : null;
        var hba = options.EnablePoolHba
            ? PoolHba.Load(hbaFile is null ? Path.Combine(configDirectory, "pool_hba.conf") : Path.GetFullPath(hbaFile))
            : null;
        var passwd = PoolPasswd.Empty;
        if (options.PoolPasswd.Length > 0)
        {
            var keyFile = PoolKey.FilePath(ClientTls.Resolve(options.PoolKeyFile, configDirectory));
            passwd = PoolPasswd.Load(ClientTls.Resolve(options.PoolPasswd, configDirectory), () => PoolKey.Read(keyFile));
        }

        return new ClientSecurity(tls, hba, passwd);
    }

    /// <summary>A SCRAM verifier for a TEXT/AES password, made once per user and password.</summary>
    public ScramVerifier VerifierFor(PoolPasswdEntry entry) =>
        entry.Scram ?? _derivedVerifiers.GetOrAdd(entry.User + "\0" + entry.Password, static (_, password) => ScramVerifier.Create(password), entry.Password ?? throw new InvalidOperationException("no password"));
}

/// <summary>The current <see cref="ClientSecurity"/>; replaced on reload.</summary>
public sealed class ClientSecurityHolder(ClientSecurity initial)
{
    private volatile ClientSecurity _current = initial;

    public ClientSecurity Current => _current;

    public void Replace(ClientSecurity security) => _current = security;
}
