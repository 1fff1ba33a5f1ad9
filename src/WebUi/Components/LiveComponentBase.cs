using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Authorization;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.WebUi.Components;

/// <summary>
/// A page that follows live data: subscriptions are applied in batches (~100 ms, one render
/// per batch) and polled counters on a timer; every loop stops when the page is disposed.
/// </summary>
public abstract class LiveComponentBase : ComponentBase, IDisposable
{
    /// <summary>How long changes are gathered before one render.</summary>
    protected static readonly TimeSpan BatchWindow = TimeSpan.FromMilliseconds(100);

    private readonly CancellationTokenSource _stop = new();
    private bool _disposed;

    [Inject]
    protected IDashboardClient Client { get; set; } = default!;

    [CascadingParameter]
    private Task<AuthenticationState>? AuthenticationState { get; set; }

    /// <summary>Cancelled when the page goes away.</summary>
    protected CancellationToken Stopping => _stop.Token;

    /// <summary>Applies every batch of changes of <paramref name="subscription"/> and renders; disposes the subscription at the end.</summary>
    protected void Follow<TSnapshot, TChange>(LiveSubscription<TSnapshot, TChange> subscription, Action<IReadOnlyList<TChange>> apply) =>
        _ = RunAsync(async () =>
        {
            using (subscription)
            {
                await foreach (var batch in subscription.ReadBatchesAsync(BatchWindow, Stopping))
                {
                    await InvokeAsync(() =>
                    {
                        apply(batch);
                        StateHasChanged();
                    });
                }
            }
        });

    /// <summary>The recoveries (latest first), kept current with every progress change while the page lives.</summary>
    protected List<RecoveryProgress> FollowRecoveries()
    {
        var subscription = Client.SubscribeRecoveries();
        List<RecoveryProgress> recoveries = [.. subscription.Snapshot];
        Follow(subscription, batch =>
        {
            foreach (var progress in batch)
            {
                var index = recoveries.FindIndex(r => r.JobId == progress.JobId);
                if (index >= 0)
                {
                    recoveries[index] = progress;
                }
                else
                {
                    recoveries.Insert(0, progress);
                }
            }
        });
        return recoveries;
    }

    /// <summary>Runs <paramref name="refresh"/> and renders every <paramref name="interval"/> (for counters that have no feed).</summary>
    protected void Every(TimeSpan interval, Action refresh) =>
        _ = RunAsync(async () =>
        {
            using var timer = new PeriodicTimer(interval);
            while (await timer.WaitForNextTickAsync(Stopping))
            {
                await InvokeAsync(() =>
                {
                    refresh();
                    StateHasChanged();
                });
            }
        });

    /// <summary>The logged-in user's name, for the audit log of actions.</summary>
    protected async Task<string> UserNameAsync()
    {
        if (AuthenticationState is null)
        {
            return "?";
        }

        var state = await AuthenticationState;
        return state.User.Identity?.Name ?? "?";
    }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (disposing)
        {
            _stop.Cancel();
            _stop.Dispose();
        }
    }

    private static async Task RunAsync(Func<Task> loop)
    {
        try
        {
            await loop();
        }
        catch (OperationCanceledException)
        {
            // The page went away.
        }
        catch (ObjectDisposedException)
        {
            // The circuit went away while a render was queued.
        }
    }
}
