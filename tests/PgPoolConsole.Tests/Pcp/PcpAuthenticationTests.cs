using System.Globalization;
using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Tests.Pcp;

/// <summary>
/// Logging in with the stock tools: pcp.conf's md5 exchange, pgpool's texts for bad credentials,
/// .pcppass / PCPPASSFILE as the tools read it, the password prompt, and the Unix socket.
/// </summary>
[Collection(PcpCollection.Name)]
public sealed class PcpAuthenticationTests(PcpFixture fixture) : IAsyncLifetime
{
    private const string AuthenticationFailed = "FATAL:  authentication failed for user \"{0}\"\nDETAIL:  username and/or password does not match\n\n";

    private string Port => fixture.PcpPort.ToString(CultureInfo.InvariantCulture);

    public Task InitializeAsync() => fixture.HealAsync();

    public Task DisposeAsync() => Task.CompletedTask;

    private static string Failed(string user) => string.Format(CultureInfo.InvariantCulture, AuthenticationFailed, user);

    /// <summary>pcp_node_count -w with a .pcppass of <paramref name="content"/> (and mode).</summary>
    private async Task<ProcessResult> CountWithPassFileAsync(string content, string host = "127.0.0.1", string user = "postgres", UnixFileMode mode = UnixFileMode.UserRead | UnixFileMode.UserWrite)
    {
        var path = Path.Combine(fixture.Directory, $"pcppass-{Guid.NewGuid():N}");
        PcpTools.WritePassFile(path, content, mode);
        try
        {
            return await PcpTools.RunStockAsync("pcp_node_count", ["-h", host, "-p", Port, "-U", user, "-w"], path);
        }
        finally
        {
            File.Delete(path);
        }
    }

    private async Task AssertStillServesAsync()
    {
        var result = await fixture.ToolAsync("pcp_node_count");
        Assert.Equal("2\n", result.StandardOutput);
    }

    [Fact]
    public async Task WrongPassword_IsRefusedWithPgpoolsText()
    {
        var result = await CountWithPassFileAsync($"*:*:postgres:not-the-password\n");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.StandardOutput);
        Assert.Equal(Failed("postgres"), result.StandardError);
        await AssertStillServesAsync();
    }

    [Fact]
    public async Task UnknownUser_IsRefusedWithPgpoolsText()
    {
        var result = await CountWithPassFileAsync("*:*:intruder:postgres\n", user: "intruder");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(Failed("intruder"), result.StandardError);
    }

    [Fact]
    public async Task WrongPasswordOnStdin_IsRefused()
    {
        var result = await PcpTools.RunStockAsync("pcp_node_count", ["-h", "127.0.0.1", "-p", Port, "-U", "postgres"], passFile: null, standardInput: "wrong\n");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("Password: \n" + Failed("postgres"), result.StandardError);
    }

    [Fact]
    public async Task PasswordOnStdin_WithoutDashW_IsPromptedForAndAccepted()
    {
        // Without -w the tools always prompt (and then ignore .pcppass); without a tty the prompt reads stdin.
        var result = await PcpTools.RunStockAsync("pcp_node_count", ["-h", "127.0.0.1", "-p", Port, "-U", "postgres"], fixture.PassFile, standardInput: "postgres\n");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal("Password: \n", result.StandardError);
        Assert.Equal("2\n", result.StandardOutput);
    }

    [Fact]
    public async Task PcpPass_LineForThisHostAndPort_IsUsed()
    {
        var result = await CountWithPassFileAsync($"127.0.0.1:{Port}:postgres:postgres\n");

        Assert.Equal("", result.StandardError);
        Assert.Equal("2\n", result.StandardOutput);
    }

    [Fact]
    public async Task PcpPass_FirstMatchingLineWins()
    {
        var result = await CountWithPassFileAsync($"127.0.0.1:{Port}:postgres:wrong\n*:*:postgres:postgres\n");

        Assert.Equal(Failed("postgres"), result.StandardError);
    }

    [Fact]
    public async Task PcpPass_HostIsMatchedAsTyped()
    {
        var result = await CountWithPassFileAsync("localhost:*:postgres:postgres\n");

        Assert.Equal(Failed("postgres"), result.StandardError); // -h 127.0.0.1 does not match "localhost"
    }

    [Fact]
    public async Task PcpPass_ReadableByOthers_IsIgnored()
    {
        var result = await CountWithPassFileAsync("*:*:postgres:postgres\n", mode: UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        Assert.Equal(Failed("postgres"), result.StandardError);
    }

    [Fact]
    public async Task UnixSocket_InPcpSocketDir_WithTheDirectoryAsHost()
    {
        Assert.True(File.Exists(fixture.SocketPath), $"the socket {fixture.SocketPath} exists");

        var result = await CountWithPassFileAsync($"{fixture.SocketDirectory}:{Port}:postgres:postgres\n", host: fixture.SocketDirectory);

        Assert.Equal("", result.StandardError);
        Assert.Equal("2\n", result.StandardOutput);
    }

    [Fact]
    public async Task UnixSocket_WithoutDashH_IsTheSocketInTmp()
    {
        // Without -h the tools always connect to /tmp/.s.PGSQL.<port>; pcp_socket_dir is the
        // fixture's folder, so a link in /tmp (named after this test's unique port) leads there.
        var link = Path.Combine("/tmp", $".s.PGSQL.{Port}");
        Assert.False(Path.Exists(link), $"{link} is free");
        File.CreateSymbolicLink(link, fixture.SocketPath);
        try
        {
            var path = Path.Combine(fixture.Directory, "pcppass-localhost");
            PcpTools.WritePassFile(path, "localhost:*:postgres:postgres\n"); // without -h the host is "localhost"
            var result = await PcpTools.RunStockAsync("pcp_node_info", ["-p", Port, "-U", "postgres", "-w", "-n", "0"], path);

            Assert.Equal("", result.StandardError);
            Assert.StartsWith($"127.0.0.1 {fixture.Nodes[0].Port.ToString(CultureInfo.InvariantCulture)} ", result.StandardOutput);
        }
        finally
        {
            File.Delete(link);
        }
    }

    [Fact]
    public async Task UnixSocket_IsOpenToOtherOsUsers()
    {
        // pgpool makes its socket 0777; the postgres OS user (not the owner when we run as root) can use it.
        var start = OsUser.RunAsPostgres("/usr/sbin/pcp_node_count", ["-h", fixture.SocketDirectory, "-p", Port, "-U", "postgres"]);
        var result = await ProcessRunner.RunAsync(start, standardInput: "postgres\n", timeout: PcpTools.Timeout);

        Assert.Equal("Password: \n", result.StandardError);
        Assert.Equal("2\n", result.StandardOutput);
    }
}
