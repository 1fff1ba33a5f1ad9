using System.Globalization;

namespace PgPoolConsole.Proxy.Configuration;

public enum SettingType
{
    Boolean,
    Integer,
    Real,
    String,

    /// <summary>One of <see cref="SettingDefinition.AllowedValues"/> (case-insensitive).</summary>
    Enumeration,

    /// <summary>A string holding a list split by <see cref="SettingDefinition.ListSeparator"/>.</summary>
    List,

    /// <summary>Names from <see cref="SettingDefinition.AllowedValues"/> joined by '|', like backend_flag.</summary>
    Flags,
}

public enum SettingScope
{
    /// <summary>Only <c>name</c>.</summary>
    Global,

    /// <summary>Only <c>nameN</c> for node N (backend_hostname0).</summary>
    PerNode,

    /// <summary><c>name</c> for every node, <c>nameN</c> to override it for node N (health_check_period1).</summary>
    GlobalAndPerNode,
}

/// <summary>The unit an integer setting is kept in; such a setting also accepts us, ms, s, min, h, d.</summary>
public enum TimeUnit
{
    Milliseconds,
    Seconds,
}

/// <summary>One configuration parameter we understand: its type, default and how it may change.</summary>
public sealed class SettingDefinition
{
    internal const string Masked = "*****";

    private static readonly string[] BooleanWords = ["on", "off", "true", "false", "yes", "no", "1", "0"];

    // The property initializers of the options model are the defaults; the catalogue reads them from here.
    private static readonly PgPoolOptions DefaultOptions = new();
    private static readonly BackendOptions DefaultBackend = new() { Id = 0, Hostname = "", HealthCheck = new() };

    internal SettingDefinition(string name, SettingType type, SettingScope scope, string description)
    {
        Name = name;
        Type = type;
        Scope = scope;
        Description = description;
    }

    public string Name { get; }

    public SettingType Type { get; }

    public SettingScope Scope { get; }

    /// <summary>One line, for SHOW POOL_STATUS, pcp_pool_status and the web configuration page.</summary>
    public string Description { get; }

    /// <summary>The value used when the parameter is not set, in its canonical text form.</summary>
    public string Default => DefaultOverride ?? FormatValue(
        OptionsValue is { } fromOptions ? fromOptions(DefaultOptions) : NodeValue!(DefaultBackend));

    /// <summary>For settings whose default is not a property initializer of the options model.</summary>
    internal string? DefaultOverride { get; init; }

    /// <summary>A change takes effect only after a restart (otherwise on reload).</summary>
    public bool NeedsRestart { get; internal init; }

    /// <summary>A password or similar: shown as "*****" (when set) instead of the value.</summary>
    public bool IsSecret { get; internal init; }

    /// <summary>For <see cref="SettingType.Integer"/> and <see cref="SettingType.Real"/>.</summary>
    public double Minimum { get; internal init; }

    /// <summary>For <see cref="SettingType.Integer"/> and <see cref="SettingType.Real"/>.</summary>
    public double Maximum { get; internal init; }

    /// <summary>For time settings of <see cref="SettingType.Integer"/>: the unit of the number.</summary>
    public TimeUnit? Unit { get; internal init; }

    /// <summary>For <see cref="SettingType.Enumeration"/> and <see cref="SettingType.Flags"/>.</summary>
    public IReadOnlyList<string> AllowedValues { get; internal init; } = [];

    /// <summary>For <see cref="SettingType.List"/>.</summary>
    public char ListSeparator { get; internal init; } = ',';

    /// <summary>What a valid value looks like, for error messages.</summary>
    public string AllowedText => Type switch
    {
        SettingType.Boolean => string.Join(", ", BooleanWords),
        SettingType.Integer when Unit is { } unit =>
            $"an integer from {Format(Minimum)} to {Format(Maximum)}, in {(unit == TimeUnit.Seconds ? "seconds" : "milliseconds")} unless a unit is given (us, ms, s, min, h, d)",
        SettingType.Integer => $"an integer from {Format(Minimum)} to {Format(Maximum)}",
        SettingType.Real => $"a number from {Format(Minimum)} to {Format(Maximum)}",
        SettingType.Enumeration => string.Join(", ", AllowedValues),
        SettingType.Flags => $"{string.Join(", ", AllowedValues)}, separated by |",
        _ => "any text",
    };

