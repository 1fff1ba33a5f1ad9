using System.Reflection;

namespace PgPoolConsole.Api.Hosting;

/// <summary>The product version as the command line, SHOW POOL_VERSION and the API report it.</summary>
public static class VersionInfo
{
    public static string Number { get; } =
        typeof(VersionInfo).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0] ?? "0.0.0";

    public static string Text => $"pgpoolconsole {Number} (native replication)";
}
