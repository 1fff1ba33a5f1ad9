using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.WebUi.Model;

/// <summary>Keeps a page's list of recoveries (latest first) current with progress changes.</summary>
public static class RecoveryList
{
    public static void Apply(List<RecoveryProgress> recoveries, RecoveryProgress progress)
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
}
