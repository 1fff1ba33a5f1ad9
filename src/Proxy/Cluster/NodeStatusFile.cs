namespace PgPoolConsole.Proxy.Cluster;

/// <summary>
/// Node status that survives a restart, in pgpool's pgpool_status format (one line per node id:
/// up, down or unused) in logdir. A node that was down stays down after a restart.
/// </summary>
public sealed class NodeStatusFile(string path)
{
    private readonly object _gate = new();

    public string Path { get; } = path;

    /// <summary>Reads saved statuses by node id; empty when the file does not exist or says every node is down.</summary>
    public IReadOnlyDictionary<int, NodeStatus> Read()
    {
        if (!File.Exists(Path))
        {
            return new Dictionary<int, NodeStatus>();
        }

        var result = new Dictionary<int, NodeStatus>();
        var lines = File.ReadAllLines(Path);
        for (var id = 0; id < lines.Length; id++)
        {
            result[id] = lines[id].Trim() switch
            {
                "up" => NodeStatus.Up,
                "down" => NodeStatus.Down,
                _ => NodeStatus.Unused,
            };
        }

        // As pgpool: if every node is recorded down the file is not trusted (nothing could serve).
        return result.Values.Any(s => s == NodeStatus.Up) ? result : new Dictionary<int, NodeStatus>();
    }

    public void Write(ClusterSnapshot snapshot)
    {
        var maxId = snapshot.Nodes.Length == 0 ? -1 : snapshot.Nodes.Max(n => n.Id);
        var lines = new string[maxId + 1];
        for (var id = 0; id <= maxId; id++)
        {
            var node = snapshot.Find(id);
            lines[id] = node is null ? "unused" : node.IsUsable ? "up" : node.Status == NodeStatus.Down ? "down" : "unused";
        }

        lock (_gate)
        {
            var directory = System.IO.Path.GetDirectoryName(Path);
            if (!string.IsNullOrEmpty(directory))
            {
                Directory.CreateDirectory(directory);
            }

            var temporary = Path + ".tmp";
            File.WriteAllLines(temporary, lines);
            File.Move(temporary, Path, overwrite: true);
        }
    }
}
