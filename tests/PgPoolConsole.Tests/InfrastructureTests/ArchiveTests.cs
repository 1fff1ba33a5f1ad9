using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.InfrastructureTests;

public sealed class ArchiveTests
{
    [Fact]
    public async Task SwitchWal_AfterAWrite_SegmentLandsInTheNodesArchiveDirectory()
    {
        await using var directory = await TestDirectory.CreateAsync();
        // Quote, space and '%' check the quoting through postgresql.conf, archive_command and the shell.
        var archive = directory.Combine("archive", "it's 100% node0");
        await using var node = await PostgresInstance.CreateAsync(new PostgresInstanceOptions
        {
            BaseDirectory = directory.Path,
            Name = "node0",
            FastUnsafe = true,
            ArchiveDirectory = archive,
        });
        Assert.Equal("on", await node.QueryScalarAsync<string>("SHOW archive_mode"));

        await node.ExecuteAsync("CREATE TABLE t (id int); INSERT INTO t SELECT generate_series(1, 1000)");
        var segment = await node.QueryScalarAsync<string>("SELECT pg_walfile_name(pg_switch_wal())");

        // cp is not atomic: the file appears before it is complete. The archiver reports a segment
        // only once archive_command has returned.
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (await node.QueryScalarAsync<string>("SELECT last_archived_wal FROM pg_stat_archiver") != segment && DateTime.UtcNow < deadline)
        {
            await Task.Delay(100);
        }

        Assert.True(File.Exists(Path.Combine(archive, segment!)), $"{segment} not archived; log:\n{node.ReadLogTail()}");
        Assert.Equal(16 * 1024 * 1024, new FileInfo(Path.Combine(archive, segment!)).Length);
    }
}
