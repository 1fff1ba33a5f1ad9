using System.Net.Http.Headers;
using System.Security.Claims;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.Api.ControlPlane;

/// <summary>
/// One login for everything: the dashboard signs in with a cookie (the login page), REST clients
/// and the hub send the same pcp.conf credentials as HTTP Basic, or the configured API token as
/// a Bearer token. The default scheme picks by the Authorization header.
/// </summary>
public static class ControlPlaneAuthentication
{
    public const string Scheme = "PgPoolConsole";
    public const string BasicScheme = "Basic";
    public const string TokenScheme = "Bearer";
    public const string CookieScheme = CookieAuthenticationDefaults.AuthenticationScheme;
    public const string Realm = "PgPoolConsole";
    public const string LoginPath = "/login";

    /// <summary>Paths answered with 401 (not a redirect to the login page) when not logged in.</summary>
    public static bool IsMachinePath(PathString path) =>
        path.StartsWithSegments("/api") || path.StartsWithSegments("/hubs") || path.StartsWithSegments("/metrics")
        || path.StartsWithSegments("/health") || path.StartsWithSegments("/openapi");

    public static AuthenticationBuilder AddControlPlaneAuthentication(this IServiceCollection services)
    {
        return services
            .AddAuthentication(Scheme)
            .AddPolicyScheme(Scheme, "pcp.conf users: cookie, HTTP Basic or API token", policy =>
            {
                policy.ForwardDefaultSelector = context =>
                {
                    var header = context.Request.Headers.Authorization.ToString();
                    if (header.StartsWith("Basic ", StringComparison.OrdinalIgnoreCase))
                    {
                        return BasicScheme;
                    }

                    return header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) ? TokenScheme : CookieScheme;
                };
            })
            .AddCookie(CookieScheme, cookie =>
            {
                cookie.Cookie.Name = ".PgPoolConsole.Login";
                cookie.Cookie.HttpOnly = true;
                cookie.Cookie.SameSite = SameSiteMode.Strict;
                cookie.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                cookie.LoginPath = LoginPath;
                cookie.LogoutPath = "/logout";
                cookie.ExpireTimeSpan = TimeSpan.FromHours(8);
                cookie.SlidingExpiration = true;
                cookie.Events.OnRedirectToLogin = context => Challenge(context, StatusCodes.Status401Unauthorized);
                cookie.Events.OnRedirectToAccessDenied = context => Challenge(context, StatusCodes.Status403Forbidden);
            })
            .AddScheme<AuthenticationSchemeOptions, BasicAuthenticationHandler>(BasicScheme, null)
            .AddScheme<AuthenticationSchemeOptions, TokenAuthenticationHandler>(TokenScheme, null);
    }

    /// <summary>The principal of a logged-in pcp.conf user (or of the API token).</summary>
    public static ClaimsPrincipal Principal(string user, string scheme) =>
        new(new ClaimsIdentity([new Claim(ClaimTypes.Name, user)], scheme));

    /// <summary>The client's address as logins are throttled by it.</summary>
    public static string ClientAddress(HttpContext context) => context.Connection.RemoteIpAddress?.ToString() ?? "local";

    private const string LockedOutItem = "PgPoolConsole.LockedOut";

    internal static void MarkLockedOut(HttpContext context, LoginOutcome outcome)
    {
        if (outcome == LoginOutcome.LockedOut)
        {
            context.Items[LockedOutItem] = true;
        }
    }

    /// <summary>429 with Retry-After when the address is locked out, else 401.</summary>
    internal static Task ChallengeAsync(HttpContext context, IControlPlaneLogin login)
    {
        if (!context.Items.ContainsKey(LockedOutItem))
        {
            return WriteChallengeAsync(context, StatusCodes.Status401Unauthorized);
        }

        var seconds = (int)Math.Ceiling(login.LockedOutFor(ClientAddress(context)).TotalSeconds);
        context.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return WriteChallengeAsync(context, StatusCodes.Status429TooManyRequests, "too many failed logins from this address; try again later");
    }

    private static Task Challenge(RedirectContext<CookieAuthenticationOptions> context, int status)
    {
        if (!IsMachinePath(context.Request.Path))
        {
            context.Response.Redirect(context.RedirectUri);
            return Task.CompletedTask;
        }

        return WriteChallengeAsync(context.HttpContext, status);
    }

    /// <summary>401 (with a Basic challenge) or 403 as problem details.</summary>
    internal static Task WriteChallengeAsync(HttpContext context, int status, string? detail = null)
    {
        context.Response.StatusCode = status;
        if (status == StatusCodes.Status401Unauthorized)
        {
            context.Response.Headers.WWWAuthenticate = $"Basic realm=\"{Realm}\", charset=\"UTF-8\"";
        }

        return Results.Problem(
            statusCode: status,
            title: status == StatusCodes.Status401Unauthorized ? "login required" : "forbidden",
            detail: detail ?? "log in with a pcp.conf user (HTTP Basic) or send the API token (Authorization: Bearer)").ExecuteAsync(context);
    }
}

/// <summary>HTTP Basic against pcp.conf users, with the login page's rate limit.</summary>
public sealed class BasicAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IControlPlaneLogin login) : CredentialsHandler(options, loggerFactory, encoder, login)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!AuthenticationHeaderValue.TryParse(Request.Headers.Authorization, out var header)
            || !string.Equals(header.Scheme, "Basic", StringComparison.OrdinalIgnoreCase)
            || header.Parameter is null)
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(header.Parameter));
        }
        catch (FormatException)
        {
            return Task.FromResult(AuthenticateResult.Fail("malformed Basic credentials"));
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        if (colon < 0)
        {
            return Task.FromResult(AuthenticateResult.Fail("malformed Basic credentials"));
        }

        var user = decoded[..colon];
        var outcome = Login.Check(user, decoded[(colon + 1)..], ControlPlaneAuthentication.ClientAddress(Context));
        if (outcome == LoginOutcome.Succeeded)
        {
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(ControlPlaneAuthentication.Principal(user, Scheme.Name), Scheme.Name)));
        }

        ControlPlaneAuthentication.MarkLockedOut(Context, outcome);
        return Task.FromResult(AuthenticateResult.Fail("invalid user name or password"));
    }
}

/// <summary>Authorization: Bearer with control_plane_api_token, rate-limited like logins.</summary>
public sealed class TokenAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IControlPlaneLogin login) : CredentialsHandler(options, loggerFactory, encoder, login)
{
    protected override Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var header = Request.Headers.Authorization.ToString();
        if (!header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return Task.FromResult(AuthenticateResult.NoResult());
        }

        var outcome = Login.CheckToken(header["Bearer ".Length..].Trim(), ControlPlaneAuthentication.ClientAddress(Context));
        if (outcome != LoginOutcome.Succeeded)
        {
            ControlPlaneAuthentication.MarkLockedOut(Context, outcome);
            return Task.FromResult(AuthenticateResult.Fail("invalid API token"));
        }

        return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(ControlPlaneAuthentication.Principal(ControlPlaneLogin.TokenUser, Scheme.Name), Scheme.Name)));
    }
}

/// <summary>Challenges of the credential schemes: 401 with a Basic challenge, 429 when the address is locked out, 403.</summary>
public abstract class CredentialsHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IControlPlaneLogin login) : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    protected IControlPlaneLogin Login { get; } = login;

    protected override Task HandleChallengeAsync(AuthenticationProperties properties) =>
        ControlPlaneAuthentication.ChallengeAsync(Context, Login);

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        ControlPlaneAuthentication.WriteChallengeAsync(Context, StatusCodes.Status403Forbidden);
}
