using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>Decides whether calling a function may change data or session state.</summary>
public interface IWriteFunctionDetector
{
    bool AnyMayWrite(CatalogCache.DatabaseCatalog catalog, IReadOnlyList<QualifiedName> functions);
}

/// <summary>
/// A function may write when it is a known writing built-in, is named by write_function_list, or
/// is a volatile user-defined function (as the database's catalog says; pgpool-II 4.x decides the
/// same way) that read_only_function_list does not name. Unlike pgpool-II, write_function_list
/// only adds functions: an unlisted volatile function still counts as writing, since a write that
/// reached one node only would be missing from the others.
/// </summary>
public sealed class CatalogWriteFunctions(Func<PgPoolOptions>? options = null) : IWriteFunctionDetector
{
    private readonly KnownWriteFunctions _builtIn = new();
    private CompiledLists _lists = new("", "", FunctionPatterns.Empty, FunctionPatterns.Empty);

    public bool AnyMayWrite(CatalogCache.DatabaseCatalog catalog, IReadOnlyList<QualifiedName> functions)
    {
        if (_builtIn.AnyMayWrite(catalog, functions))
        {
            return true;
        }

        var (writers, readers) = Lists();
        foreach (var function in functions)
        {
            if (writers.Matches(function))
            {
                return true;
            }

            if (function.Schema is not "pg_catalog" && catalog.IsVolatileUserFunction(function) != false && !readers.Matches(function))
            {
                // volatile, or not known yet (the session loads the catalog before asking): to be safe, a write
                return true;
            }
        }

        return false;
    }

    /// <summary>The configured lists, compiled once per change of their text (a reload).</summary>
    private (FunctionPatterns Writers, FunctionPatterns Readers) Lists()
    {
        var current = options?.Invoke();
        var (write, readOnly) = (current?.WriteFunctionList ?? "", current?.ReadOnlyFunctionList ?? "");
        var lists = Volatile.Read(ref _lists);
        if (!ReferenceEquals(lists.Write, write) || !ReferenceEquals(lists.ReadOnly, readOnly))
        {
            lists = new CompiledLists(write, readOnly, FunctionPatterns.Parse(write), FunctionPatterns.Parse(readOnly));
            Volatile.Write(ref _lists, lists); // a racing session may compile the same lists once more
        }

        return (lists.Writers, lists.Readers);
    }

    private sealed record CompiledLists(string Write, string ReadOnly, FunctionPatterns Writers, FunctionPatterns Readers);
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
