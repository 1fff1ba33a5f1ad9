namespace PgPoolConsole.Tests.Infrastructure;

/// <summary>Waits for a condition that becomes true asynchronously (a session ending, a node going down).</summary>
public static class Eventually
{
    public static Task TrueAsync(Func<bool> condition, TimeSpan timeout, string because) =>
        TrueAsync(condition, timeout, () => because);

    /// <summary>The same, with a failure message made when it fails (to say what the state was then).</summary>
    public static async Task TrueAsync(Func<bool> condition, TimeSpan timeout, Func<string> because)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"not true within {timeout.TotalSeconds:0.#} s: {because()}");
            }

            await Task.Delay(25);
        }
    }

    /// <summary>The same for a condition that must be checked asynchronously (a query), every 200 ms.</summary>
    public static async Task TrueAsync(Func<Task<bool>> condition, TimeSpan timeout, string because)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"not true within {timeout.TotalSeconds:0.#} s: {because}");
            }

            await Task.Delay(200);
        }
    }
}
