using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Proxy.Replication;

/// <summary>
/// Names the OIDs of new large objects. Left to itself, each node takes the next value of its own
/// OID counter, and the counters part as soon as one node restarts or is recovered (a server skips
/// ahead after a crash, and a recovered node starts from the last checkpoint's value), so
/// <c>lo_creat</c> would create a different object on each node. The proxy picks the OID instead:
/// above the highest one on the main node, and above every one it handed out before, because a
/// concurrent transaction's new object is not visible to the main node's query yet.
/// </summary>
public sealed class LargeObjectIds
{
    /// <summary>The main node's highest large object OID (null when there is none).</summary>
    public const string HighestQuery = "SELECT pg_catalog.max(oid)::pg_catalog.int8 FROM pg_catalog.pg_largeobject_metadata";

    // FirstNormalObjectId: below it, OIDs belong to initdb's objects.
    private const long FirstNormal = 16384;

    private long _last;

    /// <summary>A fresh OID above <paramref name="highestOnMain"/>, or null when no OID above it is left.</summary>
    public long? Next(long? highestOnMain)
    {
        while (true)
        {
            var last = Volatile.Read(ref _last);
            var next = Math.Max(Math.Max(highestOnMain ?? 0, last) + 1, FirstNormal);
            if (next > uint.MaxValue)
            {
                return null;
            }

            if (Interlocked.CompareExchange(ref _last, next, last) == last)
            {
                return next;
            }
        }
    }

    /// <summary>Whether a built-in function creates a large object whose OID the server would choose.</summary>
    public static bool IsCreator(QualifiedName function) =>
        function.Schema is null or "pg_catalog" && function.Name is "lo_creat" or "lo_create" or "lo_from_bytea" or "lo_import";
}
