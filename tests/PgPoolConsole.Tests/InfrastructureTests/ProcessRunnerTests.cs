using System.Diagnostics;
using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Tests.InfrastructureTests;

public sealed class ProcessRunnerTests
{
    [Fact]
    public async Task LargeOutputOnBothStreams_IsReadCompletely_WithoutDeadlock()
    {
        // 2 MB to stderr first, then 2 MB to stdout: a runner that reads stdout to the end before
        // touching stderr blocks forever (the child waits on a full stderr pipe).
        const string Script = "head -c 2097152 /dev/zero | tr '\\0' e >&2; head -c 2097152 /dev/zero | tr '\\0' o";

        var result = await ProcessRunner.RunAsync("/bin/sh", ["-c", Script], timeout: TimeSpan.FromSeconds(60));

        Assert.True(result.Succeeded, result.Describe());
        Assert.Equal(new string('o', 2097152), result.StandardOutput);
        Assert.Equal(new string('e', 2097152), result.StandardError);
    }

    [Fact]
    public async Task StdinArgumentsAndEnvironment_PassThroughAsUtf8()
    {
        var result = await ProcessRunner.RunAsync(
            "/bin/sh",
            ["-c", "printf '%s|%s|' \"$1\" \"$GREETING\"; cat; exit 3", "sh", "it's \"quoted\" $HOME"],
            new Dictionary<string, string?> { ["GREETING"] = "grüß dich ✓" },
            standardInput: "ßtdin ünicode\n");

        Assert.Equal(3, result.ExitCode);
        Assert.False(result.Succeeded);
        Assert.Equal("it's \"quoted\" $HOME|grüß dich ✓|ßtdin ünicode\n", result.StandardOutput);
        Assert.Throws<ProcessFailedException>(() => result.EnsureSuccess());
    }

    [Fact]
    public async Task Timeout_KillsTheWholeTree_AndReportsTimedOut()
    {
        // A duration no other process uses, so we can look for survivors by command line.
        var duration = "30." + Random.Shared.Next(100_000, 999_999).ToString(System.Globalization.CultureInfo.InvariantCulture);
        var watch = Stopwatch.StartNew();

        // The background grandchild keeps the output pipes open; killing only the shell would leave it running.
        var result = await ProcessRunner.RunAsync(
            "/bin/sh", ["-c", $"echo started; sleep {duration} & sleep {duration}; echo never"], timeout: TimeSpan.FromMilliseconds(500));

        Assert.True(result.TimedOut);
        Assert.Equal(-1, result.ExitCode);
        Assert.Equal("started\n", result.StandardOutput);
        Assert.InRange(watch.Elapsed, TimeSpan.FromMilliseconds(400), TimeSpan.FromSeconds(10));
        await Task.Delay(200);
        Assert.Empty(LiveProcessesWithCommandLine($"sleep {duration}"));
    }

    [Fact]
    public async Task Cancellation_KillsTheProcess_AndThrows()
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
        var watch = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => ProcessRunner.RunAsync("/bin/sleep", ["30"], cancellationToken: cts.Token));

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public async Task MissingProgram_ThrowsWithTheCommandInTheMessage()
    {
        var error = await Assert.ThrowsAsync<InvalidOperationException>(
            () => ProcessRunner.RunAsync("/nonexistent/program", ["x"]));

        Assert.Contains("/nonexistent/program", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RunAsPostgres_RunsAsThePostgresUserWhenRoot()
    {
        var result = await OsUser.RunAsPostgresAsync("/usr/bin/id", ["-un"]);

        Assert.Equal(OsUser.IsRoot ? OsUser.PostgresUserName : Environment.UserName, result.EnsureSuccess().StandardOutput.Trim());
    }

    [Fact]
    public void GetFreePort_NeverRepeatsWithinAProcess()
    {
        var ports = Enumerable.Range(0, 50).Select(_ => LocalPorts.GetFreePort()).ToList();

        Assert.Equal(ports.Count, ports.Distinct().Count());
        Assert.All(ports, port => Assert.True(LocalPorts.IsFree(port)));
    }

    private static List<int> LiveProcessesWithCommandLine(string commandLine)
    {
        var found = new List<int>();
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ').Trim();
                var stat = File.ReadAllText(Path.Combine(directory, "stat"));
                if (cmdline == commandLine && !stat[(stat.LastIndexOf(')') + 2)..].StartsWith('Z'))
                {
                    found.Add(int.Parse(Path.GetFileName(directory), System.Globalization.CultureInfo.InvariantCulture));
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Gone while we looked.
            }
        }

        return found;
    }
}
