using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Security;

namespace PgPoolConsole.Proxy.Backends;

/// <summary>Supplies the client's password when a backend asks for one (asks the client at most once).</summary>
public delegate ValueTask<string?> PasswordProvider(CancellationToken cancellationToken);

/// <summary>Supplies what the proxy knows to log a user in to a backend (asked only when the backend wants a password).</summary>
public delegate ValueTask<BackendCredential?> CredentialProvider(CancellationToken cancellationToken);

/// <summary>
/// What the proxy can log in with: the password itself (any method), or only md5(password + user)
/// (md5 backends), or a SCRAM secret with the ClientKey a client proved (SCRAM backends that store
/// the same secret).
/// </summary>
public sealed record BackendCredential(string? Password, string? Md5Hash = null, ScramVerifier? Scram = null, byte[]? ScramClientKey = null)
{
    /// <summary>What is missing, for messages: "the password", ...</summary>
    internal string Holds => Password is not null ? "the password" : Md5Hash is not null ? "an md5 hash" : Scram is not null ? "a SCRAM secret" : "nothing";
}

/// <summary>The node could not be reached or dropped the connection: a candidate for failover.</summary>
public sealed class BackendUnavailableException(int nodeId, string message, Exception? inner = null) : Exception(message, inner)
{
    public int NodeId { get; } = nodeId;
}

/// <summary>The backend answered the startup with an error (bad password, unknown database, too many clients...).</summary>
public sealed class BackendRejectedException(int nodeId, PgErrorFields error) : Exception(error.Message)
{
    public int NodeId { get; } = nodeId;

    public PgErrorFields Error { get; } = error;
}

/// <summary>The backend wants a password and the client could not give one.</summary>
public sealed class PasswordRequiredException(int nodeId) : Exception($"backend node {nodeId} requires a password")
{
    public int NodeId { get; } = nodeId;
}

/// <summary>
/// Opens and authenticates backend connections (trust, cleartext, md5, SCRAM-SHA-256), over TLS
/// as the endpoint's backend_sslmode says (libpq's sslmode semantics).
/// </summary>
public sealed class BackendConnector
{
    private readonly Func<TimeSpan> _connectTimeout;
    private readonly int _maxMessageLength;

    public BackendConnector(TimeSpan connectTimeout, int maxMessageLength = 1 << 30)
        : this(() => connectTimeout, maxMessageLength)
    {
    }

    /// <summary>A connector whose timeout is read at each connect (connect_timeout can change on reload).</summary>
    public BackendConnector(Func<TimeSpan> connectTimeout, int maxMessageLength = 1 << 30)
    {
        _connectTimeout = connectTimeout;
        _maxMessageLength = maxMessageLength;
    }

    public Task<BackendConnection> ConnectAsync(BackendEndpoint endpoint, IReadOnlyList<KeyValuePair<string, string>> startupParameters, PasswordProvider passwordProvider, CancellationToken cancellationToken) =>
        ConnectAsync(endpoint, startupParameters, async token => await passwordProvider(token) is { } password ? new BackendCredential(password) : null, cancellationToken);

    public async Task<BackendConnection> ConnectAsync(BackendEndpoint endpoint, IReadOnlyList<KeyValuePair<string, string>> startupParameters, CredentialProvider passwordProvider, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (BackendSockets.IsUnixSocketDirectory(endpoint.Host))
        {
            // As libpq: TLS is not used over Unix-domain sockets, whatever backend_sslmode says.
            return await ConnectAsync(endpoint, startupParameters, passwordProvider, BackendSslMode.Disable, cancellationToken);
        }

        switch (endpoint.Tls.Mode)
        {
            case BackendSslMode.Allow:
                try
                {
                    return await ConnectAsync(endpoint, startupParameters, passwordProvider, BackendSslMode.Disable, cancellationToken);
                }
                catch (BackendRejectedException e) when (e.Error.SqlState == "28000")
                {
                    // allow: plain text first; when pg_hba.conf refuses it, TLS (as libpq).
                    return await ConnectAsync(endpoint, startupParameters, passwordProvider, BackendSslMode.Require, cancellationToken);
                }

            case BackendSslMode.Disable:
                try
                {
                    return await ConnectAsync(endpoint, startupParameters, passwordProvider, BackendSslMode.Disable, cancellationToken);
                }
                catch (BackendRejectedException e) when (e.Error is { SqlState: "28000", Hint: null } && e.Error.Message.Contains("no encryption", StringComparison.Ordinal))
                {
                    throw new BackendRejectedException(e.NodeId, e.Error with
                    {
                        Hint = $"backend node {endpoint.NodeId} ({endpoint}) refuses connections without TLS and backend_sslmode is 'disable' for it; set backend_sslmode (or backend_sslmode{endpoint.NodeId}) to prefer or stronger",
                    });
                }

            default:
                return await ConnectAsync(endpoint, startupParameters, passwordProvider, endpoint.Tls.Mode, cancellationToken);
        }
    }

