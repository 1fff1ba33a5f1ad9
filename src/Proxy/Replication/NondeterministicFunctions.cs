using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>
/// Built-in functions whose result differs from node to node. In a write, random() and
/// gen_random_uuid() evaluated once (in a VALUES list or as a column default of an inserted row)
/// are given one proxy-generated value for every node; anywhere else, and for the others, the
/// statement is refused unless allow_nondeterministic_writes is on.
/// </summary>
public static class NondeterministicFunctions
{
    private static readonly Dictionary<string, string> Inlinable = new(StringComparer.Ordinal)
    {
        ["random"] = "float8",
        ["gen_random_uuid"] = "uuid",
        ["uuid_generate_v4"] = "uuid",
    };

    private static readonly HashSet<string> NotReproducible = new(StringComparer.Ordinal)
    {
        "timeofday", "pg_backend_pid", "inet_client_addr", "inet_client_port", "inet_server_addr", "inet_server_port",
        "txid_current", "pg_current_xact_id", "uuid_generate_v1", "uuid_generate_v1mc", "random_normal", "setseed",
    };

    /// <summary>The SQL type of a value the proxy can generate in place of a call ("float8", "uuid"), or null.</summary>
    public static string? InlineType(QualifiedName function) =>
        IsBuiltInOrExtension(function) && Inlinable.TryGetValue(function.Name, out var type) ? type : null;

    /// <summary>Whether a call gives each node a different value (and cannot be inlined).</summary>
    public static bool IsNotReproducible(QualifiedName function) => IsBuiltInOrExtension(function) && NotReproducible.Contains(function.Name);

    // Core functions live in pg_catalog; uuid-ossp's in whatever schema the extension was created
    // in (Supabase puts it in "extensions"), so those count in any schema.
    private static bool IsBuiltInOrExtension(QualifiedName function) =>
        function.Schema is null or "pg_catalog" or "public" || function.Name.StartsWith("uuid_generate_", StringComparison.Ordinal);

    /// <summary>For a lower-cased column default expression: the generated value's type when it is random, else null.</summary>
    public static string? RandomKindOf(string lowerExpression)
    {
        foreach (var (name, type) in Inlinable)
        {
            if (lowerExpression.Contains(name + "(", StringComparison.Ordinal))
            {
                return type;
            }
        }

        return null;
    }

    /// <summary>A value of the given type for every node: a random double in [0, 1) or a version 4 UUID.</summary>
    public static string Generate(string type) => type == "uuid"
        ? Guid.NewGuid().ToString()
        : Random.Shared.NextDouble().ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}
