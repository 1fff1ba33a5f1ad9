using System.Diagnostics;
using Npgsql;
using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.InfrastructureTests;

public sealed class PostgresInstanceTests : OwnInstancesTestBase
{
    [Fact]
    public async Task Create_FromTemplate_IsRunningAndAnswersAsPostgres15()
    {
        await using var node = await PostgresInstance.CreateAsync(Options("a"));

        Assert.True(node.IsRunning);
        Assert.Equal("127.0.0.1", node.Host);
        Assert.True(node.Port > 0);
        var version = await node.QueryScalarAsync<int>("SELECT current_setting('server_version_num')::int");
        Assert.InRange(version, 150000, 159999);
        Assert.Equal("off", await node.QueryScalarAsync<string>("SHOW fsync"));
        Assert.Equal("replica", await node.QueryScalarAsync<string>("SHOW wal_level"));
        Assert.Equal(200, await node.QueryScalarAsync<int>("SELECT current_setting('max_connections')::int"));
    }

    [Fact]
    public async Task StopStartKillRestart_ServerFollowsAndKeepsCommittedData()
    {
        await using var node = await PostgresInstance.CreateAsync(Options("b"));
        await node.ExecuteAsync("CREATE TABLE t (id int); INSERT INTO t VALUES (1), (2)");

        await node.StopAsync();
        Assert.False(node.IsRunning);
        await Assert.ThrowsAnyAsync<NpgsqlException>(() => node.QueryScalarAsync<int>("SELECT 1"));

        await node.StartAsync();
        Assert.Equal(2L, await node.QueryScalarAsync<long>("SELECT count(*) FROM t"));

        var pid = node.PostmasterPid;
        await node.KillAsync();
        Assert.False(node.IsRunning);
        await node.StartAsync();
        Assert.NotEqual(pid, node.PostmasterPid);
        Assert.Equal(2L, await node.QueryScalarAsync<long>("SELECT count(*) FROM t"));

        await node.RestartAsync();
        Assert.True(node.IsRunning);
        await node.WaitUntilAcceptingAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Pause_ConnectDoesNotAnswerWithinOneSecond_AnswersAfterResume()
    {
        await using var node = await PostgresInstance.CreateAsync(Options("c"));
        await using (var idle = new NpgsqlConnection(node.ConnectionString()))
        {
            await idle.OpenAsync();

            await node.PauseAsync();
            Assert.True(node.IsPaused);
            // The kernel completes the TCP handshake; the frozen postmaster never answers the startup packet.
            var oneSecond = new NpgsqlConnectionStringBuilder(node.ConnectionString()) { Timeout = 1 }.ConnectionString;
            var watch = Stopwatch.StartNew();
            await Assert.ThrowsAnyAsync<NpgsqlException>(async () =>
            {
                await using var connection = new NpgsqlConnection(oneSecond);
                await connection.OpenAsync();
            });
            Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(5));

            await node.ResumeAsync();
            Assert.False(node.IsPaused);
            // The session opened before the pause survives it.
            await using var command = new NpgsqlCommand("SELECT 42", idle);
            Assert.Equal(42, await command.ExecuteScalarAsync());
        }

        await node.WaitUntilAcceptingAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Dispose_StopsServerAndDeletesDataDirectory()
    {
        var node = await PostgresInstance.CreateAsync(Options("d"));
        var pid = node.PostmasterPid!.Value;

        await node.DisposeAsync();

        Assert.False(Directory.Exists(node.DataDirectory));
        Assert.False(Directory.Exists(node.SocketDirectory));
        // PID 1 here reaps orphans lazily, so the pid may linger as a zombie: "alive" excludes those.
        Assert.False(ProcessTree.IsAlive(pid), $"postmaster {pid} still runs");
    }

    [Fact]
    public async Task FreshInitdb_ExtraSettingsApply_AndOpenReusesTheDataDirectory()
    {
        var options = Options("e") with
        {
            UseTemplateCache = false,
            MaxConnections = 30,
            ExtraSettings = new Dictionary<string, string> { ["work_mem"] = "7MB", ["application_name"] = "it's quoted" },
            KeepOnDispose = true,
        };
        var created = await PostgresInstance.CreateAsync(options);
        Assert.Equal("7MB", await created.QueryScalarAsync<string>("SHOW work_mem"));
        Assert.Equal("30", await created.QueryScalarAsync<string>("SHOW max_connections"));
        await created.StopAsync();
        await created.DisposeAsync(); // KeepOnDispose: files stay

        await using var reopened = await PostgresInstance.OpenAsync(options with { Port = 0, KeepOnDispose = false });
        Assert.Equal(created.Port, reopened.Port);
        Assert.False(reopened.IsRunning);
        await reopened.StartAsync();
        Assert.Equal("it's quoted", await reopened.QueryScalarAsync<string>("SHOW application_name"));
    }

    [Fact]
    public async Task CreateTwice_InTheSameDirectory_IsRefused()
    {
        await using var node = await PostgresInstance.CreateAsync(Options("f"));

        await Assert.ThrowsAsync<IOException>(() => PostgresInstance.CreateAsync(Options("f")));
        Assert.True(node.IsRunning);
    }
}
