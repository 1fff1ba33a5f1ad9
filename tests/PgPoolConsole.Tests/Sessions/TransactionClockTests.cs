using PgPoolConsole.Proxy.Sessions;

namespace PgPoolConsole.Tests.Sessions;

public sealed class TransactionClockTests
{
    private readonly TransactionClock _clock = new();

    [Fact]
    public void TheFirstValueOfATransaction_IsUsedForAllItsWrites()
    {
        Assert.Null(_clock.Use());
        _clock.Missed();

        Assert.Equal("t1", _clock.Store("t1"));
        Assert.Equal("t1", _clock.Store("t2"));
        Assert.Equal("t1", _clock.Use());

        _clock.TransactionEnded();
        Assert.Null(_clock.Use());
    }

    [Fact]
    public void ATransactionThatNeededTheClock_HasTheNextOnesReadItWithBegin()
    {
        Assert.False(_clock.PrefetchWithBegin);

        _clock.Missed();
        _clock.Store("t1");
        _clock.TransactionEnded();

        Assert.True(_clock.PrefetchWithBegin);
    }

    [Fact]
    public void AValueReadWithBegin_IsUsedWithoutAnotherRead_AndKeepsThePrefetchWhileUsed()
    {
        _clock.Missed();
        _clock.TransactionEnded();

        _clock.StoreReadWithBegin("t2");
        Assert.Equal("t2", _clock.Use());
        _clock.TransactionEnded();

        Assert.True(_clock.PrefetchWithBegin);
    }

    [Fact]
    public void ATransactionThatDidNotUseTheValueReadWithBegin_StopsThePrefetch()
    {
        _clock.Missed();
        _clock.TransactionEnded();

        _clock.StoreReadWithBegin("t3");
        _clock.TransactionEnded();

        Assert.False(_clock.PrefetchWithBegin);
        Assert.Null(_clock.Value);
    }
}
