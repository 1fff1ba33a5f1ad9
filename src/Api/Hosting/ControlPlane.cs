using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Api.Hosting;

/// <summary>Maps the HTTP control plane: health endpoints and the REST API.</summary>
internal static class ControlPlane
{
    public static void Map(WebApplication app)
    {
        // wwwroot at the repository root is the content root's web root (copied next to the executable).
        app.UseStaticFiles();
        app.UseAntiforgery();
        app.MapStaticAssets();
        app.MapRazorComponents<WebUi.Components.App>().AddInteractiveServerRenderMode();

        // Patroni-style health: 200 when the proxy serves and at least one node is attached.
        app.MapGet("/health", (ClusterStateStore store) =>
        {
            var snapshot = store.Current;
            var usable = snapshot.UsableCount;
            return Results.Json(new
            {
                status = usable > 0 ? "ok" : "unavailable",
                usable_nodes = usable,
                main_node_id = snapshot.MainNodeId,
            }, statusCode: usable > 0 ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);
        });
    }
}
