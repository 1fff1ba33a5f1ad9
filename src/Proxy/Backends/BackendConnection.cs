using System.Diagnostics;
using System.IO.Pipelines;
using System.Net.Security;
using System.Net.Sockets;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Security;

namespace PgPoolConsole.Proxy.Backends;

/// <summary>Where a backend node listens, and how to speak TLS to it.</summary>
public sealed record BackendEndpoint(int NodeId, string Host, int Port)
{
    /// <summary>backend_sslmode and friends for this node.</summary>
    public BackendTls Tls { get; init; } = BackendTls.Default;

    /// <summary>The endpoint of a configured node.</summary>
    public static BackendEndpoint Of(NodeState node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return new BackendEndpoint(node.Id, node.Host, node.Port) { Tls = node.Tls };
    }

    public override string ToString() => BackendSockets.IsUnixSocketDirectory(Host) ? BackendSockets.UnixSocketPath(this) : $"{Host}:{Port}";
}

/// <summary>
/// One authenticated connection to one PostgreSQL backend. Owned by one session at a time (or by
/// the pool while idle); not thread-safe.
/// </summary>
public sealed class BackendConnection : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly Stream _stream;
    private readonly Dictionary<string, string> _serverParameters = new(StringComparer.Ordinal);
    private readonly DeferredBeginWriter _writer;
    private char _transactionStatus = 'I';
    private int _disposed;

    internal BackendConnection(BackendEndpoint endpoint, Socket socket, Stream stream, int maxMessageLength)
    {
        Endpoint = endpoint;
        _socket = socket;
        _stream = stream;
        Reader = new PgMessageReader(PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: 32 * 1024, minimumReadSize: 4096, leaveOpen: true)), maxMessageLength, $"backend node {endpoint.NodeId}");
        _writer = new DeferredBeginWriter(PipeWriter.Create(stream is SslStream ? new WholeRecordStream(stream) : stream, new StreamPipeWriterOptions(minimumBufferSize: 8192, leaveOpen: true)));
        CreatedAt = Stopwatch.GetTimestamp();
        LastUsedAt = CreatedAt;
    }

    public BackendEndpoint Endpoint { get; }

    /// <summary>The user the connection logged in as (md5 salting needs it).</summary>
    public string StartupUser { get; internal set; } = "";

    /// <summary>The database the connection is in (the startup database, else the user's name).</summary>
    public string Database { get; internal set; } = "";

    public int NodeId => Endpoint.NodeId;

    public PgMessageReader Reader { get; }

    public PipeWriter Writer => _writer;

    /// <summary>Whether the connection is encrypted (backend_sslmode and what the node offered).</summary>
    public bool IsTls => _stream is SslStream;

    public int ProcessId { get; internal set; }

    public int SecretKey { get; internal set; }

    /// <summary>
    /// Transaction status from the last ReadyForQuery ('I', 'T' or 'E'); 'T' while a BEGIN is
    /// owed, since the client was told it is in a transaction on every node.
    /// </summary>
    public char TransactionStatus
    {
        get => _writer.BeginOwed ? 'T' : _transactionStatus;
        set => _transactionStatus = value;
    }

    /// <summary>Whether the node still owes the session's BEGIN (see <see cref="OweBegin"/>).</summary>
    public bool OwesBegin => _writer.BeginOwed;

    /// <summary>
    /// The session answered a plain BEGIN itself: the node gets it in front of the next message
    /// written to it, in the same send, saving a round trip. Only for an idle connection.
    /// </summary>
    public void OweBegin()
    {
        if (_transactionStatus != 'I')
        {
            throw new InvalidOperationException($"backend node {NodeId} is not idle (status '{_transactionStatus}'): it cannot owe a BEGIN");
        }

        _writer.BeginOwed = true;
    }

    /// <summary>The session's transaction ended (or the session did) before the node needed its BEGIN.</summary>
    public void ForgetOwedBegin() => _writer.BeginOwed = false;

    /// <summary>
    /// How many owed BEGINs went out in front of what was written since the last call: their
    /// answers come first and the reader must skip them.
    /// </summary>
    public int TakeSentBeginAnswers()
    {
        var count = _writer.UnreadBeginAnswers;
        _writer.UnreadBeginAnswers = 0;
        return count;
    }

    /// <summary>ParameterStatus values the server reported, kept current.</summary>
    public IReadOnlyDictionary<string, string> ServerParameters => _serverParameters;

    /// <summary>Identifies the password the connection was authenticated with (null when none was needed).</summary>
    public PasswordFingerprint? Password { get; internal set; }

    /// <summary>How the backend authenticated us (for the pool's reuse rules and for logs).</summary>
    public string AuthenticationMethod { get; internal set; } = "trust";

    public long CreatedAt { get; }

    public DateTimeOffset ConnectedAtUtc { get; } = DateTimeOffset.UtcNow;

    public long LastUsedAt { get; set; }

    /// <summary>How many sessions have used this connection.</summary>
    public int ReuseCount { get; set; }

    /// <summary>
    /// default_transaction_isolation as the node applies it to this connection without a session
    /// SET (postgresql.conf, ALTER DATABASE/ROLE ... SET): read once, when first needed.
    /// </summary>
    public string? DefaultIsolation { get; set; }

    /// <summary>Set when the connection can no longer be trusted (I/O error, protocol desync).</summary>
    public bool IsBroken { get; private set; }

    public int ServerMajorVersion => ParseVersion(0);

    public int ServerMinorVersion => ParseVersion(1);

    internal void SetServerParameter(string name, string value) => _serverParameters[name] = value;

    /// <summary>Records a ParameterStatus message received during a session.</summary>
    /// <summary>Records a ParameterStatus; returns the parameter's name.</summary>
    public string ApplyParameterStatus(in PgMessage message)
    {
        byte[]? scratch = null;
        var payload = new PgPayload(PgPayload.Contiguous(message, ref scratch), 'S');
        var name = payload.ReadCString();
        _serverParameters[name] = payload.ReadCString();
        return name;
    }

    /// <summary>
    /// An idle connection has nothing to say; if its socket is readable the server sent something
    /// (usually a FATAL before closing) or closed it, and the connection must not be reused.
    /// </summary>
    public bool LooksAlive()
    {
        if (IsBroken || Reader.HasBufferedMessage)
        {
            return false;
        }

        try
        {
            return !_socket.Poll(0, SelectMode.SelectRead);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            return false;
        }
    }

    /// <summary>Marks the connection unusable and closes the socket so pending reads end.</summary>
    public void Break()
    {
        IsBroken = true;
        try
        {
            _socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // already closed
        }

        _socket.Close();
    }

    /// <summary>Sends Terminate (best effort) and closes.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        ForgetOwedBegin();
        if (!IsBroken)
        {
            try
            {
                PgWriter.Terminate(Writer);
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(1));
                await Writer.FlushAsync(timeout.Token);
            }
            catch (Exception e) when (e is IOException or SocketException or OperationCanceledException or ObjectDisposedException or InvalidOperationException)
            {
                // the peer is gone; nothing to tell it
            }
        }

        IsBroken = true;
        try
        {
            // Completing the writer flushes whatever is still buffered, which fails on a broken socket.
            await Writer.CompleteAsync();
            await Reader.Pipe.CompleteAsync();
            await _stream.DisposeAsync();
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException or InvalidOperationException)
        {
            // closing a connection that is already gone
        }
        finally
        {
            _socket.Dispose();
        }
    }

    private int ParseVersion(int part)
    {
        if (!_serverParameters.TryGetValue("server_version", out var version))
        {
            return 0;
        }

        var digits = version.Split(' ')[0].Split('.');
        return digits.Length > part && int.TryParse(digits[part], out var number) ? number : 0;
    }

    public override string ToString() => $"node {NodeId} pid {ProcessId}";
}

/// <summary>A salted hash of a password, so a pooled connection can be handed only to a client that knows it.</summary>
public sealed class PasswordFingerprint
{
    private static readonly byte[] ProcessSalt = System.Security.Cryptography.RandomNumberGenerator.GetBytes(16);
    private readonly byte[] _hash;

    private PasswordFingerprint(byte[] hash) => _hash = hash;

    public static PasswordFingerprint Of(string password) =>
        new(System.Security.Cryptography.HMACSHA256.HashData(ProcessSalt, System.Text.Encoding.UTF8.GetBytes(password)));

    public bool Matches(string password) =>
        System.Security.Cryptography.CryptographicOperations.FixedTimeEquals(_hash, Of(password)._hash);
}
