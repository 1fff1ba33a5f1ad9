using System.Security.Cryptography;
using System.Text;

namespace PgPoolConsole.Proxy.Protocol;

/// <summary>Authentication request codes of the 'R' message.</summary>
public static class AuthenticationCode
{
    public const int Ok = 0;
    public const int KerberosV5 = 2;
    public const int CleartextPassword = 3;
    public const int Md5Password = 5;
    public const int Gss = 7;
    public const int GssContinue = 8;
    public const int Sspi = 9;
    public const int Sasl = 10;
    public const int SaslContinue = 11;
    public const int SaslFinal = 12;
}

/// <summary>PostgreSQL's md5 password hashing (also pgpool's pcp.conf and pool_passwd format).</summary>
public static class PgMd5
{
    /// <summary>Lower-case hex MD5 of the UTF-8 bytes of <paramref name="text"/>.</summary>
    public static string Hex(string text) => Hex(Encoding.UTF8.GetBytes(text));

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(MD5.HashData(bytes));

    /// <summary>The PasswordMessage content for md5 authentication: "md5" + md5(md5(password + user) + salt).</summary>
    public static string PasswordResponse(string user, string password, ReadOnlySpan<byte> salt) =>
        SaltedResponse(Hex(password + user), salt);

    /// <summary>The md5 response from an already hashed "md5(password + user)" value (as stored in pg_authid).</summary>
    public static string SaltedResponse(string passwordUserHashHex, ReadOnlySpan<byte> salt)
    {
        var inner = Encoding.ASCII.GetBytes(passwordUserHashHex);
        var buffer = new byte[inner.Length + salt.Length];
        inner.CopyTo(buffer, 0);
        salt.CopyTo(buffer.AsSpan(inner.Length));
        return "md5" + Hex(buffer);
    }
}

/// <summary>
/// The client side of SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL uses it: no channel binding,
/// the user name in the SCRAM messages is ignored by the server (the startup user counts).
/// </summary>
public sealed class ScramSha256Client
{
    public const string Mechanism = "SCRAM-SHA-256";

    private readonly string? _password;
    private readonly Security.ScramVerifier? _verifier;
    private readonly byte[]? _clientKey;
    private readonly string _clientNonce;
    private readonly string _userName;
    private string? _clientFirstBare;
    private byte[]? _expectedServerSignature;

    /// <param name="password">The password.</param>
    /// <param name="clientNonce">Fixed nonce (tests); random when null.</param>
    /// <param name="userName">User name inside the SCRAM exchange; PostgreSQL ignores it, so it is empty by default.</param>
    public ScramSha256Client(string password, string? clientNonce = null, string userName = "")
    {
        _password = password;
        _clientNonce = clientNonce ?? Convert.ToBase64String(RandomNumberGenerator.GetBytes(18));
        _userName = userName.Replace("=", "=3D", StringComparison.Ordinal).Replace(",", "=2C", StringComparison.Ordinal);
    }

    /// <summary>
    /// A client that proves knowledge of the password with a ClientKey recovered from a client's
    /// proof (SCRAM pass-through): works only against a server that stores the same secret
    /// (<paramref name="verifier"/>: same salt and iteration count).
    /// </summary>
    public ScramSha256Client(Security.ScramVerifier verifier, byte[] clientKey, string? clientNonce = null)
        : this("", clientNonce)
    {
        _password = null;
        _verifier = verifier;
        _clientKey = clientKey;
    }

    public byte[] ClientFirstMessage()
    {
        _clientFirstBare = "n=" + _userName + ",r=" + _clientNonce;
        return Encoding.UTF8.GetBytes("n,," + _clientFirstBare);
    }

