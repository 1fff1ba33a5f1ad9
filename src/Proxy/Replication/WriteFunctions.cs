using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>Decides whether calling a function may change data or session state.</summary>
public interface IWriteFunctionDetector
{
    bool AnyMayWrite(CatalogCache.DatabaseCatalog catalog, IReadOnlyList<QualifiedName> functions);
}

/// <summary>
/// A function may write when it is a known writing built-in or a volatile user-defined function
/// (as the database's catalog says; pgpool-II 4.x decides the same way).
/// </summary>
public sealed class CatalogWriteFunctions : IWriteFunctionDetector
{
    private readonly KnownWriteFunctions _builtIn = new();

    public bool AnyMayWrite(CatalogCache.DatabaseCatalog catalog, IReadOnlyList<QualifiedName> functions)
    {
        if (_builtIn.AnyMayWrite(catalog, functions))
        {
            return true;
        }

        foreach (var function in functions)
        {
            if (function.Schema is not "pg_catalog" && catalog.IsVolatileUserFunction(function) != false)
            {
                // volatile, or not known yet (the session loads the catalog before asking): to be safe, a write
                return true;
            }
        }

        return false;
    }
}

/// <summary>
/// Built-in functions known to change data or session state (sequences, configuration,
/// advisory locks, large objects, notifications). A SELECT calling one of them goes to every node.
/// </summary>
public sealed class KnownWriteFunctions : IWriteFunctionDetector
{
    private static readonly HashSet<string> Writers = new(StringComparer.Ordinal)
    {
        "nextval", "setval", "set_config", "pg_notify",
        "pg_advisory_lock", "pg_advisory_lock_shared", "pg_advisory_unlock", "pg_advisory_unlock_shared", "pg_advisory_unlock_all",
        "pg_try_advisory_lock", "pg_try_advisory_lock_shared", "pg_advisory_xact_lock", "pg_advisory_xact_lock_shared",
        "pg_try_advisory_xact_lock", "pg_try_advisory_xact_lock_shared",
        "lo_create", "lo_creat", "lo_import", "lo_unlink", "lo_put", "lo_from_bytea", "lo_open", "lowrite", "lo_truncate", "lo_truncate64",
    };

    public bool AnyMayWrite(CatalogCache.DatabaseCatalog catalog, IReadOnlyList<QualifiedName> functions)
    {
        foreach (var function in functions)
        {
            if ((function.Schema is null or "pg_catalog") && Writers.Contains(function.Name))
            {
                return true;
            }
        }

        return false;
    }
}