    /// <summary>One connection attempt: plain text when <paramref name="mode"/> is Disable, else SSLRequest first.</summary>
    private async Task<BackendConnection> ConnectAsync(BackendEndpoint endpoint, IReadOnlyList<KeyValuePair<string, string>> startupParameters, CredentialProvider passwordProvider, BackendSslMode mode, CancellationToken cancellationToken)
    {
        var connectTimeout = _connectTimeout();
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(connectTimeout);
        Socket? socket = null;
        BackendConnection? connection = null;
        try
        {
            try
            {
                socket = await BackendSockets.ConnectAsync(endpoint, timeout.Token);
            }
            catch (SocketException e)
            {
                throw new BackendUnavailableException(endpoint.NodeId, $"connect to backend node {endpoint.NodeId} ({endpoint}) failed: {e.Message}", e);
            }

            var stream = new NetworkStream(socket, ownsSocket: false);
            connection = new BackendConnection(endpoint, socket, mode == BackendSslMode.Disable ? stream : await NegotiateTlsAsync(endpoint, stream, mode, timeout.Token), _maxMessageLength)
            {
                StartupUser = startupParameters.FirstOrDefault(p => p.Key == "user").Value ?? "",
                Database = startupParameters.FirstOrDefault(p => p.Key == "database").Value is { Length: > 0 } database
                    ? database
                    : startupParameters.FirstOrDefault(p => p.Key == "user").Value ?? "",
            };
            PgWriter.StartupMessage(connection.Writer, startupParameters);
            await connection.Writer.FlushAsync(timeout.Token);
            await AuthenticateAsync(connection, passwordProvider, timeout.Token);
            return connection;
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            await DisposeQuietlyAsync(connection, socket);
            throw new BackendUnavailableException(endpoint.NodeId, $"connect to backend node {endpoint.NodeId} ({endpoint}) timed out after {connectTimeout.TotalMilliseconds:0} ms", e);
        }
        catch (Exception e) when (e is IOException or SocketException)
        {
            await DisposeQuietlyAsync(connection, socket);
            throw new BackendUnavailableException(endpoint.NodeId, $"backend node {endpoint.NodeId} ({endpoint}) closed the connection during startup: {e.Message}", e);
        }
        catch
        {
            await DisposeQuietlyAsync(connection, socket);
            throw;
        }
    }