    /// <summary>Builds client-final-message from server-first-message; throws on a malformed or hostile challenge.</summary>
    public byte[] ClientFinalMessage(ReadOnlySpan<byte> serverFirstMessage)
    {
        if (_clientFirstBare is null)
        {
            throw new InvalidOperationException("client-first-message was not sent");
        }

        var serverFirst = Encoding.UTF8.GetString(serverFirstMessage);
        string? nonce = null, salt = null, iterations = null;
        foreach (var part in serverFirst.Split(','))
        {
            if (part.StartsWith("r=", StringComparison.Ordinal)) nonce = part[2..];
            else if (part.StartsWith("s=", StringComparison.Ordinal)) salt = part[2..];
            else if (part.StartsWith("i=", StringComparison.Ordinal)) iterations = part[2..];
        }

        if (nonce is null || salt is null || iterations is null || !int.TryParse(iterations, out var count) || count < 1)
        {
            throw new PgProtocolException("invalid SCRAM server-first-message from backend");
        }

        if (!nonce.StartsWith(_clientNonce, StringComparison.Ordinal) || nonce.Length <= _clientNonce.Length)
        {
            throw new PgProtocolException("SCRAM nonce from backend does not extend the client nonce");
        }

        byte[] clientKey, serverKey;
        if (_password is not null)
        {
            var saltedPassword = Rfc2898DeriveBytes.Pbkdf2(Encoding.UTF8.GetBytes(Normalize(_password)), Convert.FromBase64String(salt), count, HashAlgorithmName.SHA256, 32);
            clientKey = HMACSHA256.HashData(saltedPassword, "Client Key"u8);
            serverKey = HMACSHA256.HashData(saltedPassword, "Server Key"u8);
        }
        else
        {
            if (count != _verifier!.Iterations || salt != Convert.ToBase64String(_verifier.Salt))
            {
                throw new ScramSecretMismatchException();
            }

            clientKey = _clientKey!;
            serverKey = _verifier.ServerKey;
        }

        var storedKey = SHA256.HashData(clientKey);
        var clientFinalWithoutProof = "c=biws,r=" + nonce;
        var authMessage = Encoding.UTF8.GetBytes(_clientFirstBare + "," + serverFirst + "," + clientFinalWithoutProof);
        var clientSignature = HMACSHA256.HashData(storedKey, authMessage);
        var proof = new byte[clientKey.Length];
        for (var i = 0; i < proof.Length; i++)
        {
            proof[i] = (byte)(clientKey[i] ^ clientSignature[i]);
        }

        _expectedServerSignature = HMACSHA256.HashData(serverKey, authMessage);
        return Encoding.UTF8.GetBytes(clientFinalWithoutProof + ",p=" + Convert.ToBase64String(proof));
    }

    /// <summary>Checks server-final-message ("v=signature"); a wrong signature means the server does not know the password.</summary>
    public void VerifyServerFinal(ReadOnlySpan<byte> serverFinalMessage)
    {
        var text = Encoding.UTF8.GetString(serverFinalMessage);
        if (text.StartsWith("e=", StringComparison.Ordinal))
        {
            throw new PgProtocolException($"SCRAM authentication failed: {text[2..]}");
        }

        if (_expectedServerSignature is null || !text.StartsWith("v=", StringComparison.Ordinal) ||
            !CryptographicOperations.FixedTimeEquals(Convert.FromBase64String(text[2..].Split(',')[0]), _expectedServerSignature))
        {
            throw new PgProtocolException("SCRAM server signature from backend is invalid");
        }
    }

    /// <summary>SASLprep approximated by NFKC; PostgreSQL itself falls back to the raw password when SASLprep fails.</summary>
    private static string Normalize(string password)
    {
        try
        {
            return password.IsNormalized(NormalizationForm.FormKC) ? password : password.Normalize(NormalizationForm.FormKC);
        }
        catch (Exception e) when (e is ArgumentException or PlatformNotSupportedException)
        {
            return password;
        }
    }
}

/// <summary>SCRAM pass-through is impossible: the server's salt or iteration count differs from the secret the client proved.</summary>
public sealed class ScramSecretMismatchException() : Exception("the backend's SCRAM secret (salt, iterations) differs from the one in pool_passwd");
