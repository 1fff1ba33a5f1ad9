namespace PgPoolConsole.Proxy.Security;

/// <summary>
/// Sits on an <see cref="System.Net.Security.SslStream"/> so that a cancelled write never cuts a
/// TLS record. SslStream encrypts a write (advancing its record sequence number) before it
/// writes the record out; a cancellation that then stops the write loses that record, and every
/// later record fails the peer's integrity check ("decryption failed or bad record mac"). That
/// happened to a client whose session flushed its answer with the session's token after a fast
/// shutdown had cancelled it. Here a write cancelled before it starts throws without touching the
/// TLS stream, so the bytes stay buffered for a later write; one already started runs to its end.
/// If the token fires while such a write waits (a peer that does not read), the caller is let go
/// at once and the stream is marked cut: later writes fail, the connection is good only for closing.
/// </summary>
public sealed class WholeRecordStream(Stream tls) : Stream
{
    private Task? _cutWrite;

    /// <summary>True once a write was abandoned in the middle: nothing more can be sent.</summary>
    public bool IsCut => _cutWrite is not null;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => tls.Read(buffer, offset, count);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        tls.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        tls.ReadAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count)
    {
        ThrowIfCut();
        tls.Write(buffer, offset, count);
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfCut();
        cancellationToken.ThrowIfCancellationRequested();
        var write = tls.WriteAsync(buffer, CancellationToken.None).AsTask();
        if (write.IsCompleted || !cancellationToken.CanBeCanceled)
        {
            await write;
            return;
        }

        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using (cancellationToken.UnsafeRegister(static state => ((TaskCompletionSource)state!).TrySetResult(), cancelled))
        {
            if (await Task.WhenAny(write, cancelled.Task) == write)
            {
                await write;
                return;
            }
        }

        // The record is partly out; the write ends when the connection closes. Its outcome no longer matters.
        _cutWrite = write.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        throw new OperationCanceledException(cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Flush()
    {
        ThrowIfCut();
        tls.Flush();
    }

    public override Task FlushAsync(CancellationToken cancellationToken) =>
        IsCut ? Task.FromException(CutException()) : tls.FlushAsync(cancellationToken); // encrypts nothing: safe to cancel

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    private void ThrowIfCut()
    {
        if (IsCut)
        {
            throw CutException();
        }
    }

    private static IOException CutException() => new("the TLS stream was cut in the middle of a record by a cancelled write; the connection can only be closed");
}
