namespace PgPoolConsole.Api.Hosting;

/// <summary>
/// The proxy's socket continuations run on the runtime's socket (epoll) threads, one per core,
/// instead of being handed to the thread pool, and Kestrel's connection pipes resume the proxy
/// inline (ProductHost). A proxied statement then costs no thread switch: measured with pgbench
/// on two cores, proxy CPU per select-only statement 0.096 -> 0.06 ms, context switches per
/// statement 2.5 -> 1.2 (docs/benchmarks.md). It is how an event-loop proxy such as PgBouncer
/// works. The price: code that blocks one of those threads stalls the other connections it
/// serves, so the proxy never blocks a thread and HTTP requests hop to the thread pool first
/// (ControlPlaneServices.MapControlPlane). DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=0 in the
/// environment turns it off. The test process leaves it off: test code blocks threads freely.
/// </summary>
internal static class InlineSocketIo
{
    private const string Variable = "DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS";

    /// <summary>
    /// Turns inline completions on unless the environment says otherwise. The runtime reads the
    /// variable when the first socket is made: this must run before that.
    /// </summary>
    public static void EnableUnlessConfigured()
    {
        if (Environment.GetEnvironmentVariable(Variable) is null)
        {
            Environment.SetEnvironmentVariable(Variable, "1");
        }
    }
}
