using System.IO.MemoryMappedFiles;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>
/// A commit the previous run of the product had begun on some nodes and not finished on all when
/// it ended (killed, crashed): <see cref="OtherNodes"/> may hold a transaction the main node does not,
/// or lack one it holds.
/// </summary>
public sealed record InDoubtCommit(int MainNodeId, IReadOnlyList<int> OtherNodes);

/// <summary>
/// Which sessions are between the first and the last node of a commit, in a memory-mapped file
/// beside pgpool_status. A process that is killed leaves its mapped pages to the kernel, which
/// writes them out, so the next start finds the commits that were cut and can take the nodes they
/// may have left different out of service. Marking costs five memory writes per commit: no system
/// call, no fsync (a crash of the whole machine also stops nodes on it; their own recovery decides).
/// </summary>
public sealed class CommitJournal : IDisposable
{
    private const int SlotSize = 24; // int in-doubt flag, int main node id, two longs: the other nodes as a 128-bit mask
    private readonly MemoryMappedFile _file;
    private readonly MemoryMappedViewAccessor _view;
    private readonly Stack<int> _free;
    private readonly object _gate = new();

    private CommitJournal(MemoryMappedFile file, MemoryMappedViewAccessor view, int slots)
    {
        _file = file;
        _view = view;
        _free = new Stack<int>(Enumerable.Range(0, slots).Reverse());
    }

    /// <summary>
    /// Reads what the previous run left at <paramref name="path"/>, then starts a fresh journal
    /// there with room for <paramref name="slots"/> concurrent sessions.
    /// </summary>
    public static CommitJournal Open(string path, int slots, out IReadOnlyList<InDoubtCommit> leftFromBefore)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        leftFromBefore = File.Exists(path) ? Parse(File.ReadAllBytes(path)) : [];
        var directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        using (var stream = new FileStream(path, FileMode.Create, FileAccess.Write))
        {
            stream.SetLength((long)slots * SlotSize);
        }

        var file = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.ReadWrite);
        return new CommitJournal(file, file.CreateViewAccessor(0, (long)slots * SlotSize), slots);
    }

    /// <summary>A slot for one session, or -1 when every slot is taken (the session's commits go unrecorded).</summary>
    public int Rent()
    {
        lock (_gate)
        {
            return _free.TryPop(out var slot) ? slot : -1;
        }
    }

    public void Return(int slot)
    {
        if (slot < 0)
        {
            return;
        }

        End(slot);
        lock (_gate)
        {
            _free.Push(slot);
        }
    }

    /// <summary>The session in <paramref name="slot"/> is about to commit on the main node and <paramref name="others"/> (a bit per node id).</summary>
    public void Begin(int slot, int mainNodeId, UInt128 others)
    {
        if (slot < 0)
        {
            return;
        }

        long offset = (long)slot * SlotSize;
        _view.Write(offset + 4, mainNodeId);
        _view.Write(offset + 8, (long)(ulong)others);
        _view.Write(offset + 16, (long)(ulong)(others >> 64));
        _view.Write(offset, 1); // last: a half-written slot never reads as in doubt
    }

    /// <summary>The commit of the session in <paramref name="slot"/> ended on every node (or on none).</summary>
    public void End(int slot)
    {
        if (slot >= 0)
        {
            _view.Write((long)slot * SlotSize, 0);
        }
    }

    public void Dispose()
    {
        _view.Dispose();
        _file.Dispose();
    }

    private static List<InDoubtCommit> Parse(byte[] bytes)
    {
        var commits = new List<InDoubtCommit>();
        for (var offset = 0; offset + SlotSize <= bytes.Length; offset += SlotSize)
        {
            if (BitConverter.ToInt32(bytes, offset) != 1)
            {
                continue;
            }

            var mask = new UInt128((ulong)BitConverter.ToInt64(bytes, offset + 16), (ulong)BitConverter.ToInt64(bytes, offset + 8));
            var others = Enumerable.Range(0, 128).Where(id => (mask & (UInt128.One << id)) != 0).ToList();
            commits.Add(new InDoubtCommit(BitConverter.ToInt32(bytes, offset + 4), others));
        }

        return commits;
    }
}
