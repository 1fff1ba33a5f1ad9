using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Tests.Configuration;

public class PcpConfFileTests
{
    private const string PostgresMd5 = "e8a48653851e28c69d0506508fb27fc5";

    [Fact]
    public void Md5Hex_OfPostgres_IsWhatPgMd5Prints()
    {
        // The seed tutorial's "pg_md5 -p" output for the password postgres.
        Assert.Equal(PostgresMd5, PgMd5.Hex("postgres"));
    }

    [Fact]
    public void Md5Hex_HashesUtf8Bytes()
    {
        Assert.Equal("d41d8cd98f00b204e9800998ecf8427e", PgMd5.Hex(""));
        Assert.Equal("12841e4ba5e37d2fbfc78458c6714ade", PgMd5.Hex("pässwörd"));
    }

    [Fact]
    public void Parse_UsersCommentsAndBlankLines_ReturnsUsersWithTheirLines()
    {
        var text = $"# USERID:MD5PASSWD\n\npostgres:{PostgresMd5}\r\n  # indented comment\nadmin:{PgMd5.Hex("admin")}\n";

        var pcp = PcpConfFile.Parse(text, "pcp.conf");

        Assert.Equal([new PcpUser("postgres", PostgresMd5, 3), new PcpUser("admin", PgMd5.Hex("admin"), 5)], pcp.Users);
        Assert.Empty(pcp.Warnings);
    }

    [Fact]
    public void Parse_EmptyFile_HasNoUsers()
    {
        Assert.Empty(PcpConfFile.Parse("", "pcp.conf").Users);
    }

    [Theory]
    [InlineData("postgres", "pcp.conf:2: expected \"user:md5hash\" (the hash as printed by pg_md5), but the line has no ':'")]
    [InlineData("postgres:secret", "pcp.conf:2: the password of user \"postgres\" must be an MD5 hash of 32 lower-case hex digits (as printed by pg_md5), not \"secret\"")]
    [InlineData("postgres:E8A48653851E28C69D0506508FB27FC5", "pcp.conf:2: the password of user \"postgres\" must be an MD5 hash of 32 lower-case hex digits (as printed by pg_md5), not \"E8A48653851E28C69D0506508FB27FC5\"")]
    [InlineData("postgres:e8a48653851e28c69d0506508fb27fc5 ", "pcp.conf:2: the password of user \"postgres\" must be an MD5 hash of 32 lower-case hex digits (as printed by pg_md5), not \"e8a48653851e28c69d0506508fb27fc5 \"")]
    [InlineData("postgres:md5e8a48653851e28c69d0506508fb27fc5", "pcp.conf:2: the password of user \"postgres\" must be an MD5 hash of 32 lower-case hex digits (as printed by pg_md5), not \"md5e8a48653851e28c69d0506508fb27fc5\"")]
    public void Parse_MalformedLine_NamesFileAndLine(string line, string message)
    {
        var error = Assert.Throws<ConfigException>(() => PcpConfFile.Parse("# users\n" + line + "\n", "pcp.conf"));

        Assert.Equal(message, error.Message);
    }

    [Fact]
    public void Parse_SeveralMalformedLines_ReportsThemAll()
    {
        var error = Assert.Throws<ConfigException>(() => PcpConfFile.Parse($"a\nok:{PostgresMd5}\nb:123\n", "pcp.conf"));

        Assert.Equal([1, 3], error.Errors.Select(e => e.Line));
    }

    [Fact]
    public void Parse_UserWithSurroundingSpaces_KeepsThemAndWarns()
    {
        var pcp = PcpConfFile.Parse($" postgres :{PostgresMd5}\n", "pcp.conf");

        Assert.Equal(" postgres ", Assert.Single(pcp.Users).User);
        Assert.Equal(
            "pcp.conf:1: user name \" postgres \" has spaces around it; they are part of the name, as in pgpool-II",
            Assert.Single(pcp.Warnings).ToString());
    }

    [Fact]
    public void Parse_UserListedTwice_Warns()
    {
        var pcp = PcpConfFile.Parse($"postgres:{PostgresMd5}\npostgres:{PgMd5.Hex("other")}\n", "pcp.conf");

        Assert.Equal(2, pcp.Users.Count);
        Assert.Equal("pcp.conf:2: user \"postgres\" is also listed at line 1", Assert.Single(pcp.Warnings).ToString());
    }
}