    /// <summary>
    /// Sends SSLRequest and reads the one-byte answer straight from the socket (so no plain-text
    /// byte after it can be mistaken for TLS data). 'S': the TLS handshake (TLS 1.2 or 1.3), with
    /// the checks backend_sslrootcert and verify-full ask for. 'N': plain text when
    /// <paramref name="mode"/> is prefer, an error otherwise. A refusal is a
    /// <see cref="BackendRejectedException"/> (a configuration problem, not a dead node).
    /// </summary>
    private static async Task<Stream> NegotiateTlsAsync(BackendEndpoint endpoint, NetworkStream network, BackendSslMode mode, CancellationToken cancellationToken)
    {
        await network.WriteAsync(PgWriter.SslRequest(), cancellationToken);
        var answer = new byte[1];
        if (await network.ReadAsync(answer, cancellationToken) == 0)
        {
            throw new IOException("the server closed the connection after SSLRequest");
        }

        switch (answer[0])
        {
            case (byte)'S':
                break;
            case (byte)'N' when mode == BackendSslMode.Prefer:
                return network;
            case (byte)'N':
                throw TlsRefused(endpoint, $"backend node {endpoint.NodeId} ({endpoint}) does not accept TLS connections (it answered 'N' to SSLRequest: ssl = off on that server?), but backend_sslmode is '{endpoint.Tls.ModeName}' for it");
            case (byte)'E':
                throw TlsRefused(endpoint, $"backend node {endpoint.NodeId} ({endpoint}) answered SSLRequest with an error (the server does not understand SSLRequest)");
            default:
                throw TlsRefused(endpoint, $"backend node {endpoint.NodeId} ({endpoint}) answered SSLRequest with the unexpected byte 0x{answer[0]:X2}; is it a PostgreSQL server?");
        }

        var tls = new SslStream(network, leaveInnerStreamOpen: false);
        var failure = new StrongBox<string?>();
        try
        {
            await tls.AuthenticateAsClientAsync(endpoint.Tls.ClientOptions(endpoint.Host, failure), cancellationToken);
            return tls;
        }
        catch (AuthenticationException e)
        {
            await tls.DisposeAsync();
            throw TlsRefused(endpoint, failure.Value is { } reason
                ? $"backend node {endpoint.NodeId} ({endpoint}): certificate verification failed: {reason}"
                : $"TLS handshake with backend node {endpoint.NodeId} ({endpoint}) failed: {e.Message}{(e.InnerException is { } inner ? $" ({inner.Message})" : "")}");
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    private static BackendRejectedException TlsRefused(BackendEndpoint endpoint, string message) =>
        new(endpoint.NodeId, new PgErrorFields { Severity = "FATAL", SqlState = "08001", Message = message });

    private static async ValueTask DisposeQuietlyAsync(BackendConnection? connection, Socket? socket)
    {
        if (connection is not null)
        {
            connection.Break();
            await connection.DisposeAsync();
        }
        else
        {
            socket?.Dispose();
        }
    }

    private static async Task AuthenticateAsync(BackendConnection connection, CredentialProvider passwordProvider, CancellationToken cancellationToken)
    {
        ScramSha256Client? scram = null;
        byte[]? scratch = null;
        while (true)
        {
            var message = await connection.Reader.ReadAsync(cancellationToken);
            switch (message.TypeChar)
            {
                case 'R':
                    {
                        var payload = new PgPayload(PgPayload.Contiguous(message, ref scratch), 'R');
                        var code = payload.ReadInt32();
                        switch (code)
                        {
                            case AuthenticationCode.Ok:
                                break;
                            case AuthenticationCode.CleartextPassword:
                                {
                                    var credential = await RequirePasswordAsync(connection, passwordProvider, cancellationToken);
                                    var password = credential.Password ?? throw CannotLogIn(connection, "a clear-text password", credential);
                                    PgWriter.PasswordMessage(connection.Writer, password);
                                    connection.AuthenticationMethod = "password";
                                    await connection.Writer.FlushAsync(cancellationToken);
                                    break;
                                }

                            case AuthenticationCode.Md5Password:
                                {
                                    var salt = payload.ReadBytes(4).ToArray();
                                    var credential = await RequirePasswordAsync(connection, passwordProvider, cancellationToken);
                                    var response = credential.Password is { } password ? PgMd5.PasswordResponse(UserOf(connection), password, salt)
                                        : credential.Md5Hash is { } hash ? PgMd5.SaltedResponse(hash, salt)
                                        : throw CannotLogIn(connection, "md5", credential);
                                    PgWriter.PasswordMessage(connection.Writer, response);
                                    connection.AuthenticationMethod = "md5";
                                    await connection.Writer.FlushAsync(cancellationToken);
                                    break;
                                }

                            case AuthenticationCode.Sasl:
                                {
                                    var mechanisms = new List<string>();
                                    while (payload.Remaining > 1)
                                    {
                                        mechanisms.Add(payload.ReadCString());
                                    }

                                    if (!mechanisms.Contains(ScramSha256Client.Mechanism))
                                    {
                                        throw Rejected(connection, $"backend node {connection.NodeId} offers SASL mechanisms ({string.Join(", ", mechanisms)}) of which none is supported; SCRAM-SHA-256 is");
                                    }

                                    var credential = await RequirePasswordAsync(connection, passwordProvider, cancellationToken);
                                    scram = credential.Password is { } password ? new ScramSha256Client(password)
                                        : credential is { Scram: { } verifier, ScramClientKey: { } clientKey } ? new ScramSha256Client(verifier, clientKey)
                                        : throw CannotLogIn(connection, "scram-sha-256", credential);
                                    PgWriter.SaslInitialResponse(connection.Writer, ScramSha256Client.Mechanism, scram.ClientFirstMessage());
                                    connection.AuthenticationMethod = "scram-sha-256";
                                    await connection.Writer.FlushAsync(cancellationToken);
                                    break;
                                }

                            case AuthenticationCode.SaslContinue when scram is not null:
                                byte[] clientFinal;
                                try
                                {
                                    clientFinal = scram.ClientFinalMessage(payload.Rest);
                                }
                                catch (ScramSecretMismatchException)
                                {
                                    throw Rejected(connection, $"backend node {connection.NodeId} stores a different SCRAM secret for user \"{UserOf(connection)}\" than pool_passwd (copy rolpassword from pg_authid into pool_passwd, or store the password as TEXT or AES)");
                                }

                                PgWriter.SaslResponse(connection.Writer, clientFinal);
                                await connection.Writer.FlushAsync(cancellationToken);
                                break;
                            case AuthenticationCode.SaslFinal when scram is not null:
                                scram.VerifyServerFinal(payload.Rest);
                                break;
                            default:
                                throw Rejected(connection, $"backend node {connection.NodeId} requested authentication method {code}, which pgpoolconsole does not support (supported: trust, password, md5, scram-sha-256)");
                        }

                        break;
                    }

                case 'S':
                    connection.ApplyParameterStatus(message);
                    break;
                case 'K':
                    {
                        var payload = new PgPayload(PgPayload.Contiguous(message, ref scratch), 'K');
                        connection.ProcessId = payload.ReadInt32();
                        connection.SecretKey = payload.ReadInt32();
                        break;
                    }

                case 'E':
                    {
                        var error = PgErrorFields.Parse(message.Payload);
                        // 57P03: the node is starting up, shutting down or in recovery: not usable now.
                        if (error.SqlState == "57P03")
                        {
                            throw new BackendUnavailableException(connection.NodeId, $"backend node {connection.NodeId} ({connection.Endpoint}) cannot accept connections now: {error.Message}");
                        }

                        throw new BackendRejectedException(connection.NodeId, error);
                    }

                case 'N':
                case 'v':
                    break;
                case 'Z':
                    connection.TransactionStatus = message.ReadyForQueryStatus();
                    return;
                default:
                    throw new PgProtocolException($"unexpected message \"{message.TypeChar}\" from backend node {connection.NodeId} during startup");
            }
        }
    }

    private static async ValueTask<BackendCredential> RequirePasswordAsync(BackendConnection connection, CredentialProvider passwordProvider, CancellationToken cancellationToken)
    {
        var credential = await passwordProvider(cancellationToken);
        if (credential is null)
        {
            throw new PasswordRequiredException(connection.NodeId);
        }

        if (credential.Password is { } password)
        {
            connection.Password = PasswordFingerprint.Of(password);
        }

        return credential;
    }

    private static BackendRejectedException CannotLogIn(BackendConnection connection, string method, BackendCredential credential) =>
        Rejected(connection, $"backend node {connection.NodeId} requires {method} authentication for user \"{UserOf(connection)}\", but the proxy holds only {credential.Holds} for that user (store the password in pool_passwd as TEXT or AES)");

    private static string UserOf(BackendConnection connection) => connection.StartupUser;

    private static BackendRejectedException Rejected(BackendConnection connection, string message) =>
        new(connection.NodeId, new PgErrorFields { Severity = "FATAL", SqlState = "28000", Message = message });
}
