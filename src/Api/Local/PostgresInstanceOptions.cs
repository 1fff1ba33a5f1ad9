namespace PgPoolConsole.Api.Local;

/// <summary>How host (TCP) connections authenticate. Unix-socket connections are always trusted.</summary>
public enum PostgresAuthMethod
{
    /// <summary>No password asked.</summary>
    Trust,

    /// <summary><c>md5</c> in pg_hba.conf, passwords stored as md5.</summary>
    Md5,

    /// <summary><c>scram-sha-256</c> in pg_hba.conf, passwords stored as SCRAM.</summary>
    ScramSha256,
}

/// <summary>What <see cref="PostgresInstance.CreateAsync"/> builds.</summary>
public sealed record PostgresInstanceOptions
{
    /// <summary>The parent folder; the data directory is <c>BaseDirectory/Name</c>.</summary>
    public required string BaseDirectory { get; init; }

    /// <summary>The instance name: a folder name (letters, digits, '-', '_', '.').</summary>
    public required string Name { get; init; }

    /// <summary>The TCP port on 127.0.0.1; 0 picks a free one (<see cref="LocalPorts.GetFreePort"/>).</summary>
    public int Port { get; init; }

    /// <summary>How host connections authenticate.</summary>
    public PostgresAuthMethod AuthMethod { get; init; } = PostgresAuthMethod.Trust;

    /// <summary>The password of the <c>postgres</c> role; required unless <see cref="AuthMethod"/> is Trust.</summary>
    public string? Password { get; init; }

    /// <summary>When set, archive_mode is on and WAL segments are copied here (one directory per node).</summary>
    public string? ArchiveDirectory { get; init; }

    /// <summary>fsync, synchronous_commit and full_page_writes off: fast, and unsafe after an OS crash. For tests.</summary>
    public bool FastUnsafe { get; init; }

    /// <summary>max_connections.</summary>
    public int MaxConnections { get; init; } = 200;

    /// <summary>More postgresql.conf settings, written last (so they win); every value is quoted for you.</summary>
    public IReadOnlyDictionary<string, string> ExtraSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>Dispose leaves the server as it is (running or not) and keeps its files.</summary>
    public bool KeepOnDispose { get; init; }

    /// <summary>Copy a cached initdb result instead of running initdb (much faster). Off runs initdb for this instance.</summary>
    public bool UseTemplateCache { get; init; } = true;

    /// <summary>The data directory: <c>BaseDirectory/Name</c> as a full path.</summary>
    public string DataDirectory => Path.GetFullPath(Path.Combine(BaseDirectory, Name));

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(BaseDirectory);
        ArgumentException.ThrowIfNullOrWhiteSpace(Name);
        if (!Name.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.') || Name is "." or "..")
        {
            throw new ArgumentException($"Instance name '{Name}' must be a plain folder name (letters, digits, '-', '_', '.').", nameof(Name));
        }

        if (Port is < 0 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(Port), Port, "Port must be 0 (pick one) or a TCP port.");
        }

        if (MaxConnections < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxConnections), MaxConnections, "max_connections must be positive.");
        }

        if (AuthMethod != PostgresAuthMethod.Trust && string.IsNullOrEmpty(Password))
        {
            throw new ArgumentException($"AuthMethod {AuthMethod} needs a Password for the postgres role.", nameof(Password));
        }

        foreach (var key in ExtraSettings.Keys)
        {
            if (key.Length == 0 || !key.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '_' or '.'))
            {
                throw new ArgumentException($"'{key}' is not a postgresql.conf setting name.", nameof(ExtraSettings));
            }
        }
    }
}
