namespace PgPoolConsole.WebUi.Model;

public enum LoginOutcome
{
    Succeeded,
    Failed,

    /// <summary>Too many failed attempts from this address: refused without checking the password.</summary>
    LockedOut,
}

/// <summary>Checks control-plane logins (the login page, HTTP Basic, API tokens): pcp.conf users, failed attempts rate-limited and logged.</summary>
public interface IControlPlaneLogin
{
    LoginOutcome Check(string user, string password, string clientAddress);

    /// <summary>Checks an API token (REST and the hub); a wrong token counts as a failed login.</summary>
    LoginOutcome CheckToken(string token, string clientAddress);

    /// <summary>How long the address stays locked out (zero when it is not).</summary>
    TimeSpan LockedOutFor(string clientAddress);
}
