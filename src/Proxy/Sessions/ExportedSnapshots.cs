namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// Which node exported each recent snapshot (<c>pg_export_snapshot()</c>, read on one node), so
/// that a session importing it (<c>SET TRANSACTION SNAPSHOT</c>, as pg_dump -j's workers do) runs
/// its read-only transaction on that node: the identifier exists nowhere else. Keeps the most
/// recent ones only; an exported snapshot lives no longer than its exporting transaction anyway.
/// </summary>
public sealed class ExportedSnapshots
{
    private const int Capacity = 1024;
    private readonly Dictionary<string, int> _nodes = new(StringComparer.Ordinal);
    private readonly Queue<string> _order = new();
    private readonly Lock _gate = new();

    public void Record(string snapshotId, int nodeId)
    {
        lock (_gate)
        {
            if (_nodes.TryAdd(snapshotId, nodeId))
            {
                _order.Enqueue(snapshotId);
                if (_order.Count > Capacity)
                {
                    _nodes.Remove(_order.Dequeue());
                }
            }
        }
    }

    /// <summary>The node that exported <paramref name="snapshotId"/>, or null when not seen.</summary>
    public int? NodeOf(string snapshotId)
    {
        lock (_gate)
        {
            return _nodes.TryGetValue(snapshotId, out var node) ? node : null;
        }
    }
}
