using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Api.ControlPlane;

/// <summary>
/// Health endpoints in Patroni's manner: the status code is the answer (200 or 503), the JSON
/// body explains it. /health: the proxy is accepting clients and at least one node is attached.
/// /health/live: the process serves HTTP and is not shutting down. /health/nodes/{id}: that node
/// is attached (up or waiting).
/// </summary>
public static class HealthEndpoints
{
    public const string Policy = "health";

    public static void MapHealthEndpoints(this IEndpointRouteBuilder app)
    {
        var health = app.MapGroup("/health").WithTags("health").RequireAuthorization(Policy);
        health.MapGet("", (ClusterStateStore store, IHostApplicationLifetime lifetime, ShutdownCoordinator shutdown) =>
            {
                var accepting = Accepting(lifetime, shutdown);
                var snapshot = store.Current;
                var ok = accepting && snapshot.UsableCount > 0;
                return Answer(ok, Describe(store, snapshot, accepting, ok ? "ok" : accepting ? "no node attached" : "shutting down"));
            })
            .WithName("Health").WithSummary("200 when the proxy accepts clients and at least one node is attached, else 503")
            .Produces<HealthResponse>().Produces<HealthResponse>(StatusCodes.Status503ServiceUnavailable);
        health.MapGet("/live", (ClusterStateStore store, IHostApplicationLifetime lifetime, ShutdownCoordinator shutdown) =>
            {
                var accepting = Accepting(lifetime, shutdown);
                return Answer(accepting, Describe(store, store.Current, accepting, accepting ? "ok" : "shutting down"));
            })
            .WithName("Liveness").WithSummary("200 while the process runs and is not shutting down")
            .Produces<HealthResponse>().Produces<HealthResponse>(StatusCodes.Status503ServiceUnavailable);
        health.MapGet("/nodes/{id}", (string id, ClusterStateStore store) =>
            {
                var (nodeId, problem) = RestApi.ParseKnownNodeId(id, store);
                if (nodeId is not { } value || store.Current.Find(value) is not { } node)
                {
                    return problem ?? AdminProblems.UnknownNode(nodeId ?? -1);
                }

                return Answer(node.IsUsable, NodeHealthOf(store, node));
            })
            .WithName("NodeHealth").WithSummary("200 when the node is attached (up or waiting), 503 when it is down")
            .Produces<NodeHealth>().Produces<NodeHealth>(StatusCodes.Status503ServiceUnavailable).ProducesProblem(StatusCodes.Status404NotFound);
    }

    private static bool Accepting(IHostApplicationLifetime lifetime, ShutdownCoordinator shutdown) =>
        lifetime.ApplicationStarted.IsCancellationRequested && !lifetime.ApplicationStopping.IsCancellationRequested && shutdown.Requested is null;

    private static IResult Answer<T>(bool ok, T body) =>
        TypedResults.Json(body, statusCode: ok ? StatusCodes.Status200OK : StatusCodes.Status503ServiceUnavailable);

    private static HealthResponse Describe(ClusterStateStore store, ClusterSnapshot snapshot, bool accepting, string status) =>
        new(status, accepting, snapshot.UsableCount, snapshot.MainNodeId, [.. snapshot.Nodes.Select(n => NodeHealthOf(store, n))]);

    private static NodeHealth NodeHealthOf(ClusterStateStore store, NodeState node)
    {
        var health = store.Statistics(node.Id).Health;
        return new NodeHealth(node.Id, (int)node.Status, node.StatusName, ClusterReports.PgStatus(store, node),
            health.LastHealthCheck is null ? null : health.LastDurationMs, health.LastHealthCheck);
    }
}
