using System.Text.Json;
using System.Text.Json.Serialization;
using Hangfire;
using Hangfire.Dashboard;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Prometheus;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.WebUi;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.Api.ControlPlane;

/// <summary>
/// The web control plane: REST (/api, documented at /openapi/v1.json), the SignalR hub
/// (/hubs/cluster), /health and /metrics, the Blazor dashboard and Hangfire's dashboard
/// (/hangfire), all behind one login (pcp.conf users).
/// </summary>
public static class ControlPlaneServices
{
    public const string MetricsPolicy = "metrics";

    public static IServiceCollection AddControlPlane(this IServiceCollection services)
    {
        services.AddDashboard();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<ControlPlaneLogin>();
        services.AddSingleton<IControlPlaneLogin>(sp => sp.GetRequiredService<ControlPlaneLogin>());
        services.AddControlPlaneAuthentication();
        services.AddSingleton<IAuthorizationHandler, AnonymousWhenConfiguredHandler>();
        services.AddAuthorization(authorization =>
        {
            // Everything needs a login unless it says otherwise (the login page, static assets).
            authorization.FallbackPolicy = new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build();
            authorization.AddPolicy(HealthEndpoints.Policy, policy => policy.AddRequirements(new AnonymousWhenConfigured(o => o.ControlPlaneAnonymousHealth)));
            authorization.AddPolicy(MetricsPolicy, policy => policy.AddRequirements(new AnonymousWhenConfigured(o => o.ControlPlaneAnonymousMetrics)));
        });
        services.AddAntiforgery();
        services.AddProblemDetails();
        services.ConfigureHttpJsonOptions(json => json.SerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower)));
        services.AddOpenApi();
        services.AddSignalR().AddJsonProtocol(json => json.PayloadSerializerOptions.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower)));
        services.AddSingleton<ClusterMetrics>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterMetrics>());
        return services;
    }

    public static void MapControlPlane(this WebApplication app)
    {
        // With inline socket I/O (Hosting.InlineSocketIo) a request would start on a socket
        // thread that also serves proxy connections; pages, the REST API and Hangfire's dashboard
        // (synchronous storage queries) run on the thread pool instead.
        app.Use(static async (context, next) =>
        {
            await Task.Yield();
            await next(context);
        });
        app.UseStatusCodePages();
        app.UseStaticFiles();
        app.UseAuthentication();
        app.UseAuthorization();
        app.UseAntiforgery();

        app.MapStaticAssets().AllowAnonymous();
        app.MapRazorComponents<WebUi.Components.App>().AddInteractiveServerRenderMode();
        app.MapPost("/logout", (Delegate)LogoutAsync).WithMetadata(new RequireAntiforgeryTokenAttribute()).ExcludeFromDescription();

        app.MapRestApi();
        app.MapHealthEndpoints();
        app.MapMetrics(ClusterMetricsPath, app.Services.GetRequiredService<ClusterMetrics>().Registry).RequireAuthorization(MetricsPolicy);
        app.MapHub<ClusterHub>(ClusterHub.Path);
        app.MapOpenApi();
        app.MapHangfireDashboard("/hangfire", new DashboardOptions
        {
            AppPath = "/",
            DashboardTitle = "PgPoolConsole jobs",
            Authorization = [new LoggedInDashboardFilter()],
        });
    }

    private const string ClusterMetricsPath = "/metrics";

    private static async Task<IResult> LogoutAsync(HttpContext context)
    {
        await context.SignOutAsync(ControlPlaneAuthentication.CookieScheme);
        return TypedResults.Redirect(ControlPlaneAuthentication.LoginPath);
    }
}

/// <summary>A resource that is anonymous when a setting says so, else needs a login.</summary>
public sealed class AnonymousWhenConfigured(Func<PgPoolOptions, bool> anonymous) : IAuthorizationRequirement
{
    public Func<PgPoolOptions, bool> Anonymous { get; } = anonymous;
}

internal sealed class AnonymousWhenConfiguredHandler(OptionsHolder options) : AuthorizationHandler<AnonymousWhenConfigured>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, AnonymousWhenConfigured requirement)
    {
        if (requirement.Anonymous(options.Current) || context.User.Identity?.IsAuthenticated == true)
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>Hangfire's dashboard is for logged-in users only (its endpoints also fall under the login policy).</summary>
internal sealed class LoggedInDashboardFilter : IDashboardAuthorizationFilter
{
    public bool Authorize(DashboardContext context) => context.GetHttpContext().User.Identity?.IsAuthenticated == true;
}
