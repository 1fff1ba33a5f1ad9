using System.Buffers;
using System.IO.Pipelines;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>The outcome of one command on one node: what is compared across nodes.</summary>
internal readonly record struct CommandOutcome(char Kind, string Text, string? ErrorMessage = null)
{
    /// <summary>CommandComplete ('C'), ErrorResponse ('E'), EmptyQueryResponse ('I') or PortalSuspended ('s').</summary>
    public static CommandOutcome Completed(string tag) => new('C', tag);

    public static CommandOutcome Failed(PgErrorFields error) => new('E', error.SqlState, error.Message);

    public override string ToString() => Kind switch
    {
        'C' => Text,
        'E' => $"ERROR {Text}: {ErrorMessage}",
        'I' => "EMPTY",
        's' => "SUSPENDED",
        _ => Kind.ToString(),
    };
}

/// <summary>What one node answered to one request.</summary>
internal sealed class NodeResult
{
    /// <summary>Beyond this many captured bytes a result is streamed to the client (if it is the
    /// client's) or only its outcomes are kept (if it is only compared).</summary>
    public const int CaptureLimit = 256 * 1024;

    private ArrayBufferWriter<byte> _bytes = new(512);

    public NodeResult(BackendConnection backend) => Backend = backend;

    public BackendConnection Backend { get; }

    public int NodeId => Backend.NodeId;

    /// <summary>Protocol messages to relay to the client if this node's answer is the one used.</summary>
    public ArrayBufferWriter<byte> Bytes => _bytes;

    public List<CommandOutcome> Outcomes { get; } = [];

    /// <summary>Transaction status of the last ReadyForQuery.</summary>
    public char Status { get; set; } = 'I';

    public PgErrorFields? FirstError { get; set; }

    /// <summary>The node asked for COPY data (CopyInResponse, kept in <see cref="CopyInResponse"/>).</summary>
    public bool StoppedAtCopyIn { get; set; }

    public byte[]? CopyInResponse { get; set; }

    /// <summary>Part of the answer was already sent to the client: it can no longer be retried elsewhere.</summary>
    public bool Streamed { get; set; }

    /// <summary>Captured bytes were dropped (too large); only outcomes are valid.</summary>
    public bool Overflowed { get; set; }

    /// <summary>The connection failed while the request ran.</summary>
    public Exception? Lost { get; set; }

    /// <summary>ReadyForQuery cycles to swallow whole (our own BEGIN before the client's statement).</summary>
    public int SilentReadyCycles { get; set; }

    /// <summary>Leading ParseComplete/BindComplete/CloseComplete messages to swallow (messages we injected).</summary>
    public int SuppressedCompletions { get; set; }

    /// <summary>Why the proxy cancelled this node's statement (a wait no node could resolve), or null.</summary>
    public string? CancelledBecause { get; set; }

    /// <summary>For each ParameterDescription to come: how many trailing (proxy-added) parameters to hide.</summary>
    public Queue<int>? ParameterDescriptionTrims { get; set; }

    /// <summary>An error in a swallowed cycle (our BEGIN failed).</summary>
    public PgErrorFields? SilentError { get; set; }

    public bool Failed => FirstError is not null;

    public void Reset()
    {
        if (_bytes.Capacity > 4 * CaptureLimit)
        {
            // Let a huge buffer go rather than keep it for the session's life.
            _bytes = new ArrayBufferWriter<byte>(512);
        }
        else
        {
            _bytes.ResetWrittenCount();
        }

        Outcomes.Clear();
        FirstError = null;
        StoppedAtCopyIn = false;
        CopyInResponse = null;
        Streamed = false;
        Overflowed = false;
        Lost = null;
        SilentReadyCycles = 0;
        SuppressedCompletions = 0;
        SilentError = null;
        ParameterDescriptionTrims = null;
        CancelledBecause = null;
    }

    /// <summary>Outcomes, for comparing nodes and for the log.</summary>
    public string Signature => Lost is not null ? "connection lost" : string.Join("; ", Outcomes);
}

