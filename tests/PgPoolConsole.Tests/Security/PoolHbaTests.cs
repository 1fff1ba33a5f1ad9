using System.Net;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Security;

namespace PgPoolConsole.Tests.Security;

public sealed class PoolHbaTests
{
    private static readonly IPAddress Loopback = IPAddress.Loopback;

    [Fact]
    public void FirstMatchingLineDecides()
    {
        var hba = PoolHba.Parse("""
            # TYPE  DATABASE  USER   ADDRESS        METHOD
            local   all       all                   trust
            host    all       eve    0.0.0.0/0      reject
            hostssl sales     all    10.0.0.0/8     scram-sha-256
            host    all       all    10.1.0.0 255.255.0.0 md5
            host    "all",db2 alice,"bob smith" 127.0.0.1/32 password
            host    all       all    ::1/128        md5
            host    sameuser  all    all            trust
            """, "pool_hba.conf");

        Assert.Equal(HbaMethod.Trust, hba.Find(null, false, "x", "eve")!.Method);
        Assert.Equal(HbaMethod.Reject, hba.Find(Loopback, true, "x", "eve")!.Method);
        Assert.Equal(HbaMethod.ScramSha256, hba.Find(IPAddress.Parse("10.1.2.3"), true, "sales", "u")!.Method);
        Assert.Equal(HbaMethod.Md5, hba.Find(IPAddress.Parse("10.1.2.3"), false, "sales", "u")!.Method);
        Assert.Null(hba.Find(IPAddress.Parse("10.2.2.3"), false, "sales", "u"));
        Assert.Equal(HbaMethod.Password, hba.Find(Loopback, false, "all", "bob smith")!.Method); // "all" quoted is a name
        Assert.Equal(HbaMethod.Password, hba.Find(Loopback, false, "db2", "alice")!.Method);
        Assert.Null(hba.Find(Loopback, false, "db3", "alice"));
        Assert.Equal(HbaMethod.Md5, hba.Find(IPAddress.IPv6Loopback, false, "x", "u")!.Method);
        Assert.Equal(HbaMethod.Trust, hba.Find(IPAddress.Parse("192.168.0.1"), false, "zed", "zed")!.Method);
        Assert.Equal(8, hba.Find(IPAddress.Parse("192.168.0.1"), false, "zed", "zed")!.LineNumber);
    }

    [Fact]
    public void HostSslAndHostNoSsl_MatchByEncryption()
    {
        var hba = PoolHba.Parse("hostnossl all all 127.0.0.1/32 reject\nhostssl all all 127.0.0.1/32 trust\n", "f");

        Assert.Equal(HbaMethod.Reject, hba.Find(Loopback, false, "d", "u")!.Method);
        Assert.Equal(HbaMethod.Trust, hba.Find(Loopback, true, "d", "u")!.Method);
        Assert.Null(hba.Find(null, true, "d", "u"));
    }

    [Fact]
    public void Ipv4MappedAddresses_MatchIpv4Networks()
    {
        var hba = PoolHba.Parse("host all all 192.168.1.0/24 trust", "f");

        Assert.NotNull(hba.Find(IPAddress.Parse("192.168.1.9").MapToIPv6(), false, "d", "u"));
    }

    [Theory]
    [InlineData("hots all all 127.0.0.1/32 trust", "invalid connection type \"hots\"")]
    [InlineData("host all all 127.0.0.1/33 trust", "invalid CIDR mask")]
    [InlineData("host all all 127.0.0.1 trust", "invalid IP mask \"trust\"")]
    [InlineData("host all all example.com trust", "host names are not supported")]
    [InlineData("host all all 127.0.0.1/32 pam", "\"pam\" is not supported")]
    [InlineData("host all all 127.0.0.1/32 md6", "invalid authentication method \"md6\"")]
    [InlineData("host all +admins 127.0.0.1/32 md5", "group membership")]
    [InlineData("host all all 127.0.0.1/32", "incomplete line")]
    [InlineData("local all all", "incomplete line")]
    [InlineData("host all all 127.0.0.1/32 md5 clientcert=1", "unexpected authentication option")]
    [InlineData("host \"all all 127.0.0.1/32 md5", "unterminated quoted string")]
    public void Errors_NameFileAndLine(string line, string expected)
    {
        var error = Assert.Throws<ConfigException>(() => PoolHba.Parse("# first line\n" + line + "\n", "/etc/pool_hba.conf"));

        Assert.StartsWith("/etc/pool_hba.conf:2: ", error.Message);
        Assert.Contains(expected, error.Message);
    }
}
