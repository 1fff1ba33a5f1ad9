using System.Globalization;
using System.Security.Claims;
using System.Text.Json;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.HttpResults;
using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.Api.ControlPlane;

/// <summary>
/// The REST API under /api: nodes and their actions, recoveries, sessions, the log, the
/// configuration and consistency checks. Reads come from the cluster state store; actions go
/// through <see cref="IDashboardClient"/> to <see cref="IClusterAdministration"/>.
/// </summary>
public static class RestApi
{
    private const int MaxLogPage = 5000;

    public static void MapRestApi(this IEndpointRouteBuilder app)
    {
        var api = app.MapGroup("/api").WithTags("cluster").AddEndpointFilter<CookieAntiforgeryFilter>();

        api.MapGet("/nodes", (ClusterStateStore store) => TypedResults.Ok(NodeInfos(store)))
            .WithName("ListNodes").WithSummary("Every configured node: status, role, weight, select count, health-check statistics");
        api.MapGet("/nodes/{id}", GetNode)
            .WithName("GetNode").WithSummary("One node").ProducesProblem(StatusCodes.Status404NotFound).ProducesValidationProblem();
        api.MapPost("/nodes/{id}/attach", AttachAsync)
            .WithName("AttachNode").WithSummary("Attach a detached node (failback) after checking that it answers")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status502BadGateway).ProducesValidationProblem();
        api.MapPost("/nodes/{id}/detach", DetachAsync)
            .WithName("DetachNode").WithSummary("Detach a node (failover); graceful=true waits for transaction boundaries; the last attached node is refused (409)")
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesValidationProblem();
        api.MapPost("/nodes/{id}/recover", RecoverAsync)
            .WithName("RecoverNode").WithSummary("Start an online recovery of a detached node; 202 with the job and its Location")
            .Produces<RecoveryAccepted>(StatusCodes.Status202Accepted)
            .ProducesProblem(StatusCodes.Status404NotFound).ProducesProblem(StatusCodes.Status409Conflict).ProducesProblem(StatusCodes.Status501NotImplemented).ProducesValidationProblem();

        api.MapGet("/recoveries", (ClusterStateStore store) => TypedResults.Ok(store.Recovery.All.Select(RecoveryInfo.From).ToList()))
            .WithName("ListRecoveries").WithSummary("Online recoveries, latest first, with per-stage progress and script output");
        api.MapGet("/recoveries/{jobId}", Results<Ok<RecoveryInfo>, ProblemHttpResult> (string jobId, ClusterStateStore store) =>
                store.Recovery.Find(jobId) is { } progress
                    ? TypedResults.Ok(RecoveryInfo.From(progress))
                    : TypedResults.Problem(title: $"recovery {jobId} is not known", statusCode: StatusCodes.Status404NotFound, type: "urn:pgpoolconsole:unknown-recovery"))
            .WithName("GetRecovery").WithSummary("One online recovery");

        api.MapGet("/sessions", (ClusterStateStore store) =>
            {
                var sessions = store.Sessions.List().Select(SessionInfo.From).ToList();
                return TypedResults.Ok(new SessionsResponse(sessions.Count, sessions.Sum(s => s.Backends.Count), sessions));
            })
            .WithName("ListSessions").WithSummary("Client sessions and their pooled backend connections");

        api.MapGet("/log", GetLog)
            .WithName("GetLog").WithSummary("Recent log entries, oldest first; filter by level (minimum), node and text; page with after/before and limit")
            .ProducesValidationProblem();

        api.MapGet("/config", (OptionsHolder options, LoadedConfiguration loaded) => TypedResults.Ok(new ConfigResponse(
                loaded.ConfigFile,
                loaded.PcpFile,
                [.. options.Current.Effective.Select(e => new SettingInfo(e.Name, e.Value, e.Source, e.IsSecret, e.IsDefault, e.NeedsRestart, e.Description))])))
            .WithName("GetConfig").WithSummary("The configuration in effect, secrets masked");
        api.MapPost("/reload", async Task<IResult> (IDashboardClient client, ClaimsPrincipal user, CancellationToken cancellationToken) =>
            {
                var result = await client.ReloadAsync(UserName(user), cancellationToken);
                return result.Succeeded ? TypedResults.Ok(new ActionResponse(result.Message, result.Detail, null)) : AdminProblems.Problem(result);
            })
            .WithName("Reload").WithSummary("Re-read pgpool.conf (as pgpool reload / SIGHUP)").Produces<ActionResponse>().ProducesProblem(StatusCodes.Status500InternalServerError);

