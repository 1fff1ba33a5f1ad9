using System.Globalization;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.WebUi.Components.Pages;

/// <summary>
/// Live tail of the log in pgpool's line format: filter by level, node and text; pause (new lines
/// are held, not lost) and resume; download what the filter selects.
/// </summary>
public partial class Log : LiveComponentBase
{
    private const int MaxLines = 1000;

    private readonly List<LogEntry> _lines = [];
    private readonly List<LogEntry> _held = [];
    private List<int> _nodeIds = [];
    private string _prefix = "";
    private bool _paused;
    private CancellationTokenSource? _following;

    private EventLevel Level { get; set; } = EventLevel.Debug;

    private string NodeText { get; set; } = "";

    private string Text { get; set; } = "";

    private LogFilter Filter => new(Level, int.TryParse(NodeText, NumberStyles.None, CultureInfo.InvariantCulture, out var node) ? node : null, Text);

    private string DownloadUrl =>
        $"/api/log/download?level={Proxy.Logging.PgpoolLogLine.LevelName(Level)}&node={Uri.EscapeDataString(NodeText)}&text={Uri.EscapeDataString(Text)}";

    protected override void OnInitialized()
    {
        var cluster = Client.SubscribeCluster();
        _nodeIds = [.. cluster.Snapshot.Nodes.Select(n => n.Id)];
        Follow(cluster, batch => _nodeIds = [.. batch[^1].Nodes.Select(n => n.Id)]);
        Resubscribe();
    }

    /// <summary>Starts over with the current filter: the newest matching lines, then new ones.</summary>
    private void Resubscribe()
    {
        _following?.Cancel();
        _following?.Dispose();
        _following = CancellationTokenSource.CreateLinkedTokenSource(Stopping);
        _prefix = Client.LogLinePrefix;
        var subscription = Client.SubscribeLog(Filter, MaxLines);
        _lines.Clear();
        _held.Clear();
        _lines.AddRange(subscription.Snapshot);
        _ = FollowLogAsync(subscription, _following.Token);
    }

    private async Task FollowLogAsync(LiveSubscription<IReadOnlyList<LogEntry>, LogEntry> subscription, CancellationToken cancellationToken)
    {
        using (subscription)
        {
            try
            {
                await foreach (var batch in subscription.ReadBatchesAsync(BatchWindow, cancellationToken))
                {
                    await InvokeAsync(() =>
                    {
                        Add(_paused ? _held : _lines, batch);
                        StateHasChanged();
                    });
                }
            }
            catch (OperationCanceledException)
            {
                // Filter changed or page closed.
            }
            catch (ObjectDisposedException)
            {
                // The circuit went away.
            }
        }
    }

    private void TogglePause()
    {
        _paused = !_paused;
        if (!_paused)
        {
            Add(_lines, _held);
            _held.Clear();
        }
    }

    private static void Add(List<LogEntry> target, IReadOnlyList<LogEntry> entries)
    {
        target.AddRange(entries);
        if (target.Count > MaxLines)
        {
            target.RemoveRange(0, target.Count - MaxLines);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _following?.Dispose();
        }

        base.Dispose(disposing);
    }
}
