using System.Text;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Replication;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// Snapshot export and import across sessions (pg_dump -j): the leader's read-only transaction
/// exports its snapshot on the node it reads from; each worker imports it there and reads there.
/// </summary>
public sealed partial class ClientSession
{
    /// <summary>The node this transaction must read from (it imported a snapshot that exists there only), or -1.</summary>
    private int _transactionReadNodeId = -1;

    /// <summary>
    /// <c>SET TRANSACTION SNAPSHOT</c> of a snapshot another session exported: in a READ ONLY
    /// transaction it runs on the exporting node alone, which the transaction then reads from.
    /// Elsewhere (a transaction that may write needs every node) it goes to every node as before.
    /// </summary>
    private bool RouteSnapshotImport(QueryPlan plan)
    {
        if (plan.Statements is not [{ ImportedSnapshot: { } snapshot }] || _transactionStatus != 'T' || !_transactionReadOnly
            || _context.Snapshots.NodeOf(snapshot) is not { } exporter || BackendOf(exporter) is null)
        {
            return false;
        }

        _transactionReadNodeId = exporter;
        return true;
    }

    /// <summary>After a read: remembers the node of a snapshot that <c>pg_export_snapshot()</c> returned.</summary>
    private void NoteExportedSnapshot(QueryPlan plan, NodeResult result)
    {
        if (result.Failed || result.Streamed || !plan.FunctionCalls.Any(f => f.Name == "pg_export_snapshot" && f.Schema is null or "pg_catalog"))
        {
            return;
        }

        if (FirstValue(result.Bytes.WrittenSpan) is { } snapshot)
        {
            _context.Snapshots.Record(snapshot, result.NodeId);
        }
    }

    /// <summary>The first column of the first DataRow among captured backend messages, or null.</summary>
    private static string? FirstValue(ReadOnlySpan<byte> messages)
    {
        foreach (var message in new MessageRun(messages))
        {
            if (message[0] == (byte)'D')
            {
                var payload = new PgPayload(message[5..], 'D');
                if (payload.ReadInt16() < 1)
                {
                    return null;
                }

                var size = payload.ReadInt32();
                return size < 0 ? null : Encoding.UTF8.GetString(payload.ReadBytes(size));
            }
        }

        return null;
    }
}
