using System.Security.Cryptography;
using System.Text;
using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Proxy.Configuration;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.WebUi.Model;

namespace PgPoolConsole.Api.ControlPlane;

/// <summary>
/// Control-plane logins against pcp.conf (user:md5hex), the same users as the PCP port. Failed
/// attempts are logged (and so appear on the dashboard's log page) and rate-limited per address
/// by control_plane_max_failed_logins. A wrong API token counts as a failed login too.
/// </summary>
public sealed partial class ControlPlaneLogin(PcpUsers users, OptionsHolder options, LoginThrottle throttle, ILogger<ControlPlaneLogin> logger) : IControlPlaneLogin
{
    /// <summary>The user name of requests authenticated by the API token.</summary>
    public const string TokenUser = "api-token";

    public LoginOutcome Check(string user, string password, string clientAddress)
    {
        var lockedFor = throttle.LockedOutFor(clientAddress);
        if (lockedFor > TimeSpan.Zero)
        {
            LogRefused(logger, user, clientAddress, (int)Math.Ceiling(lockedFor.TotalSeconds));
            return LoginOutcome.LockedOut;
        }

        var hash = Encoding.ASCII.GetBytes(PgMd5.Hex(password));
        var known = users.Current().FirstOrDefault(u => u.User == user);
        if (known is not null && CryptographicOperations.FixedTimeEquals(hash, Encoding.ASCII.GetBytes(known.Md5Hex.ToLowerInvariant())))
        {
            throttle.RecordSuccess(clientAddress);
            LogSucceeded(logger, user, clientAddress);
            return LoginOutcome.Succeeded;
        }

        return Failed(user, clientAddress, known is null ? "unknown user" : "wrong password");
    }

    /// <summary>Checks a Bearer token against control_plane_api_token (none configured: every token fails).</summary>
    public LoginOutcome CheckToken(string token, string clientAddress)
    {
        if (throttle.LockedOutFor(clientAddress) is var lockedFor && lockedFor > TimeSpan.Zero)
        {
            LogRefused(logger, TokenUser, clientAddress, (int)Math.Ceiling(lockedFor.TotalSeconds));
            return LoginOutcome.LockedOut;
        }

        var expected = options.Current.ControlPlaneApiToken;
        if (expected.Length > 0 && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), Encoding.UTF8.GetBytes(expected)))
        {
            throttle.RecordSuccess(clientAddress);
            return LoginOutcome.Succeeded;
        }

        return Failed(TokenUser, clientAddress, expected.Length == 0 ? "no control_plane_api_token is configured" : "wrong token");
    }

    private LoginOutcome Failed(string user, string clientAddress, string reason)
    {
        var max = options.Current.ControlPlaneMaxFailedLogins;
        var (failures, lockedOut) = throttle.RecordFailure(clientAddress, max);
        LogFailed(logger, user, clientAddress, reason, failures, max);
        if (lockedOut)
        {
            LogLockedOut(logger, clientAddress, failures);
        }

        return LoginOutcome.Failed;
    }

    public TimeSpan LockedOutFor(string clientAddress) => throttle.LockedOutFor(clientAddress);

    [LoggerMessage(EventId = 6001, Level = LogLevel.Warning, Message = "control plane: failed login for user \"{User}\" from {Address} ({Reason}; {Failures} of {Max} allowed per minute)")]
    private static partial void LogFailed(ILogger logger, string user, string address, string reason, int failures, int max);

    [LoggerMessage(EventId = 6002, Level = LogLevel.Warning, Message = "control plane: {Failures} failed logins from {Address} within a minute; refusing its logins for a minute")]
    private static partial void LogLockedOut(ILogger logger, string address, int failures);

    [LoggerMessage(EventId = 6003, Level = LogLevel.Warning, Message = "control plane: login for user \"{User}\" from {Address} refused: too many failed logins (locked for {Seconds} s more)")]
    private static partial void LogRefused(ILogger logger, string user, string address, int seconds);

    [LoggerMessage(EventId = 6004, Level = LogLevel.Debug, Message = "control plane: user \"{User}\" logged in from {Address}")]
    private static partial void LogSucceeded(ILogger logger, string user, string address);
}
