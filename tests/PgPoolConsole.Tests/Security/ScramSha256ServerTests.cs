using System.Text;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Security;

namespace PgPoolConsole.Tests.Security;

public sealed class ScramSha256ServerTests
{
    private static readonly byte[] RfcSalt = Convert.FromBase64String("W22ZaJ0SNY7soEsUEjb6gQ==");

    // RFC 7677 section 3: user "user", password "pencil"; the server's side of the same exchange.
    [Fact]
    public void Exchange_MatchesRfc7677TestVector()
    {
        var server = new ScramSha256Server(ScramVerifier.Create("pencil", 4096, RfcSalt), "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0");

        var serverFirst = server.ServerFirstMessage(Encoding.UTF8.GetBytes("n,,n=user,r=rOprNGfwEbeRWgbNEkqO"));
        var serverFinal = server.VerifyClientFinal(Encoding.UTF8.GetBytes("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ="));

        Assert.Equal("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", Encoding.UTF8.GetString(serverFirst));
        Assert.Equal("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=", Encoding.UTF8.GetString(serverFinal!));
        Assert.NotNull(server.ClientKey);
    }

    [Fact]
    public void WrongPassword_IsNotVerified()
    {
        var server = new ScramSha256Server(ScramVerifier.Create("right"));
        var client = new ScramSha256Client("wrong");

        var serverFirst = server.ServerFirstMessage(client.ClientFirstMessage());

        Assert.Null(server.VerifyClientFinal(client.ClientFinalMessage(serverFirst)));
        Assert.Null(server.ClientKey);
    }

    [Fact]
    public void ClientKeyFromProof_LogsInToAServerWithTheSameSecret()
    {
        // The proxy verifies a client, then uses the recovered ClientKey against a backend that
        // stores the same secret: no password anywhere.
        var verifier = ScramVerifier.Create("pencil");
        var proxy = new ScramSha256Server(verifier);
        var client = new ScramSha256Client("pencil");
        Assert.NotNull(proxy.VerifyClientFinal(client.ClientFinalMessage(proxy.ServerFirstMessage(client.ClientFirstMessage()))));

        var backend = new ScramSha256Server(ScramVerifier.Parse(verifier.ToString()));
        var passThrough = new ScramSha256Client(verifier, proxy.ClientKey!);
        var backendFinal = backend.VerifyClientFinal(passThrough.ClientFinalMessage(backend.ServerFirstMessage(passThrough.ClientFirstMessage())));

        Assert.NotNull(backendFinal);
        passThrough.VerifyServerFinal(backendFinal);
    }

    [Fact]
    public void PassThrough_ToAServerWithAnotherSalt_IsRefused()
    {
        var verifier = ScramVerifier.Create("pencil");
        var proxy = new ScramSha256Server(verifier);
        var client = new ScramSha256Client("pencil");
        proxy.VerifyClientFinal(client.ClientFinalMessage(proxy.ServerFirstMessage(client.ClientFirstMessage())));

        var backend = new ScramSha256Server(ScramVerifier.Create("pencil"));
        var passThrough = new ScramSha256Client(verifier, proxy.ClientKey!);

        Assert.Throws<ScramSecretMismatchException>(() => passThrough.ClientFinalMessage(backend.ServerFirstMessage(passThrough.ClientFirstMessage())));
    }

    [Fact]
    public void Verifier_RoundTripsPostgresFormat()
    {
        const string Secret = "SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=";

        var verifier = ScramVerifier.Parse(Secret);

        Assert.Equal(Secret, verifier.ToString());
        Assert.True(ScramVerifier.Create("pencil", 4096, RfcSalt).SameSecretAs(verifier));
    }

    [Theory]
    [InlineData("p=tls-server-end-point,,n=,r=abc", "channel binding")]
    [InlineData("x,,n=,r=abc", "channel-binding flag")]
    [InlineData("n,,n=", "nonce")]
    public void MalformedClientFirst_IsAProtocolError(string message, string expected)
    {
        var server = new ScramSha256Server(ScramVerifier.Create("x"));

        var error = Assert.Throws<ScramException>(() => server.ServerFirstMessage(Encoding.UTF8.GetBytes(message)));

        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void ClientFinal_WithAnotherNonce_IsAProtocolError()
    {
        var server = new ScramSha256Server(ScramVerifier.Create("x"), "SERVER");
        server.ServerFirstMessage(Encoding.UTF8.GetBytes("n,,n=,r=client"));

        Assert.Throws<ScramException>(() => server.VerifyClientFinal(Encoding.UTF8.GetBytes("c=biws,r=clientOTHER,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")));
    }
}
