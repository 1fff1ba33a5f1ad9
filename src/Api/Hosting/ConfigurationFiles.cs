using PgPoolConsole.Api.Cli;
using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Api.Hosting;

/// <summary>Where the configuration comes from and what it produced.</summary>
/// <param name="Entries">The entries <paramref name="Options"/> was built from (empty when built otherwise); a reload keeps the restart-only ones.</param>
public sealed record LoadedConfiguration(PgPoolOptions Options, string? ConfigFile, string? PcpFile, IReadOnlyList<ConfigMessage> Warnings, IReadOnlyList<ConfigMessage> Notes, IReadOnlyList<ConfigEntry> Entries)
{
    /// <summary>Where relative file names (pool_passwd, pool_hba.conf, ssl_cert, ...) are found: beside pgpool.conf, else the working directory.</summary>
    public string Directory => ConfigFile is null ? Environment.CurrentDirectory : Path.GetDirectoryName(ConfigFile)!;
}

/// <summary>
/// Reads appsettings.json's PgPool section and then the pgpool.conf named by -f (its keys win)
/// into one validated <see cref="PgPoolOptions"/>.
/// </summary>
public static class ConfigurationFiles
{
    public static LoadedConfiguration Load(CommandLine commandLine, IConfiguration appSettings)
    {
        var entries = new List<ConfigEntry>();
        entries.AddRange(PgPoolOptionsLoader.FromConfigurationSection(appSettings.AsEnumerable(), "appsettings.json"));

        string? configFile = null;
        if (commandLine.ConfigFile is { } file)
        {
            configFile = Path.GetFullPath(file);
            if (!File.Exists(configFile))
            {
                throw new ConfigException([new ConfigMessage(file, 0, null, "configuration file not found")]);
            }

            entries.AddRange(PgPoolConfigFile.Parse(File.ReadAllText(configFile), configFile));
        }

        var result = PgPoolOptionsLoader.Load(entries);
        var pcpFile = commandLine.PcpFile is { } pcp
            ? Path.GetFullPath(pcp)
            : configFile is null ? null : Path.Combine(Path.GetDirectoryName(configFile)!, "pcp.conf");
        return new LoadedConfiguration(result.Options, configFile, pcpFile, result.Warnings, result.Notes, entries);
    }
}