    /// <summary>Reads the value of a node-independent setting from loaded options (for display and reload).</summary>
    internal Func<PgPoolOptions, object>? OptionsValue { get; init; }

    /// <summary>Reads the value for one node from loaded options.</summary>
    internal Func<BackendOptions, object>? NodeValue { get; init; }

    /// <summary>
    /// Converts text to the setting's value: bool, int, double or (canonical) string. Returns false when
    /// the text is not allowed; the caller reports it with <see cref="AllowedText"/>.
    /// </summary>
    internal bool TryParse(string text, out object value)
    {
        value = text;
        switch (Type)
        {
            case SettingType.Boolean when TryParseBoolean(text, out var flag):
                value = flag;
                return true;
            case SettingType.Integer when TryParseInteger(text, out var number):
                value = number;
                return true;
            case SettingType.Real when double.TryParse(text.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out var real)
                                       && real >= Minimum && real <= Maximum:
                value = real;
                return true;
            case SettingType.Enumeration when AllowedValues.FirstOrDefault(a => a.Equals(text.Trim(), StringComparison.OrdinalIgnoreCase)) is { } canonical:
                value = canonical;
                return true;
            case SettingType.Flags when TryParseFlags(text, out var flags):
                value = flags;
                return true;
            case SettingType.String or SettingType.List:
                return true;
            default:
                return false;
        }
    }

    /// <summary>The canonical text of a value of this setting (on/off, invariant numbers).</summary>
    internal static string FormatValue(object value) => value switch
    {
        bool b => b ? "on" : "off",
        int i => i.ToString(CultureInfo.InvariantCulture),
        double d => Format(d),
        _ => (string)value,
    };

    /// <summary>The value as shown to users: masked when secret and not empty.</summary>
    internal string Display(object value)
    {
        var text = FormatValue(value);
        return IsSecret && text.Length > 0 ? Masked : text;
    }

    private static string Format(double d) => d.ToString("R", CultureInfo.InvariantCulture);

    private static bool TryParseBoolean(string text, out bool value)
    {
        var word = text.Trim().ToLowerInvariant();
        value = word is "on" or "true" or "yes" or "1";
        return BooleanWords.Contains(word);
    }

    private bool TryParseInteger(string text, out int value)
    {
        value = 0;
        var trimmed = text.Trim();
        var unitStart = trimmed.Length;
        while (unitStart > 0 && char.IsAsciiLetter(trimmed[unitStart - 1]))
        {
            unitStart--;
        }

        var number = trimmed[..unitStart].TrimEnd();
        var unit = trimmed[unitStart..];
        double result;
        if (number.StartsWith("0x", StringComparison.OrdinalIgnoreCase) && unit.Length == 0
            && long.TryParse(number[2..], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out var hex))
        {
            result = hex;
        }
        else if (unit.Length == 0)
        {
            if (!long.TryParse(number, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var whole))
            {
                return false;
            }

            result = whole;
        }
        else
        {
            if (Unit is not { } baseUnit || UnitFactor(unit, baseUnit) is not { } factor
                || !double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var scaled))
            {
                return false;
            }

            result = Math.Round(scaled * factor, MidpointRounding.ToEven);
        }

        if (result < Minimum || result > Maximum)
        {
            return false;
        }

        value = (int)result;
        return true;
    }

    /// <summary>How many base units one <paramref name="unit"/> is; null for an unknown unit.</summary>
    private static double? UnitFactor(string unit, TimeUnit baseUnit)
    {
        double? milliseconds = unit switch
        {
            "us" => 0.001,
            "ms" => 1,
            "s" => 1000,
            "min" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            _ => null,
        };
        return baseUnit == TimeUnit.Seconds ? milliseconds / 1000 : milliseconds;
    }

    private bool TryParseFlags(string text, out string value)
    {
        var names = new List<string>();
        foreach (var part in text.Split('|', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var name = AllowedValues.FirstOrDefault(a => a.Equals(part, StringComparison.OrdinalIgnoreCase));
            if (name is null)
            {
                value = text;
                return false;
            }

            names.Add(name);
        }

        value = string.Join('|', names);
        return true;
    }
}