        api.MapPost("/consistency-checks", StartConsistencyCheckAsync)
            .WithName("StartConsistencyCheck").WithSummary("Compare row counts and checksums of tables across the attached nodes (a background job)")
            .Accepts<ConsistencyCheckRequest>(isOptional: true, "application/json")
            .Produces<ConsistencyCheckAccepted>(StatusCodes.Status202Accepted).ProducesValidationProblem();
        api.MapGet("/consistency-checks", (ClusterStateStore store) => TypedResults.Ok(store.ConsistencyChecks.All.Select(ConsistencyCheckInfo.From).ToList()))
            .WithName("ListConsistencyChecks").WithSummary("Consistency checks, latest first");
        api.MapGet("/consistency-checks/{id}", Results<Ok<ConsistencyCheckInfo>, ProblemHttpResult> (string id, ClusterStateStore store) =>
                store.ConsistencyChecks.Find(id) is { } check
                    ? TypedResults.Ok(ConsistencyCheckInfo.From(check))
                    : TypedResults.Problem(title: $"consistency check {id} is not known", statusCode: StatusCodes.Status404NotFound, type: "urn:pgpoolconsole:unknown-consistency-check"))
            .WithName("GetConsistencyCheck").WithSummary("One consistency check and its results so far");

        api.MapGet("/log/download", DownloadLog)
            .WithName("DownloadLog").WithSummary("The log as text, one line per entry in pgpool's format (same filters as /api/log)")
            .Produces<string>(contentType: "text/plain").ProducesValidationProblem();
    }

    internal static List<NodeInfo> NodeInfos(ClusterStateStore store) =>
        [.. NodeView.AllOf(store, store.Current).Select(NodeInfo.From)];

    internal static string UserName(ClaimsPrincipal user) => user.Identity?.Name ?? "?";

    /// <summary>Parses a node id from the route; null with a 400 naming "id" when it is not a number.</summary>
    internal static (int? Id, IResult? Problem) ParseNodeId(string id) =>
        int.TryParse(id, NumberStyles.None, CultureInfo.InvariantCulture, out var nodeId)
            ? (nodeId, null)
            : (null, AdminProblems.BadInput("id", $"\"{id}\" is not a node id (a number from 0)"));

    /// <summary>A configured node's id from the route; else a 400 naming "id" or a 404.</summary>
    internal static (int? Id, IResult? Problem) ParseKnownNodeId(string id, ClusterStateStore store)
    {
        var (nodeId, problem) = ParseNodeId(id);
        return nodeId is { } value && store.Current.Find(value) is null ? (null, AdminProblems.UnknownNode(value)) : (nodeId, problem);
    }

    private static IResult GetNode(string id, ClusterStateStore store)
    {
        var (nodeId, problem) = ParseKnownNodeId(id, store);
        var snapshot = store.Current;
        return nodeId is { } value && snapshot.Find(value) is { } node
            ? TypedResults.Ok(NodeInfo.From(NodeView.Of(store, snapshot, node)))
            : problem ?? AdminProblems.UnknownNode(nodeId ?? -1);
    }

    private static Task<IResult> AttachAsync(string id, ClusterStateStore store, IDashboardClient client, ClaimsPrincipal user, CancellationToken cancellationToken) =>
        NodeActionAsync(id, store, (nodeId, name) => client.AttachAsync(nodeId, name, cancellationToken), user);

    /// <param name="graceful">true: wait for transaction boundaries before detaching (default false).</param>
    private static Task<IResult> DetachAsync(string id, string? graceful, ClusterStateStore store, IDashboardClient client, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        // Bound by hand: a value ASP.NET cannot bind would be a 400 that does not name the field.
        var wait = false;
        if (!string.IsNullOrEmpty(graceful) && !bool.TryParse(graceful, out wait))
        {
            return Task.FromResult(AdminProblems.BadInput("graceful", $"\"{graceful}\" is not true or false"));
        }

        return NodeActionAsync(id, store, (nodeId, name) => client.DetachAsync(nodeId, wait, name, cancellationToken), user);
    }

    private static async Task<IResult> NodeActionAsync(string id, ClusterStateStore store, Func<int, string, Task<AdminResult>> action, ClaimsPrincipal user)
    {
        var (nodeId, problem) = ParseKnownNodeId(id, store);
        if (nodeId is not { } value)
        {
            return problem!;
        }

        var result = await action(value, UserName(user));
        if (!result.Succeeded)
        {
            return AdminProblems.Problem(result);
        }

        var snapshot = store.Current;
        var node = snapshot.Find(value);
        return TypedResults.Ok(new ActionResponse(result.Message, result.Detail, node is null ? null : NodeInfo.From(NodeView.Of(store, snapshot, node))));
    }

    private static async Task<IResult> RecoverAsync(string id, ClusterStateStore store, IDashboardClient client, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var (nodeId, problem) = ParseKnownNodeId(id, store);
        if (nodeId is not { } value)
        {
            return problem!;
        }

        var (result, jobId) = await client.StartRecoveryAsync(value, UserName(user), cancellationToken);
        if (!result.Succeeded || jobId is null)
        {
            return AdminProblems.Problem(result.Succeeded ? new AdminResult(AdminError.Failed, "the recovery started without a job id") : result);
        }

        var location = $"/api/recoveries/{Uri.EscapeDataString(jobId)}";
        return TypedResults.Accepted(location, new RecoveryAccepted(jobId, value, location));
    }

    private static async Task<IResult> StartConsistencyCheckAsync(HttpRequest http, IOptions<JsonOptions> json, IDashboardClient client, ClaimsPrincipal user, CancellationToken cancellationToken)
    {
        var (request, bodyProblem) = await ReadOptionalJsonAsync<ConsistencyCheckRequest>(http, json.Value.SerializerOptions, cancellationToken);
        if (bodyProblem is not null)
        {
            return bodyProblem;
        }

        var chunkRows = request?.ChunkRows ?? 10000;
        if (chunkRows < 1)
        {
            return AdminProblems.BadInput("chunkRows", "must be at least 1");
        }

        if (request?.Databases?.FirstOrDefault(string.IsNullOrWhiteSpace) is not null)
        {
            return AdminProblems.BadInput("databases", "names must not be empty");
        }

        if (request?.Tables?.FirstOrDefault(string.IsNullOrWhiteSpace) is not null)
        {
            return AdminProblems.BadInput("tables", "names must not be empty");
        }

        var (result, checkId) = await client.StartConsistencyCheckAsync(
            new ConsistencyRequest(request?.Databases ?? [], request?.Tables ?? [], chunkRows), UserName(user), cancellationToken);
        if (!result.Succeeded || checkId is null)
        {
            return AdminProblems.Problem(result.Succeeded ? new AdminResult(AdminError.Failed, "the check started without an id") : result);
        }

        var location = $"/api/consistency-checks/{Uri.EscapeDataString(checkId)}";
        return TypedResults.Accepted(location, new ConsistencyCheckAccepted(checkId, location));
    }

    /// <summary>
    /// Reads an optional JSON body by hand: a body ASP.NET cannot bind would be a 400 that does not
    /// name the field. No body is null; bad JSON is a 400 naming the field at fault ("body" when
    /// the JSON itself is broken).
    /// </summary>
    internal static async Task<(T? Value, IResult? Problem)> ReadOptionalJsonAsync<T>(HttpRequest http, JsonSerializerOptions options, CancellationToken cancellationToken)
        where T : class
    {
        const int MaxBody = 64 * 1024;
        if (http.ContentLength > MaxBody)
        {
            return (null, AdminProblems.BadInput("body", $"must be at most {MaxBody} bytes"));
        }

        using var buffer = new MemoryStream();
        await http.Body.CopyToAsync(buffer, cancellationToken);
        if (buffer.Length == 0)
        {
            return (null, null);
        }

        if (buffer.Length > MaxBody)
        {
            return (null, AdminProblems.BadInput("body", $"must be at most {MaxBody} bytes"));
        }

        if (!http.HasJsonContentType())
        {
            return (null, AdminProblems.BadInput("body", "must be application/json"));
        }

        try
        {
            return (JsonSerializer.Deserialize<T>(buffer.GetBuffer().AsSpan(0, (int)buffer.Length), options), null);
        }
        catch (JsonException e)
        {
            var field = e.Path is { Length: > 2 } path && path.StartsWith("$.", StringComparison.Ordinal) ? path[2..] : "body";
            return (null, AdminProblems.BadInput(field, field == "body" ? "is not valid JSON" : "is not valid here (wrong type or broken JSON)"));
        }
    }

    /// <summary>Validated log query parameters.</summary>
    internal sealed record LogQuery(LogFilter Filter, long? After, long? Before, int Limit);

    internal static (LogQuery? Query, IResult? Problem) ParseLogQuery(string? level, string? node, string? text, string? after, string? before, string? limit)
    {
        if (!LogFilter.TryParseLevel(level, out var minimum))
        {
            return (null, AdminProblems.BadInput("level", $"\"{level}\" is not a level (DEBUG, LOG, WARNING, ERROR, FATAL)"));
        }

        int? nodeId = null;
        if (!string.IsNullOrEmpty(node))
        {
            if (!int.TryParse(node, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
            {
                return (null, AdminProblems.BadInput("node", $"\"{node}\" is not a node id"));
            }

            nodeId = parsed;
        }

        if (!TryParseOptionalSequence(after, out var afterValue))
        {
            return (null, AdminProblems.BadInput("after", $"\"{after}\" is not a sequence number"));
        }

        if (!TryParseOptionalSequence(before, out var beforeValue))
        {
            return (null, AdminProblems.BadInput("before", $"\"{before}\" is not a sequence number"));
        }

        var count = 200;
        if (!string.IsNullOrEmpty(limit) && (!int.TryParse(limit, NumberStyles.None, CultureInfo.InvariantCulture, out count) || count < 1 || count > MaxLogPage))
        {
            return (null, AdminProblems.BadInput("limit", $"must be a number from 1 to {MaxLogPage}"));
        }

        return (new LogQuery(new LogFilter(minimum, nodeId, string.IsNullOrEmpty(text) ? null : text), afterValue, beforeValue, count), null);
    }

    /// <summary>
    /// The page: after=N gives the oldest entries after N (reading forwards), before=N the newest
    /// before N (reading backwards), neither the newest ones.
    /// </summary>
    internal static List<LogEntry> Page(EventLog log, LogQuery query)
    {
        var filter = query.Filter;
        var all = log.Query(query.After ?? 0, filter.MinimumLevel, filter.NodeId, filter.Text, log.Capacity);
        if (query.Before is { } before)
        {
            var older = all.Where(e => e.Sequence < before).ToList();
            return older.Count > query.Limit ? older.GetRange(older.Count - query.Limit, query.Limit) : older;
        }

        if (query.After is not null)
        {
            return [.. all.Take(query.Limit)];
        }

        return all.Count > query.Limit ? [.. all.Skip(all.Count - query.Limit)] : [.. all];
    }

    private static IResult GetLog(string? level, string? node, string? text, string? after, string? before, string? limit, ClusterStateStore store, OptionsHolder options)
    {
        var (query, problem) = ParseLogQuery(level, node, text, after, before, limit);
        if (query is null)
        {
            return problem!;
        }

        var entries = Page(store.Log, query);
        var prefix = options.Current.LogLinePrefix;
        var lastSequence = store.Log.LastSequence;
        return TypedResults.Ok(new LogPage(
            [.. entries.Select(e => LogEntryInfo.From(e, prefix))],
            lastSequence,
            entries.Count > 0 ? entries[^1].Sequence : query.After ?? lastSequence,
            entries.Count > 0 && entries[0].Sequence > 1 ? entries[0].Sequence : null));
    }

    private static IResult DownloadLog(string? level, string? node, string? text, ClusterStateStore store, OptionsHolder options)
    {
        var (query, problem) = ParseLogQuery(level, node, text, null, null, null);
        if (query is null)
        {
            return problem!;
        }

        var prefix = options.Current.LogLinePrefix;
        var entries = store.Log.Query(0, query.Filter.MinimumLevel, query.Filter.NodeId, query.Filter.Text, store.Log.Capacity);
        var lines = string.Concat(entries.Select(e => e.ToPgpoolLine(prefix) + "\n"));
        var name = string.Create(CultureInfo.InvariantCulture, $"pgpoolconsole-{store.TimeProvider.GetUtcNow():yyyyMMdd-HHmmss}.log");
        return TypedResults.File(System.Text.Encoding.UTF8.GetBytes(lines), "text/plain; charset=utf-8", name);
    }

    private static bool TryParseOptionalSequence(string? text, out long? value)
    {
        value = null;
        if (string.IsNullOrEmpty(text))
        {
            return true;
        }

        if (long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var parsed))
        {
            value = parsed;
            return true;
        }

        return false;
    }
}

/// <summary>
/// CSRF protection for the REST API: a POST authenticated by the dashboard's cookie (no
/// Authorization header) must carry an antiforgery token. Basic and Bearer requests cannot be
/// forged by another site, so they need none; the cookie itself is SameSite=Strict as well.
/// </summary>
internal sealed class CookieAntiforgeryFilter(IAntiforgery antiforgery) : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        var http = context.HttpContext;
        if (HttpMethods.IsPost(http.Request.Method) && string.IsNullOrEmpty(http.Request.Headers.Authorization))
        {
            try
            {
                await antiforgery.ValidateRequestAsync(http);
            }
            catch (AntiforgeryValidationException)
            {
                return TypedResults.Problem(
                    title: "missing or invalid antiforgery token",
                    detail: "a request authenticated by the login cookie must send the RequestVerificationToken header; API clients use HTTP Basic or a Bearer token",
                    statusCode: StatusCodes.Status400BadRequest,
                    type: "urn:pgpoolconsole:antiforgery");
            }
        }

        return await next(context);
    }
}
