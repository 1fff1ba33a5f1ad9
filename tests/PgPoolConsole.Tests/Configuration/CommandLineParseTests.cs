using PgPoolConsole.Api.Cli;
using PgPoolConsole.Proxy.Cluster;

namespace PgPoolConsole.Tests.Configuration;

/// <summary>Options before or after the command word, as pgpool-II's getopt takes them.</summary>
public sealed class CommandLineParseTests
{
    [Theory]
    [InlineData("-f", "/etc/b/pgpool.conf", "-m", "fast", "stop")]
    [InlineData("stop", "-m", "fast", "-f", "/etc/b/pgpool.conf")]
    [InlineData("stop", "--mode", "fast", "--config-file=/etc/b/pgpool.conf")]
    [InlineData("-m", "fast", "stop", "-f/etc/b/pgpool.conf")]
    public void Stop_TakesItsOptionsOnEitherSide(params string[] args)
    {
        var commandLine = CommandLine.Parse(args);

        Assert.Equal("stop", commandLine.Command);
        Assert.Equal(ShutdownMode.Fast, commandLine.Mode);
        Assert.Equal("/etc/b/pgpool.conf", commandLine.ConfigFile);
        Assert.Empty(commandLine.Arguments);
    }

    [Fact]
    public void Reload_AndStart_TakeTheFilesAfterTheCommand()
    {
        var reload = CommandLine.Parse(["reload", "-f", "/x/pgpool.conf", "--hba-file", "/x/pool_hba.conf"]);
        var start = CommandLine.Parse(["start", "-n", "-F", "/x/pcp.conf"]);

        Assert.Equal(("reload", "/x/pgpool.conf", "/x/pool_hba.conf"), (reload.Command, reload.ConfigFile, reload.HbaFile));
        Assert.Equal(("start", true, "/x/pcp.conf"), (start.Command, start.Foreground, start.PcpFile));
    }

    [Fact]
    public void CommandsWithWordsOfTheirOwn_TakeTheConfigFileAnywhere_AndKeepTheRest()
    {
        var verify = CommandLine.Parse(["verify", "-d", "app", "-f", "/x/pgpool.conf", "accounts"]);
        var recover = CommandLine.Parse(["recover", "1", "--config-file", "/x/pgpool.conf", "-U", "postgres", "-w"]);

        Assert.Equal("/x/pgpool.conf", verify.ConfigFile);
        Assert.Equal(["-d", "app", "accounts"], verify.Arguments);
        Assert.Equal("/x/pgpool.conf", recover.ConfigFile);
        Assert.Equal(["1", "-U", "postgres", "-w"], recover.Arguments);
    }

    [Fact]
    public void PcpToolOptions_PassUntouched()
    {
        var pcp = CommandLine.Parse(["pcp", "node-info", "-h", "127.0.0.1", "-p", "9898", "-U", "postgres", "-n", "1", "-a"]);

        Assert.Equal(["node-info", "-h", "127.0.0.1", "-p", "9898", "-U", "postgres", "-n", "1", "-a"], pcp.Arguments);
        Assert.Null(pcp.HbaFile);
    }

    [Theory]
    [InlineData("unexpected \"reload\" after the command \"stop\"", "stop", "reload")]
    [InlineData("unrecognized argument \"now\"", "stop", "now")]
    [InlineData("option -f requires a value", "stop", "-f")]
    public void StrayWordsAfterStop_AreRefused(string message, params string[] args) =>
        Assert.Contains(message, Assert.Throws<CommandLineException>(() => CommandLine.Parse(args)).Message);
}
