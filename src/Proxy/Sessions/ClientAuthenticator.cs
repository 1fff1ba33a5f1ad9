using System.Buffers;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Backends;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Security;

namespace PgPoolConsole.Proxy.Sessions;

/// <summary>How a client was authenticated, and what the proxy may log in to backends with.</summary>
/// <param name="ByProxy">The proxy verified the client itself (pool_hba.conf / pool_passwd).</param>
/// <param name="Credential">What backends get when they ask for a password; null = ask the client (pass-through).</param>
/// <param name="Method">For logs: trust, md5, scram-sha-256, password, or "backend" (pass-through).</param>
public sealed record ClientAuthentication(bool ByProxy, BackendCredential? Credential, string Method)
{
    /// <summary>The proxy does not authenticate: backends do, and ask the client (through the proxy) when they want a password.</summary>
    public static ClientAuthentication PassThrough { get; } = new(false, null, "backend");
}

/// <summary>
/// Client authentication by the proxy, before the client gets a session slot: pool_hba.conf picks
/// the method (first matching line), pool_passwd holds the secrets. md5 and SCRAM-SHA-256 never
/// see the password; "password" receives it in clear text (use it only with hostssl). Without
/// pool_hba.conf a user listed in pool_passwd is authenticated with SCRAM-SHA-256 (md5 when only an
/// md5 hash is stored); anyone else is left to the backends (pass-through).
/// </summary>
internal sealed partial class ClientAuthenticator(ProxyContext context, ILogger logger)
{
    /// <summary>Authenticates, or tells the client why not and returns null.</summary>
    public async Task<ClientAuthentication?> AuthenticateAsync(ClientConnection connection, StartupPacket startup, CancellationToken cancellationToken)
    {
        var security = context.Security.Current;
        var user = startup.User;
        var database = startup.Database;
        var address = connection.RemoteEndPoint is IPEndPoint ip ? ip.Address : null;
        var host = address?.ToString() ?? "[local]";
        var encryption = connection.IsSsl ? "SSL encryption" : "no encryption";
        HbaMethod method;
        if (security.Hba is { } hba)
        {
            var line = hba.Find(address, connection.IsSsl, database, user);
            if (line is null)
            {
                return await FailAsync(connection, "28000", $"no pool_hba.conf entry for host \"{host}\", user \"{user}\", database \"{database}\", {encryption}", user, database, host, "no matching pool_hba.conf line");
            }

            if (line.Method == HbaMethod.Reject)
            {
                return await FailAsync(connection, "28000", $"pool_hba.conf rejects connection for host \"{host}\", user \"{user}\", database \"{database}\", {encryption}", user, database, host, $"rejected by {hba.Path}:{line.LineNumber}");
            }

            method = line.Method;
        }
        else if (security.Passwd.Find(user) is { } listed)
        {
            method = listed.Kind == PasswordKind.Md5 ? HbaMethod.Md5 : HbaMethod.ScramSha256;
        }
        else
        {
            return ClientAuthentication.PassThrough;
        }

        var entry = security.Passwd.Find(user);
        switch (method)
        {
            case HbaMethod.Trust:
                return entry is null ? ClientAuthentication.PassThrough : new ClientAuthentication(true, CredentialOf(entry, null), "trust");
            case HbaMethod.Password:
                return await PasswordAsync(connection, entry, user, database, host, cancellationToken);
            case HbaMethod.Md5 when entry?.Kind != PasswordKind.ScramSha256:
                return await Md5Async(connection, entry, user, database, host, cancellationToken);
            default:
                // scram-sha-256, or md5 with a SCRAM secret stored (PostgreSQL does the same).
                return await ScramAsync(connection, security, entry, user, database, host, cancellationToken);
        }
    }

    private async Task<ClientAuthentication?> PasswordAsync(ClientConnection connection, PoolPasswdEntry? entry, string user, string database, string host, CancellationToken cancellationToken)
    {
        PgWriter.AuthenticationCleartextPassword(connection.Output);
        await connection.Output.FlushAsync(cancellationToken);
        if (await ReadPasswordMessageAsync(connection, cancellationToken) is not { } message)
        {
            return null;
        }

        var password = Encoding.UTF8.GetString(message.AsSpan().TrimEnd((byte)0));
        if (entry is null)
        {
            // Nothing to check here: the backends verify it.
            return new ClientAuthentication(false, new BackendCredential(password), "password");
        }

        var matches = entry.Kind switch
        {
            PasswordKind.Md5 => FixedTimeEquals(entry.Md5Hash!, PgMd5.Hex(password + user)),
            PasswordKind.ScramSha256 => ScramVerifier.Create(password, entry.Scram!.Iterations, entry.Scram.Salt).SameSecretAs(entry.Scram),
            _ => FixedTimeEquals(entry.Password!, password),
        };
        return matches
            ? new ClientAuthentication(true, new BackendCredential(password), "password")
            : await PasswordFailedAsync(connection, user, database, host, "password does not match pool_passwd");
    }

    private async Task<ClientAuthentication?> Md5Async(ClientConnection connection, PoolPasswdEntry? entry, string user, string database, string host, CancellationToken cancellationToken)
    {
        var salt = RandomNumberGenerator.GetBytes(4);
        PgWriter.AuthenticationMd5Password(connection.Output, salt);
        await connection.Output.FlushAsync(cancellationToken);
        if (await ReadPasswordMessageAsync(connection, cancellationToken) is not { } message)
        {
            return null;
        }

        if (entry?.Md5Hash is not { } hash)
        {
            return await PasswordFailedAsync(connection, user, database, host, "user has no usable password in pool_passwd");
        }

        var response = Encoding.UTF8.GetString(message.AsSpan().TrimEnd((byte)0));
        return FixedTimeEquals(PgMd5.SaltedResponse(hash, salt), response)
            ? new ClientAuthentication(true, CredentialOf(entry, null), "md5")
            : await PasswordFailedAsync(connection, user, database, host, "md5 response does not match pool_passwd");
    }

