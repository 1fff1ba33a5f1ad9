using System.Buffers;
using System.IO.Pipelines;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Backends;

/// <summary>
/// A backend connection's writer that can owe the node a BEGIN: the session answered a plain
/// BEGIN itself, and the node gets it in front of whatever is written to it next, in the same
/// send. Every write path goes through here, so none can forget it. The answer to each BEGIN
/// sent this way is skipped by the next reader (<see cref="BackendConnection.TakeSentBeginAnswers"/>).
/// </summary>
internal sealed class DeferredBeginWriter(PipeWriter inner) : PipeWriter
{
    /// <summary>The Query message BEGIN, as the proxy sends it to nodes (owed or its own).</summary>
    internal static readonly byte[] BeginQuery = PgWriter.QueryBytes("BEGIN");

    /// <summary>A BEGIN is owed: the next message written is preceded by it.</summary>
    public bool BeginOwed { get; set; }

    /// <summary>BEGINs sent whose answers (CommandComplete, ReadyForQuery) nobody has read yet.</summary>
    public int UnreadBeginAnswers { get; set; }

    public override Memory<byte> GetMemory(int sizeHint = 0)
    {
        SendOwedBegin();
        return inner.GetMemory(sizeHint);
    }

    public override Span<byte> GetSpan(int sizeHint = 0)
    {
        SendOwedBegin();
        return inner.GetSpan(sizeHint);
    }

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    private void SendOwedBegin()
    {
        if (BeginOwed)
        {
            BeginOwed = false;
            inner.Write(BeginQuery);
            UnreadBeginAnswers++;
        }
    }
}
