using System.Text;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Tests.Protocol;

public sealed class ScramSha256ClientTests
{
    // The test vector of RFC 7677 section 3 (user "user", password "pencil").
    [Fact]
    public void Exchange_MatchesRfc7677TestVector()
    {
        var client = new ScramSha256Client("pencil", "rOprNGfwEbeRWgbNEkqO", "user");
        Assert.Equal("n,,n=user,r=rOprNGfwEbeRWgbNEkqO", Encoding.UTF8.GetString(client.ClientFirstMessage()));

        var serverFirst = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
        var final = Encoding.UTF8.GetString(client.ClientFinalMessage(Encoding.UTF8.GetBytes(serverFirst)));

        Assert.Equal("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=", final);
        client.VerifyServerFinal(Encoding.UTF8.GetBytes("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="));
    }

    [Fact]
    public void VerifyServerFinal_WrongSignature_IsRejected()
    {
        var client = new ScramSha256Client("pencil", "rOprNGfwEbeRWgbNEkqO", "user");
        client.ClientFirstMessage();
        client.ClientFinalMessage(Encoding.UTF8.GetBytes("r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"));

        var wrong = Assert.Throws<PgProtocolException>(() => client.VerifyServerFinal(Encoding.UTF8.GetBytes("v=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")));
        Assert.Contains("server signature", wrong.Message);
    }

    [Fact]
    public void ClientFinal_NonceNotExtendingClientNonce_IsRejected()
    {
        var client = new ScramSha256Client("pencil", "abc");
        client.ClientFirstMessage();

        var error = Assert.Throws<PgProtocolException>(() => client.ClientFinalMessage(Encoding.UTF8.GetBytes("r=zzz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096")));
        Assert.Contains("nonce", error.Message);
    }

    [Fact]
    public void Md5Response_MatchesPostgresFormula()
    {
        // md5(md5("secret" + "alice") + salt), prefixed with "md5".
        var inner = PgMd5.Hex("secretalice");
        var salt = new byte[] { 1, 2, 3, 4 };
        var expected = "md5" + PgMd5.Hex([.. Encoding.ASCII.GetBytes(inner), .. salt]);

        Assert.Equal(expected, PgMd5.PasswordResponse("alice", "secret", salt));
        Assert.Equal(35, expected.Length);
    }
}
