using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Api.ControlPlane;

/// <summary>Turns refused or failed actions (<see cref="AdminError"/>) and bad input into RFC 7807 problem details.</summary>
public static class AdminProblems
{
    /// <summary>
    /// UnknownNode 404; InvalidState, LastNode and Busy (e.g. a recovery already running) 409: the
    /// request is fine but the cluster's state forbids it; Unreachable 502: the node did not
    /// answer; NotSupported 501; Failed 500.
    /// </summary>
    public static int StatusOf(AdminError error) => error switch
    {
        AdminError.None => StatusCodes.Status200OK,
        AdminError.UnknownNode => StatusCodes.Status404NotFound,
        AdminError.InvalidState or AdminError.LastNode or AdminError.Busy => StatusCodes.Status409Conflict,
        AdminError.Unreachable => StatusCodes.Status502BadGateway,
        AdminError.NotSupported => StatusCodes.Status501NotImplemented,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>The problem type: a URN naming the error (urn:pgpoolconsole:last-node).</summary>
    public static string TypeOf(AdminError error) => "urn:pgpoolconsole:" + error switch
    {
        AdminError.UnknownNode => "unknown-node",
        AdminError.InvalidState => "invalid-state",
        AdminError.LastNode => "last-node",
        AdminError.Busy => "busy",
        AdminError.Unreachable => "unreachable",
        AdminError.NotSupported => "not-supported",
        _ => "failed",
    };

    public static IResult Problem(AdminResult result) => TypedResults.Problem(
        title: result.Message,
        detail: result.Detail,
        statusCode: StatusOf(result.Error),
        type: TypeOf(result.Error));

    public static IResult UnknownNode(int nodeId) =>
        Problem(new AdminResult(AdminError.UnknownNode, $"node id {nodeId} is not configured"));

    /// <summary>400 naming the field that is wrong.</summary>
    public static IResult BadInput(string field, string message) =>
        TypedResults.ValidationProblem(new Dictionary<string, string[]> { [field] = [message] }, title: $"invalid {field}");
}
