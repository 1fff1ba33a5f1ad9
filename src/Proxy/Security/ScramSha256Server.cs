using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace PgPoolConsole.Proxy.Security;

/// <summary>A SCRAM-SHA-256 secret as PostgreSQL stores it: <c>SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey</c>.</summary>
public sealed record ScramVerifier(int Iterations, byte[] Salt, byte[] StoredKey, byte[] ServerKey)
{
    public const int DefaultIterations = 4096;

    public static ScramVerifier Parse(string secret)
    {
        var parts = secret.Split('$');
        if (parts.Length != 3 || parts[0] != "SCRAM-SHA-256")
        {
            throw new FormatException("a SCRAM secret is SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey");
        }

        var head = parts[1].Split(':');
        var keys = parts[2].Split(':');
        try
        {
            if (head.Length != 2 || keys.Length != 2 || !int.TryParse(head[0], NumberStyles.None, CultureInfo.InvariantCulture, out var iterations) || iterations < 1)
            {
                throw new FormatException("a SCRAM secret is SCRAM-SHA-256$iterations:salt$StoredKey:ServerKey");
            }

            var verifier = new ScramVerifier(iterations, Convert.FromBase64String(head[1]), Convert.FromBase64String(keys[0]), Convert.FromBase64String(keys[1]));
            return verifier.StoredKey.Length == 32 && verifier.ServerKey.Length == 32 ? verifier : throw new FormatException("SCRAM keys must be 32 bytes");
        }
        catch (FormatException e) when (e.Message.Contains("Base-64", StringComparison.OrdinalIgnoreCase) || e.Message.Contains("base 64", StringComparison.OrdinalIgnoreCase))
        {
            throw new FormatException("a SCRAM secret has invalid base64", e);
        }
    }

    /// <summary>A verifier for <paramref name="password"/> with a random salt (what PostgreSQL's password_encryption = scram-sha-256 stores).</summary>
    public static ScramVerifier Create(string password, int iterations = DefaultIterations, byte[]? salt = null)
    {
        salt ??= RandomNumberGenerator.GetBytes(16);
        var salted = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(ScramSha256Server.Normalize(password)), salt, iterations, HashAlgorithmName.SHA256, 32);
        var clientKey = HMACSHA256.HashData(salted, "Client Key"u8);
        return new ScramVerifier(iterations, salt, SHA256.HashData(clientKey), HMACSHA256.HashData(salted, "Server Key"u8));
    }

    public override string ToString() =>
        $"SCRAM-SHA-256${Iterations.ToString(CultureInfo.InvariantCulture)}:{Convert.ToBase64String(Salt)}${Convert.ToBase64String(StoredKey)}:{Convert.ToBase64String(ServerKey)}";

    public bool SameSecretAs(ScramVerifier other) =>
        Iterations == other.Iterations && Salt.AsSpan().SequenceEqual(other.Salt) && StoredKey.AsSpan().SequenceEqual(other.StoredKey);
}

/// <summary>
/// The server side of SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL runs it: no channel binding
/// (SCRAM-SHA-256-PLUS is not offered), the user name in the exchange is ignored. A verified proof
/// also yields the client's ClientKey, which lets the proxy log in to a backend that stores the
/// same secret without ever knowing the password.
/// </summary>
public sealed class ScramSha256Server
{
    private readonly ScramVerifier _verifier;
    private readonly string _serverNonce;
    private string? _clientFirstBare;
    private string? _serverFirst;
    private string? _nonce;

    public ScramSha256Server(ScramVerifier verifier, string? serverNonce = null)
    {
        _verifier = verifier;
        _serverNonce = serverNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
    }

    /// <summary>Set after a successful <see cref="VerifyClientFinal"/>.</summary>
    public byte[]? ClientKey { get; private set; }

