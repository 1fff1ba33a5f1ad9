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

    /// <summary>
    /// The calls in an expression (a column default from pg_get_expr) whose value the proxy generates
    /// once instead: where each is, with its schema if written, and the type of the value. Matched
    /// by name whatever the schema: pg_get_expr qualifies a function outside the search_path.
    /// </summary>
    public static List<(int Start, int Length, string Type)> RandomCalls(string expression)
    {
        var calls = new List<(int, int, string)>();
        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(expression, tokens);
        for (var i = 0; i + 2 < tokens.Count; i++)
        {
            if (tokens[i].Kind == SqlTokenKind.Identifier && tokens[i + 1].Kind == SqlTokenKind.OpenParen && tokens[i + 2].Kind == SqlTokenKind.CloseParen
                && Inlinable.TryGetValue(expression.Substring(tokens[i].Start, tokens[i].Length).ToLowerInvariant(), out var type))
            {
                var start = i >= 2 && tokens[i - 1].Kind == SqlTokenKind.Dot ? tokens[i - 2].Start : tokens[i].Start;
                calls.Add((start, tokens[i + 2].End - start, type));
            }
        }

        return calls;
    }

    /// <summary>A value of the given type for every node: a random double in [0, 1) or a version 4 UUID.</summary>
    public static string Generate(string type) => type == "uuid"
        ? Guid.NewGuid().ToString()
        : Random.Shared.NextDouble().ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}
