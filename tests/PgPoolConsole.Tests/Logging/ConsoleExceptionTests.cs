using Microsoft.Extensions.Logging;
using PgPoolConsole.Proxy.Logging;

namespace PgPoolConsole.Tests.Logging;

/// <summary>How the console log prints an exception that comes with a log line.</summary>
public sealed class ConsoleExceptionTests
{
    private static string[] Log(Exception exception)
    {
        var output = new StringWriter();
        using (var provider = new PgpoolConsoleLoggerProvider(() => "", () => PgpoolLogLine.RankOfSetting("warning"), output))
        {
            provider.CreateLogger("Hangfire.Server.Worker").LogError(exception, "Failed to process the job '1': an exception occurred.");
        }

        return output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    [Fact]
    public void AFailureAlreadyLogged_IsOneLineWithItsMessage_NoStackTrace()
    {
        var lines = Log(Thrown(new AlreadyLoggedException("stage 3 (first stage) failed: recovery_1st_stage failed with exit status 1")));

        Assert.Equal(["ERROR:  Failed to process the job '1': an exception occurred. (stage 3 (first stage) failed: recovery_1st_stage failed with exit status 1)"], lines);
    }

    [Fact]
    public void AnUnexpectedException_KeepsItsStackTrace()
    {
        var lines = Log(Thrown(new InvalidOperationException("a bug")));

        Assert.Equal("ERROR:  Failed to process the job '1': an exception occurred.", lines[0]);
        Assert.Equal("System.InvalidOperationException: a bug", lines[1]);
        Assert.StartsWith("at PgPoolConsole.Tests.Logging.ConsoleExceptionTests.Thrown", lines[2], StringComparison.Ordinal);
    }

    private static Exception Thrown(Exception exception)
    {
        try
        {
            throw exception;
        }
        catch (Exception e)
        {
            return e;
        }
    }
}