    /// <summary>Takes client-first-message (from SASLInitialResponse), returns server-first-message.</summary>
    public byte[] ServerFirstMessage(ReadOnlySpan<byte> clientFirstMessage)
    {
        var text = Encoding.UTF8.GetString(clientFirstMessage);
        // gs2-header: "n,," (no binding) or "y,," (client could bind but thinks we cannot); "p=" needs -PLUS.
        if (text.StartsWith("p=", StringComparison.Ordinal))
        {
            throw new ScramException("channel binding is not supported: SCRAM-SHA-256-PLUS was not offered");
        }

        if (!(text.StartsWith("n,", StringComparison.Ordinal) || text.StartsWith("y,", StringComparison.Ordinal)))
        {
            throw new ScramException("malformed SCRAM message: unexpected channel-binding flag");
        }

        var secondComma = text.IndexOf(',', 2);
        if (secondComma < 0)
        {
            throw new ScramException("malformed SCRAM message: no gs2 header");
        }

        _clientFirstBare = text[(secondComma + 1)..];
        var clientNonce = Attribute(_clientFirstBare, 'r') ?? throw new ScramException("malformed SCRAM message: no nonce");
        if (clientNonce.Length == 0 || clientNonce.Any(c => c is < '!' or > '~' or ','))
        {
            throw new ScramException("malformed SCRAM message: invalid nonce");
        }

        _nonce = clientNonce + _serverNonce;
        _serverFirst = $"r={_nonce},s={Convert.ToBase64String(_verifier.Salt)},i={_verifier.Iterations.ToString(CultureInfo.InvariantCulture)}";
        return Encoding.UTF8.GetBytes(_serverFirst);
    }

    /// <summary>
    /// Checks client-final-message. Returns server-final-message ("v=signature") when the proof is
    /// right, null when it is wrong (the password is wrong); throws on a malformed message.
    /// </summary>
    public byte[]? VerifyClientFinal(ReadOnlySpan<byte> clientFinalMessage)
    {
        if (_serverFirst is null || _clientFirstBare is null)
        {
            throw new InvalidOperationException("server-first-message was not sent");
        }

        var text = Encoding.UTF8.GetString(clientFinalMessage);
        var proofAt = text.LastIndexOf(",p=", StringComparison.Ordinal);
        if (proofAt < 0)
        {
            throw new ScramException("malformed SCRAM message: no proof");
        }

        var withoutProof = text[..proofAt];
        var channelBinding = Attribute(withoutProof, 'c');
        if (channelBinding is not ("biws" or "eSws"))
        {
            throw new ScramException("SCRAM channel binding check failed");
        }

        if (Attribute(withoutProof, 'r') != _nonce)
        {
            throw new ScramException("SCRAM nonce does not match");
        }

        byte[] proof;
        try
        {
            proof = Convert.FromBase64String(text[(proofAt + 3)..]);
        }
        catch (FormatException)
        {
            throw new ScramException("malformed SCRAM message: invalid proof");
        }

        if (proof.Length != 32)
        {
            throw new ScramException("malformed SCRAM message: invalid proof length");
        }

        var authMessage = Encoding.UTF8.GetBytes(_clientFirstBare + "," + _serverFirst + "," + withoutProof);
        var clientSignature = HMACSHA256.HashData(_verifier.StoredKey, authMessage);
        var clientKey = new byte[32];
        for (var i = 0; i < clientKey.Length; i++)
        {
            clientKey[i] = (byte)(proof[i] ^ clientSignature[i]);
        }

        if (!CryptographicOperations.FixedTimeEquals(SHA256.HashData(clientKey), _verifier.StoredKey))
        {
            return null;
        }

        ClientKey = clientKey;
        var serverSignature = HMACSHA256.HashData(_verifier.ServerKey, authMessage);
        return Encoding.UTF8.GetBytes("v=" + Convert.ToBase64String(serverSignature));
    }

    /// <summary>SASLprep approximated by NFKC, as <see cref="Protocol.ScramSha256Client"/> does.</summary>
    internal static string Normalize(string password)
    {
        try
        {
            return password.IsNormalized(NormalizationForm.FormKC) ? password : password.Normalize(NormalizationForm.FormKC);
        }
        catch (ArgumentException)
        {
            return password;
        }
    }

    private static string? Attribute(string message, char name)
    {
        foreach (var part in message.Split(','))
        {
            if (part.Length >= 2 && part[0] == name && part[1] == '=')
            {
                return part[2..];
            }
        }

        return null;
    }
}

/// <summary>A SCRAM message from the client is malformed (a protocol violation, not a wrong password).</summary>
public sealed class ScramException(string message) : Exception(message);
