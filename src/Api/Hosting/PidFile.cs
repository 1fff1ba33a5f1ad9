using System.Globalization;

namespace PgPoolConsole.Api.Hosting;

/// <summary>pid_file_name: written at start, removed at exit; read by <c>stop</c> and <c>reload</c>.</summary>
internal sealed class PidFile(string path) : IDisposable
{
    public string Path { get; } = path;

    /// <summary>The pid of a running instance recorded in the file, or null.</summary>
    public int? ReadRunningPid()
    {
        if (!File.Exists(Path))
        {
            return null;
        }

        var text = File.ReadAllText(Path).Trim();
        if (!int.TryParse(text.Split('\n')[0], NumberStyles.None, CultureInfo.InvariantCulture, out var pid))
        {
            return null;
        }

        return Signals.IsAlive(pid) ? pid : null;
    }

    /// <summary>Fails when another live instance owns the file.</summary>
    public void ThrowIfOwnedByAnother()
    {
        if (ReadRunningPid() is { } other && other != Environment.ProcessId)
        {
            throw new ProductStartException($"pid file \"{Path}\" names a running process ({other}): is pgpoolconsole already running?");
        }
    }

    /// <summary>Writes this process's pid; fails when another live instance owns the file.</summary>
    public void Create()
    {
        ThrowIfOwnedByAnother();

        var directory = System.IO.Path.GetDirectoryName(Path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        File.WriteAllText(Path, Environment.ProcessId.ToString(CultureInfo.InvariantCulture) + "\n");
    }

    public void Dispose()
    {
        try
        {
            if (ReadRunningPid() == Environment.ProcessId)
            {
                File.Delete(Path);
            }
        }
        catch (IOException)
        {
            // best effort
        }
    }
}
