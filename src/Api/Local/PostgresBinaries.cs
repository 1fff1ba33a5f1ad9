namespace PgPoolConsole.Api.Local;

/// <summary>
/// Where the PostgreSQL 15 server and client programs are. The Debian package puts them in
/// <c>/usr/lib/postgresql/15/bin</c>; the environment variable <c>PGPC_PG_BIN</c> overrides it.
/// </summary>
public static class PostgresBinaries
{
    /// <summary>The environment variable that overrides <see cref="Directory"/>.</summary>
    public const string DirectoryVariable = "PGPC_PG_BIN";

    /// <summary>The default location (Debian package postgresql-15).</summary>
    public const string DefaultDirectory = "/usr/lib/postgresql/15/bin";

    /// <summary>The directory with initdb, pg_ctl, postgres, psql, pgbench, pg_basebackup.</summary>
    public static string Directory { get; } =
        Environment.GetEnvironmentVariable(DirectoryVariable) is { Length: > 0 } fromEnvironment ? fromEnvironment : DefaultDirectory;

    /// <summary>The full path of one program; throws a clear error when it is not installed.</summary>
    public static string Get(string program)
    {
        ArgumentException.ThrowIfNullOrEmpty(program);
        var path = Path.Combine(Directory, program);
        if (!File.Exists(path))
        {
            throw new FileNotFoundException(
                $"PostgreSQL program '{program}' not found in '{Directory}'. Install the Debian package postgresql-15 " +
                $"(apt-get install postgresql-15) or point {DirectoryVariable} at the bin directory.",
                path);
        }

        return path;
    }
}
