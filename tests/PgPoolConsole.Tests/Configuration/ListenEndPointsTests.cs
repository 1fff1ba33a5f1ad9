using System.Net;
using PgPoolConsole.Api.Hosting;

namespace PgPoolConsole.Tests.Configuration;

public sealed class ListenEndPointsTests
{
    [Fact]
    public void Star_IsOneDualStackWildcard_WhateverElseIsListed()
    {
        Assert.Equal([IPAddress.IPv6Any], ListenEndPoints.Addresses("127.0.0.1, *"));
    }

    [Fact]
    public void Localhost_IsBothLoopbacks_AndRepeatsAreBoundOnce()
    {
        Assert.Equal([IPAddress.Loopback, IPAddress.IPv6Loopback], ListenEndPoints.Addresses("localhost, 127.0.0.1,::1"));
    }

    [Fact]
    public void Addresses_AreTakenAsWritten()
    {
        Assert.Equal([IPAddress.Parse("127.0.0.2"), IPAddress.IPv6Loopback], ListenEndPoints.Addresses(" 127.0.0.2 , ::1 "));
    }

    [Fact]
    public void ClientEndPoint_MapsIPv4OnTheDualStackSocketBackToIPv4_AndLeavesOthersAlone()
    {
        var mapped = new IPEndPoint(IPAddress.Parse("::ffff:10.1.2.3"), 5000);
        var v6 = new IPEndPoint(IPAddress.IPv6Loopback, 5001);

        Assert.Equal(new IPEndPoint(IPAddress.Parse("10.1.2.3"), 5000), ListenEndPoints.ClientEndPoint(mapped));
        Assert.Same(v6, ListenEndPoints.ClientEndPoint(v6));
        Assert.Null(ListenEndPoints.ClientEndPoint(null));
    }
}