public sealed partial class ClientSession
{
    /// <summary>
    /// Reads a node's responses until <paramref name="readyCount"/> ReadyForQuery messages
    /// (or, when <paramref name="terminalCount"/> is not negative, until that many extended-query
    /// completions or an error), capturing what would go to the client. Stops early at a
    /// CopyInResponse. When <paramref name="streamToClient"/> is set, large answers flow to the
    /// client as they arrive.
    /// </summary>
    private async Task ReadResultAsync(NodeResult result, int readyCount, bool streamToClient, CancellationToken cancellationToken, int terminalCount = -1)
    {
        var backend = result.Backend;
        var reader = backend.Reader;
        var bytes = result.Bytes;
        var owedBegins = backend.TakeSentBeginAnswers();
        result.SilentReadyCycles += owedBegins;
        readyCount += owedBegins;
        while (readyCount > 0)
        {
            if (terminalCount == 0)
            {
                return;
            }

            var message = await reader.ReadAsync(NodeResult.CaptureLimit, cancellationToken);
            if (reader.PendingBody > 0)
            {
                await PassLargeMessageAsync(result, message, streamToClient, cancellationToken);
                continue;
            }

            var type = message.TypeChar;
            if (result.SilentReadyCycles > 0)
            {
                switch (type)
                {
                    case 'Z':
                        backend.TransactionStatus = message.ReadyForQueryStatus();
                        result.SilentReadyCycles--;
                        readyCount--;
                        break;
                    case 'E':
                        result.SilentError ??= PgErrorFields.Parse(message.Payload);
                        break;
                    case 'S':
                        NoteParameterStatus(backend, message);
                        break;
                }

                continue;
            }

            switch (type)
            {
                case 'Z':
                    backend.TransactionStatus = result.Status = message.ReadyForQueryStatus();
                    readyCount--;
                    continue;
                case 'C':
                    result.Outcomes.Add(CommandOutcome.Completed(PgPayload.SingleCString(message)));
                    terminalCount--;
                    break;
                case 'E':
                    {
                        var error = PgErrorFields.Parse(message.Payload);
                        result.FirstError ??= error;
                        result.Outcomes.Add(CommandOutcome.Failed(error));
                        if (terminalCount >= 0)
                        {
                            // The backend now skips everything up to Sync: nothing more will come.
                            terminalCount = 0;
                        }

                        break;
                    }

                case 'I':
                    result.Outcomes.Add(new CommandOutcome('I', ""));
                    terminalCount--;
                    break;
                case 's':
                    result.Outcomes.Add(new CommandOutcome('s', ""));
                    terminalCount--;
                    break;
                case '1':
                case '2':
                case '3':
                    if (result.SuppressedCompletions > 0)
                    {
                        result.SuppressedCompletions--;
                        continue;
                    }

                    terminalCount--;
                    break;
                case 'T':
                case 'n':
                    // Describe's answer (in a simple query 'T' precedes rows; terminalCount is unused there).
                    terminalCount--;
                    break;
                case 'S':
                    NoteParameterStatus(backend, message);
                    break;
                case 'G':
                    result.StoppedAtCopyIn = true;
                    result.CopyInResponse = message.Raw.ToArray();
                    return;
                case 'W':
                    throw new PgProtocolException("COPY BOTH (replication) is not supported through pgpoolconsole");
                case 'K':
                case 'R':
                case 'v':
                    throw new PgProtocolException($"unexpected message \"{type}\" from backend node {backend.NodeId}");
            }

            if (result.Overflowed)
            {
                continue;
            }

            if (type == 't' && result.ParameterDescriptionTrims is { Count: > 0 } trims && trims.Dequeue() is var drop and > 0)
            {
                BindMessage.TrimParameterDescription(message.Raw.ToArray(), drop, bytes);
            }
            else
            {
                foreach (var segment in message.Raw)
                {
                    bytes.Write(segment.Span);
                }
            }

            if (bytes.WrittenCount > NodeResult.CaptureLimit)
            {
                if (streamToClient)
                {
                    _clientOut.Write(bytes.WrittenSpan);
                    bytes.ResetWrittenCount();
                    result.Streamed = true;
                    await _clientOut.FlushAsync(cancellationToken);
                }
                else
                {
                    result.Overflowed = true;
                    bytes.ResetWrittenCount();
                }
            }
        }
    }