    private async Task<ClientAuthentication?> ScramAsync(ClientConnection connection, ClientSecurity security, PoolPasswdEntry? entry, string user, string database, string host, CancellationToken cancellationToken)
    {
        // A user without a usable secret still goes through the exchange (with a made-up secret) so
        // that the answer does not tell which user names exist.
        var usable = entry is not null && entry.Kind != PasswordKind.Md5;
        var verifier = usable ? security.VerifierFor(entry!) : ScramVerifier.Create(Convert.ToBase64String(RandomNumberGenerator.GetBytes(16)));
        var server = new ScramSha256Server(verifier);
        PgWriter.AuthenticationSasl(connection.Output, ScramSha256Client.Mechanism);
        await connection.Output.FlushAsync(cancellationToken);
        if (await ReadPasswordMessageAsync(connection, cancellationToken) is not { } initial)
        {
            return null;
        }

        try
        {
            var (mechanism, clientFirst) = ParseSaslInitialResponse(initial);
            if (mechanism != ScramSha256Client.Mechanism)
            {
                return await FailAsync(connection, "28000", "client selected an invalid SASL authentication mechanism", user, database, host, $"SASL mechanism \"{mechanism}\"");
            }

            PgWriter.AuthenticationRequest(connection.Output, AuthenticationCode.SaslContinue, server.ServerFirstMessage(clientFirst));
            await connection.Output.FlushAsync(cancellationToken);
            if (await ReadPasswordMessageAsync(connection, cancellationToken) is not { } final)
            {
                return null;
            }

            var serverFinal = server.VerifyClientFinal(final);
            if (serverFinal is null || !usable)
            {
                return await PasswordFailedAsync(connection, user, database, host,
                    entry is null ? "user is not in pool_passwd" : !usable ? "pool_passwd holds only an md5 hash for the user; SCRAM needs a SCRAM secret or the password" : "SCRAM proof does not match pool_passwd");
            }

            PgWriter.AuthenticationRequest(connection.Output, AuthenticationCode.SaslFinal, serverFinal);
            return new ClientAuthentication(true, CredentialOf(entry!, server.ClientKey), "scram-sha-256");
        }
        catch (ScramException e)
        {
            return await FailAsync(connection, "08P01", e.Message, user, database, host, e.Message);
        }
    }

    /// <summary>What backends get: the password when pool_passwd has it, else what the stored secret allows.</summary>
    private static BackendCredential CredentialOf(PoolPasswdEntry entry, byte[]? scramClientKey) => entry.Kind switch
    {
        PasswordKind.Md5 => new BackendCredential(null, Md5Hash: entry.Md5Hash),
        PasswordKind.ScramSha256 => new BackendCredential(null, Scram: entry.Scram, ScramClientKey: scramClientKey),
        _ => new BackendCredential(entry.Password),
    };

    private static (string Mechanism, byte[] Data) ParseSaslInitialResponse(byte[] payload)
    {
        var zero = Array.IndexOf(payload, (byte)0);
        if (zero < 0 || payload.Length < zero + 5)
        {
            throw new ScramException("malformed SASLInitialResponse message");
        }

        var mechanism = Encoding.UTF8.GetString(payload, 0, zero);
        var length = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(zero + 1, 4));
        var data = payload.AsSpan(zero + 5);
        return length == data.Length ? (mechanism, data.ToArray()) : throw new ScramException("malformed SASLInitialResponse message");
    }

    /// <summary>The payload of the client's next 'p' message, or null when the client hung up (psql does, to prompt for a password).</summary>
    private async Task<byte[]?> ReadPasswordMessageAsync(ClientConnection connection, CancellationToken cancellationToken)
    {
        PgMessage message;
        try
        {
            message = await connection.Reader.ReadAsync(cancellationToken);
        }
        catch (PgConnectionClosedException)
        {
            LogClientLeftDuringAuthentication(logger);
            return null;
        }

        if (message.TypeChar != 'p')
        {
            throw new PgProtocolException($"expected password response, got message type {PgMessageReader.Printable(message.Type)}");
        }

        return message.Payload.ToArray();
    }

    private Task<ClientAuthentication?> PasswordFailedAsync(ClientConnection connection, string user, string database, string host, string reason) =>
        FailAsync(connection, "28P01", $"password authentication failed for user \"{user}\"", user, database, host, reason);

    private async Task<ClientAuthentication?> FailAsync(ClientConnection connection, string sqlState, string message, string user, string database, string host, string reason)
    {
        LogFailedLogin(logger, user, database, host, reason);
        try
        {
            PgWriter.Error(connection.Output, "FATAL", sqlState, message);
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await connection.Output.FlushAsync(timeout.Token);
        }
        catch (Exception e) when (e is IOException or OperationCanceledException or InvalidOperationException or ObjectDisposedException)
        {
            // the client is gone
        }

        return null;
    }

    private static bool FixedTimeEquals(string expected, string actual) =>
        CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(expected), Encoding.UTF8.GetBytes(actual));

    [LoggerMessage(EventId = 1120, Level = LogLevel.Warning, Message = "failed login: user=\"{User}\" database=\"{Database}\" host={Host}: {Reason}")]
    private static partial void LogFailedLogin(ILogger logger, string user, string database, string host, string reason);

    [LoggerMessage(EventId = 1121, Level = LogLevel.Debug, Message = "client disconnected during authentication")]
    private static partial void LogClientLeftDuringAuthentication(ILogger logger);
}
