using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using PgPoolConsole.Api.ControlPlane;
using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.Tests.ControlPlane;

public sealed class ControlPlaneLoginTests : IDisposable
{
    private readonly string _pcpConf = Path.Combine(Path.GetTempPath(), $"pgpc-pcp-{Guid.NewGuid():N}.conf");
    private readonly FakeTimeProvider _time = new(DateTimeOffset.Parse("2026-11-26T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
    private readonly ControlPlaneLogin _login;

    public ControlPlaneLoginTests()
    {
        File.WriteAllText(_pcpConf, $"admin:{PgMd5.Hex("secret")}\n");
        _login = CreateLogin(new PgPoolOptions { ControlPlaneMaxFailedLogins = 3, ControlPlaneApiToken = "tok" });
    }

    public void Dispose() => File.Delete(_pcpConf);

    [Fact]
    public void Check_Pcpconf_UserAndMd5OfThePassword()
    {
        Assert.Equal(LoginOutcome.Succeeded, _login.Check("admin", "secret", "10.0.0.1"));
        Assert.Equal(LoginOutcome.Failed, _login.Check("admin", "Secret", "10.0.0.1"));
        Assert.Equal(LoginOutcome.Failed, _login.Check("nobody", "secret", "10.0.0.1"));
        Assert.Equal(LoginOutcome.Succeeded, _login.CheckToken("tok", "10.0.0.1"));
        Assert.Equal(LoginOutcome.Failed, _login.CheckToken("tok2", "10.0.0.1"));
    }

    [Fact]
    public void Check_ThreeFailuresWithinAMinute_LockTheAddressOutForAMinuteEvenWithTheRightPassword()
    {
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(LoginOutcome.Failed, _login.Check("admin", "guess" + i, "10.0.0.2"));
            _time.Advance(TimeSpan.FromSeconds(10));
        }

        Assert.Equal(LoginOutcome.LockedOut, _login.Check("admin", "secret", "10.0.0.2"));
        Assert.Equal(LoginOutcome.LockedOut, _login.CheckToken("tok", "10.0.0.2"));
        Assert.Equal(LoginOutcome.Succeeded, _login.Check("admin", "secret", "10.0.0.3"));
        Assert.Equal(TimeSpan.FromSeconds(50), _login.LockedOutFor("10.0.0.2"));

        _time.Advance(TimeSpan.FromSeconds(51));
        Assert.Equal(LoginOutcome.Succeeded, _login.Check("admin", "secret", "10.0.0.2"));
    }

    [Fact]
    public void Check_FailuresSpreadOverMoreThanAMinute_DoNotLockOut()
    {
        for (var i = 0; i < 6; i++)
        {
            Assert.Equal(LoginOutcome.Failed, _login.Check("admin", "guess", "10.0.0.4"));
            _time.Advance(TimeSpan.FromSeconds(31));
        }

        Assert.Equal(LoginOutcome.Succeeded, _login.Check("admin", "secret", "10.0.0.4"));
    }

    [Fact]
    public void Check_NoTokenConfigured_EveryTokenFails()
    {
        var login = CreateLogin(new PgPoolOptions());

        Assert.Equal(LoginOutcome.Failed, login.CheckToken("", "10.0.0.5"));
        Assert.Equal(LoginOutcome.Failed, login.CheckToken("anything", "10.0.0.5"));
    }

    private ControlPlaneLogin CreateLogin(PgPoolOptions options)
    {
        var loaded = new LoadedConfiguration(options, null, _pcpConf, [], [], []);
        return new ControlPlaneLogin(new PcpUsers(loaded, NullLogger<PcpUsers>.Instance), new OptionsHolder(options), new LoginThrottle(_time), NullLogger<ControlPlaneLogin>.Instance);
    }
}