    /// <summary>
    /// A row (or notice, or COPY data) larger than the capture buffer, whose body is still coming:
    /// it flows on to the client piece by piece when this answer streams to the client, and is
    /// dropped as it arrives otherwise (the answer then only counts for its outcomes).
    /// </summary>
    private async Task PassLargeMessageAsync(NodeResult result, PgMessage header, bool streamToClient, CancellationToken cancellationToken)
    {
        var reader = result.Backend.Reader;
        if (!streamToClient || result.SilentReadyCycles > 0 || result.Overflowed)
        {
            result.Overflowed |= result.SilentReadyCycles == 0;
            result.Bytes.ResetWrittenCount();
            await reader.PassBodyAsync(null, cancellationToken);
            return;
        }

        _clientOut.Write(result.Bytes.WrittenSpan);
        result.Bytes.ResetWrittenCount();
        foreach (var segment in header.Raw)
        {
            _clientOut.Write(segment.Span);
        }

        result.Streamed = true;
        _clientMidMessage = true;
        await reader.PassBodyAsync(_clientOut, cancellationToken);
        _clientMidMessage = false;
    }

    /// <summary>
    /// A node was lost in the middle of a large message already partly sent to the client: the
    /// client cannot read anything more on this connection, so it closes (with no error message,
    /// see <see cref="_clientMidMessage"/>).
    /// </summary>
    private void ThrowIfCutMidMessage(NodeResult result, Exception cause)
    {
        if (_clientMidMessage)
        {
            throw new SessionTerminatedException("08006", $"terminating connection: backend node {result.NodeId} was lost in the middle of a row it was sending", cause.Message);
        }
    }

    /// <summary>
    /// Sends the chosen node's captured answer; a final one with ReadyForQuery and a flush. Error
    /// positions are shifted when the statement was cut out of a longer query string.
    /// </summary>
    private async ValueTask ForwardAsync(NodeResult result, char readyStatus, bool final, CancellationToken cancellationToken)
    {
        if (result.Bytes.WrittenCount > 0)
        {
            if (_positionOffset > 0)
            {
                ErrorPositions.Shift(result.Bytes.WrittenSpan, _positionOffset, _clientOut);
            }
            else
            {
                _clientOut.Write(result.Bytes.WrittenSpan);
            }
        }

        if (final)
        {
            WriteReadyForQuery(readyStatus);
            await _clientOut.FlushAsync(cancellationToken);
        }
    }

    /// <summary>Above this size a request goes to a node in pieces, each sent as it is written.</summary>
    private const int SendPiece = 256 * 1024;

    /// <summary>Writes the bytes of a request to a backend and flushes.</summary>
    private static ValueTask<FlushResult> SendAsync(BackendConnection backend, ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        if (request.Length > SendPiece)
        {
            return SendInPiecesAsync(backend.Writer, request, cancellationToken);
        }

        backend.Writer.Write(request.Span);
        return backend.Writer.FlushAsync(cancellationToken);
    }

    private static async ValueTask<FlushResult> SendInPiecesAsync(PipeWriter writer, ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        await WriteInPiecesAsync(writer, request, cancellationToken);
        return await writer.FlushAsync(cancellationToken);
    }

    /// <summary>
    /// Writes a request into a backend's buffer. A large one (a 100 MB literal, a bulk Bind) is
    /// sent piece by piece as it is written, so the proxy does not hold a copy of it per node.
    /// </summary>
    private static ValueTask WriteRequestAsync(PipeWriter writer, ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        if (request.Length <= SendPiece)
        {
            writer.Write(request.Span);
            return ValueTask.CompletedTask;
        }

        return WriteInPiecesAsync(writer, request, cancellationToken);
    }

    private static async ValueTask WriteInPiecesAsync(PipeWriter writer, ReadOnlyMemory<byte> request, CancellationToken cancellationToken)
    {
        for (; request.Length > SendPiece; request = request[SendPiece..])
        {
            writer.Write(request.Span[..SendPiece]);
            await writer.FlushAsync(cancellationToken);
        }

        writer.Write(request.Span);
    }
}
