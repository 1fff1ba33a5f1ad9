using System.Text.RegularExpressions;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Configuration;

/// <summary>
/// One of pgpool-II's function lists (write_function_list, read_only_function_list): comma-separated
/// regular expressions, each matching a whole function name, as pgpool-II anchors them with ^ and $.
/// </summary>
public sealed class FunctionPatterns
{
    private readonly Regex[] _patterns;

    private FunctionPatterns(Regex[] patterns) => _patterns = patterns;

    public static FunctionPatterns Empty { get; } = new([]);

    /// <summary>Compiles a list that <see cref="FindInvalid"/> accepted (configuration validates it at load).</summary>
    public static FunctionPatterns Parse(string list)
    {
        var patterns = Split(list).Select(Compile).ToArray();
        return patterns.Length == 0 ? Empty : new FunctionPatterns(patterns);
    }

    /// <summary>The first pattern of the list that is not a regular expression, with the reason; null when all are.</summary>
    public static (string Pattern, string Reason)? FindInvalid(string list)
    {
        foreach (var pattern in Split(list))
        {
            try
            {
                Compile(pattern);
            }
            catch (ArgumentException e)
            {
                return (pattern, e.Message);
            }
        }

        return null;
    }

    /// <summary>Whether a pattern matches the function's name, or its schema-qualified name when written so.</summary>
    public bool Matches(QualifiedName function)
    {
        foreach (var pattern in _patterns)
        {
            if (pattern.IsMatch(function.Name) || (function.Schema is not null && pattern.IsMatch(function.ToString())))
            {
                return true;
            }
        }

        return false;
    }

    private static IEnumerable<string> Split(string list) =>
        list.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);

    private static Regex Compile(string pattern) =>
        new("^(?:" + pattern + ")$", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant, TimeSpan.FromMilliseconds(100));
}
