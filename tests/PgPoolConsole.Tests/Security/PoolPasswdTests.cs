using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Security;

namespace PgPoolConsole.Tests.Security;

public sealed class PoolPasswdTests
{
    [Fact]
    public void Parse_ReadsEveryPgpoolFormat()
    {
        var text = $"""
            # comment
            alice:md5{PgMd5.Hex("pw" + "alice")}
            bob:SCRAM-SHA-256$4096:W22ZaJ0SNY7soEsUEjb6gQ==$WG5d8oPm3OtcPnkdi4Uo7BkeZkBFzpcXkuLmtbsT4qY=:wfPLwcE6nTWhTAmQ7tl2KeoiWGPlZqQxSrmfPwDl2dU=
            carol:TEXTc:ol
            dave:AES/37h310I7/RC7ucKQjD3FQ==
            erin:plain
            """;

        var passwd = PoolPasswd.Parse(text, "pool_passwd", () => "my-pool-key");

        Assert.Equal(PasswordKind.Md5, passwd.Find("alice")!.Kind);
        Assert.Equal(PgMd5.Hex("pw" + "alice"), passwd.Find("alice")!.Md5Hash);
        Assert.Equal(4096, passwd.Find("bob")!.Scram!.Iterations);
        Assert.Equal("c:ol", passwd.Find("carol")!.Password);
        Assert.Equal("bob-pw", passwd.Find("dave")!.Password); // made with: printf bob-pw | openssl enc -aes-256-cbc -md sha1 -nosalt -pass pass:my-pool-key -base64
        Assert.Equal("plain", passwd.Find("erin")!.Password);
        Assert.Null(passwd.Find("nobody"));
    }

    [Fact]
    public void Aes_RoundTripsAndMatchesPgEnc()
    {
        Assert.Equal("/37h310I7/RC7ucKQjD3FQ==", PoolKey.Encrypt("bob-pw", "my-pool-key"));
        Assert.Equal("secret ünïcode", PoolKey.Decrypt(PoolKey.Encrypt("secret ünïcode", "k"), "k"));
    }

    [Fact]
    public void Parse_ErrorsNameFileAndLine()
    {
        var error = Assert.Throws<ConfigException>(() => PoolPasswd.Parse("ok:TEXTx\nbroken\nz:AESAAAA\n", "/etc/pool_passwd", () => null));

        Assert.Contains("/etc/pool_passwd:2: expected \"user:password\"", error.Message);
        Assert.Contains("/etc/pool_passwd:3: user \"z\": the password is AES-encrypted but no pool key", error.Message);
    }

    [Fact]
    public void Aes_WithWrongKey_IsAnError()
    {
        var error = Assert.Throws<ConfigException>(() => PoolPasswd.Parse("dave:AES/37h310I7/RC7ucKQjD3FQ==", "pool_passwd", () => "other-key"));

        Assert.Contains("cannot decrypt", error.Message);
    }

    [Fact]
    public void Update_AddsAndReplacesUsers()
    {
        var path = Path.Combine(Path.GetTempPath(), $"pool_passwd_{Guid.NewGuid():N}");
        try
        {
            PoolPasswd.Update(path, "a", "TEXTone");
            PoolPasswd.Update(path, "b", "TEXTtwo");
            PoolPasswd.Update(path, "a", "TEXTthree");

            Assert.Equal(["a:TEXTthree", "b:TEXTtwo"], File.ReadAllLines(path));
            if (!OperatingSystem.IsWindows())
            {
                Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
