using System.Buffers;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Replication;

namespace PgPoolConsole.Proxy.Sessions;

public sealed partial class ClientSession
{
    private const int CopyFlushThreshold = 64 * 1024;

    // Reused buffers for a COPY whose rows get the values of time defaults they leave out (see CopyRowFill).
    private readonly ArrayBufferWriter<byte> _copyRows = new();
    private readonly ArrayBufferWriter<byte> _copyMessage = new();

    /// <summary>
    /// COPY FROM STDIN: the main node has asked for data. The other nodes start the same COPY,
    /// then the client's data goes to every node, and each node's result is read. A node that
    /// refuses the COPY while the main node accepted it is a mismatch handled like any other.
    /// </summary>
    private async Task CopyInAsync(ReplicatedRequest request, ReplicationOutcome outcome, CancellationToken cancellationToken)
    {
        var main = outcome.Answer;
        var copying = new List<NodeResult> { main };
        var others = LiveBackends().Where(b => b != main.Backend).ToList();
        var started = await RunEverywhereAsync(others, request, cancellationToken);
        foreach (var result in started)
        {
            outcome.Results.Add(result);
            if (result.StoppedAtCopyIn)
            {
                copying.Add(result);
            }
        }

        var refused = started.Where(r => !r.StoppedAtCopyIn).ToList();
        if (refused.Count > 0 && !_context.Options.Current.ReplicationStopOnMismatch)
        {
            // Some node will not take the data: nobody does. The mismatch is reported by the
            // comparison that follows (the main node's COPY now fails too).
            var first = refused[0];
            await AbortCopyAsync(copying, $"pgpoolconsole: COPY refused by backend node {first.NodeId}: {first.FirstError?.Message ?? first.Signature}", cancellationToken);
            return;
        }

        // Tell the client to send data (the main node's CopyInResponse).
        _clientOut.Write(main.CopyInResponse);
        await _clientOut.FlushAsync(cancellationToken);
        await RelayCopyDataAsync(copying, request.CopyRowFiller, cancellationToken);
        await FinishCopyAsync(copying, cancellationToken);
    }

    /// <summary>Relays CopyData/CopyDone/CopyFail from the client to every copying node.</summary>
    private async Task RelayCopyDataAsync(List<NodeResult> copying, CopyRowFiller? filler, CancellationToken cancellationToken)
    {
        while (true)
        {
            PgMessage message;
            try
            {
                message = await _client.ReadAsync(_shutdownToken.CanBeCanceled ? _shutdownToken : cancellationToken);
            }
            catch (PgConnectionClosedException)
            {
                LogClientGoneDuringCopy(_logger, Id);
                await AbortCopyAsync(copying, "client disconnected during COPY", CancellationToken.None);
                throw;
            }
            catch (OperationCanceledException) when (_cancelledForShutdown)
            {
                // Still inside its transaction: nothing of the COPY is committed anywhere.
                await AbortCopyAsync(copying, "fast shutdown during COPY", CancellationToken.None);
                throw new SessionTerminatedException("57P01", "terminating connection due to administrator command", "fast shutdown: the running COPY was aborted on every node and its transaction rolled back");
            }

            switch (message.TypeChar)
            {
                case 'd' when filler is not null:
                    _copyRows.ResetWrittenCount();
                    filler.Transform(message.Payload, _copyRows);
                    await WriteToAllAsync(copying, CopyDataOf(_copyRows), flush: false, cancellationToken);
                    break;
                case 'd':
                    await WriteToAllAsync(copying, message.Raw, flush: false, cancellationToken);
                    break;
                case 'c' when filler is not null:
                    _copyRows.ResetWrittenCount();
                    filler.Complete(_copyRows);
                    if (_copyRows.WrittenCount > 0)
                    {
                        await WriteToAllAsync(copying, CopyDataOf(_copyRows), flush: false, cancellationToken);
                    }

                    await WriteToAllAsync(copying, message.Raw, flush: true, cancellationToken);
                    return;
                case 'c':
                case 'f':
                    await WriteToAllAsync(copying, message.Raw, flush: true, cancellationToken);
                    return;
                case 'H':
                case 'S':
                    break; // ignored during COPY IN, as PostgreSQL does
                default:
                    await AbortCopyAsync(copying, $"unexpected message type {PgMessageReader.Printable(message.Type)} during COPY from stdin", cancellationToken);
                    return;
            }
        }
    }

    /// <summary>The filled rows as one CopyData message (in a buffer reused for the next one).</summary>
    private ReadOnlySequence<byte> CopyDataOf(ArrayBufferWriter<byte> rows)
    {
        _copyMessage.ResetWrittenCount();
        PgWriter.CopyData(_copyMessage, rows.WrittenSpan);
        return new ReadOnlySequence<byte>(_copyMessage.WrittenMemory);
    }

    private async Task WriteToAllAsync(List<NodeResult> copying, ReadOnlySequence<byte> message, bool flush, CancellationToken cancellationToken)
    {
        for (var i = copying.Count - 1; i >= 0; i--)
        {
            var result = copying[i];
            if (result.Lost is not null)
            {
                continue;
            }

            var writer = result.Backend.Writer;
            foreach (var segment in message)
            {
                writer.Write(segment.Span);
            }

            if (flush || writer.UnflushedBytes >= CopyFlushThreshold)
            {
                try
                {
                    await writer.FlushAsync(cancellationToken);
                }
                catch (Exception e) when (IsConnectionFailure(e))
                {
                    result.Lost = e;
                }
            }
        }
    }

    private async Task AbortCopyAsync(List<NodeResult> copying, string reason, CancellationToken cancellationToken)
    {
        foreach (var result in copying.Where(r => r.Lost is null))
        {
            try
            {
                PgWriter.CopyFail(result.Backend.Writer, reason);
                await result.Backend.Writer.FlushAsync(cancellationToken);
            }
            catch (Exception e) when (IsConnectionFailure(e))
            {
                result.Lost = e;
            }
        }

        await FinishCopyAsync(copying, cancellationToken);
    }

    /// <summary>Reads each copying node's result (CommandComplete or error, then ReadyForQuery).</summary>
    private async Task FinishCopyAsync(List<NodeResult> copying, CancellationToken cancellationToken)
    {
        await Task.WhenAll(copying.Where(r => r.Lost is null).Select(async result =>
        {
            result.StoppedAtCopyIn = false;
            try
            {
                await ReadResultAsync(result, 1, streamToClient: false, cancellationToken);
            }
            catch (Exception e) when (IsConnectionFailure(e))
            {
                result.Lost = e;
            }
        }));

        foreach (var lost in copying.Where(r => r.Lost is not null))
        {
            await HandleBackendLostAsync(lost.NodeId, lost.Lost!, cancellationToken, lost);
        }
    }
}
