using System.Buffers;
using System.Collections.Frozen;
using System.Text;

namespace PgPoolConsole.Proxy.Sql;

/// <summary>PostgreSQL 15's keyword categories (kwlist.h), as far as the classifier needs them.</summary>
internal enum KeywordCategory : byte
{
    /// <summary>A plain identifier or an unreserved keyword: may name a function.</summary>
    None,

    /// <summary>COL_NAME_KEYWORD: may name a column but not a function (COALESCE, VALUES, VARCHAR...).</summary>
    ColumnName,

    /// <summary>TYPE_FUNC_NAME_KEYWORD: may name a function or type (LEFT, JOIN, LIKE...).</summary>
    TypeFunctionName,

    /// <summary>RESERVED_KEYWORD.</summary>
    Reserved,
}

/// <summary>Keyword lookups without allocation: ASCII-lower a word on the stack, then a frozen-dictionary probe.</summary>
internal static class SqlKeywords
{
    /// <summary>Longest PostgreSQL keyword ("current_timestamp").</summary>
    public const int MaxLength = 17;

    private static readonly FrozenDictionary<string, KeywordCategory> Categories = BuildCategories();

    private static readonly FrozenDictionary<string, KeywordCategory>.AlternateLookup<ReadOnlySpan<char>> CategoryLookup =
        Categories.GetAlternateLookup<ReadOnlySpan<char>>();

    /// <summary>The category of a word; <see cref="KeywordCategory.None"/> for identifiers and unreserved keywords.</summary>
    public static KeywordCategory Categorize(ReadOnlySpan<char> word)
    {
        Span<char> buffer = stackalloc char[MaxLength];
        return CategorizeLowerCase(ToLower(word, buffer));
    }

    /// <summary>The category of a word already lower-cased (see <see cref="ToLower"/>).</summary>
    public static KeywordCategory CategorizeLowerCase(ReadOnlySpan<char> lowerCaseWord) =>
        !lowerCaseWord.IsEmpty && CategoryLookup.TryGetValue(lowerCaseWord, out var category) ? category : KeywordCategory.None;

    /// <summary>The ASCII-lower-cased word in <paramref name="buffer"/>, or empty when it is longer than the buffer or not ASCII.</summary>
    public static ReadOnlySpan<char> ToLower(ReadOnlySpan<char> word, Span<char> buffer) =>
        word.Length <= buffer.Length && Ascii.ToLower(word, buffer, out var written) == OperationStatus.Done
            ? buffer[..written]
            : [];

    private static FrozenDictionary<string, KeywordCategory> BuildCategories()
    {
        string[] columnName =
        [
            "between", "bigint", "bit", "boolean", "char", "character", "coalesce", "dec", "decimal", "exists",
            "extract", "float", "greatest", "grouping", "inout", "int", "integer", "interval", "least",
            "national", "nchar", "none", "normalize", "nullif", "numeric", "out", "overlay", "position",
            "precision", "real", "row", "setof", "smallint", "substring", "time", "timestamp", "treat", "trim",
            "values", "varchar", "xmlattributes", "xmlconcat", "xmlelement", "xmlexists", "xmlforest",
            "xmlnamespaces", "xmlparse", "xmlpi", "xmlroot", "xmlserialize", "xmltable",
        ];
        string[] typeFunctionName =
        [
            "authorization", "binary", "collation", "concurrently", "cross", "current_schema", "freeze",
            "full", "ilike", "inner", "is", "isnull", "join", "left", "like", "natural", "notnull", "outer",
            "overlaps", "right", "similar", "tablesample", "verbose",
        ];
        string[] reserved =
        [
            "all", "analyse", "analyze", "and", "any", "array", "as", "asc", "asymmetric", "both", "case",
            "cast", "check", "collate", "column", "constraint", "create", "current_catalog", "current_date",
            "current_role", "current_time", "current_timestamp", "current_user", "default", "deferrable",
            "desc", "distinct", "do", "else", "end", "except", "false", "fetch", "for", "foreign", "from",
            "grant", "group", "having", "in", "initially", "intersect", "into", "lateral", "leading", "limit",
            "localtime", "localtimestamp", "not", "null", "offset", "on", "only", "or", "order", "placing",
            "primary", "references", "returning", "select", "session_user", "some", "symmetric", "table",
            "then", "to", "trailing", "true", "union", "unique", "user", "using", "variadic", "when", "where",
            "window", "with",
        ];

        var all = new Dictionary<string, KeywordCategory>(StringComparer.Ordinal);
        foreach (var word in columnName)
        {
            all.Add(word, KeywordCategory.ColumnName);
        }

        foreach (var word in typeFunctionName)
        {
            all.Add(word, KeywordCategory.TypeFunctionName);
        }

        foreach (var word in reserved)
        {
            all.Add(word, KeywordCategory.Reserved);
        }

        return all.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
