using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Claims;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Http;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.WebUi.Components.Pages;

/// <summary>
/// The login form (server-rendered, antiforgery-protected): checks the pcp.conf user, sets the
/// login cookie and goes back to the page that asked for it.
/// </summary>
public partial class Login
{
    [CascadingParameter]
    private HttpContext HttpContext { get; set; } = default!;

    [Inject]
    private IControlPlaneLogin ControlPlaneLogin { get; set; } = default!;

    [Inject]
    private NavigationManager Navigation { get; set; } = default!;

    [SupplyParameterFromForm]
    private LoginInput? Input { get; set; }

    [SupplyParameterFromQuery]
    private string? ReturnUrl { get; set; }

    private string? _message;

    protected override void OnInitialized() => Input ??= new LoginInput();

    private async Task LogInAsync()
    {
        if (Input is null)
        {
            return;
        }

        var address = HttpContext.Connection.RemoteIpAddress?.ToString() ?? "local";
        switch (ControlPlaneLogin.Check(Input.User, Input.Password, address))
        {
            case LoginOutcome.Succeeded:
                var principal = new ClaimsPrincipal(new ClaimsIdentity([new Claim(ClaimTypes.Name, Input.User)], CookieAuthenticationDefaults.AuthenticationScheme));
                await HttpContext.SignInAsync(CookieAuthenticationDefaults.AuthenticationScheme, principal);
                Navigation.NavigateTo(SafeReturnUrl(ReturnUrl), forceLoad: true);
                break;
            case LoginOutcome.LockedOut:
                var seconds = (int)Math.Ceiling(ControlPlaneLogin.LockedOutFor(address).TotalSeconds);
                _message = string.Create(CultureInfo.InvariantCulture, $"Too many failed logins from this address. Try again in {seconds} s.");
                break;
            default:
                _message = "Invalid user name or password.";
                break;
        }
    }

    /// <summary>Only a path on this site (never another host) is followed after login.</summary>
    internal static string SafeReturnUrl(string? returnUrl) =>
        returnUrl is { Length: > 0 } url && url[0] == '/' && !url.StartsWith("//", StringComparison.Ordinal) && !url.StartsWith("/\\", StringComparison.Ordinal)
            ? url
            : "/";

    private sealed class LoginInput
    {
        [Required(ErrorMessage = "Enter the user name.")]
        public string User { get; set; } = "";

        [Required(ErrorMessage = "Enter the password.")]
        public string Password { get; set; } = "";
    }
}
