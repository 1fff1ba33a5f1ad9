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
        await using var node = await ArchivingNodeAsync(directory, archive);
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

    [Fact]
    public async Task TimelineHistoryFile_ReplacesTheOneAnEarlierLifeOfTheNodeArchived_SegmentsAreNeverOverwritten()
    {
        await using var directory = await TestDirectory.CreateAsync();
        var archive = directory.Combine("archive", "node0");
        await using var node = await ArchivingNodeAsync(directory, archive);
        var history = Path.Combine(archive, "00000007.history");
        await File.WriteAllTextAsync(history, "from an earlier life of this node\n");
        const string segment = "000000070000000000000009";
        await File.WriteAllTextAsync(Path.Combine(archive, segment), "an archived segment\n");
        await OsUser.ChownToPostgresAsync(archive, recursive: true); // the node archived them itself

        // As a promotion leaves them: a history file and a segment in pg_wal, marked ready for the archiver.
        var walDirectory = Path.Combine(node.DataDirectory, "pg_wal");
        var ready = await OsUser.RunAsPostgresAsync("sh", ["-c", $"printf '6\\t0/9000000\\tno recovery target specified\\n' > {walDirectory}/00000007.history && touch {walDirectory}/archive_status/00000007.history.ready {walDirectory}/archive_status/{segment}.ready && cp {walDirectory}/00000007.history {walDirectory}/{segment}"]);
        ready.EnsureSuccess();
        await node.ExecuteAsync("CREATE TABLE t (id int); INSERT INTO t VALUES (1)");
        await node.QueryScalarAsync<string>("SELECT pg_walfile_name(pg_switch_wal())"); // wakes the archiver

        // cp is not atomic (the file is empty for a moment): wait for the whole new text.
        const string Replaced = "6\t0/9000000\tno recovery target specified\n";
        await Eventually.TrueAsync(async () => await File.ReadAllTextAsync(history) == Replaced, TimeSpan.FromSeconds(20), "the archiver replaces the history file with the new text");
        await Eventually.TrueAsync(async () => await node.QueryScalarAsync<string>("SELECT last_failed_wal FROM pg_stat_archiver") == segment, TimeSpan.FromSeconds(20), "the archiver tried the segment and was refused");
        Assert.Equal("an archived segment\n", await File.ReadAllTextAsync(Path.Combine(archive, segment)));
    }

    private static Task<PostgresInstance> ArchivingNodeAsync(TestDirectory directory, string archive) =>
        PostgresInstance.CreateAsync(new PostgresInstanceOptions
        {
            BaseDirectory = directory.Path,
            Name = "node0",
            FastUnsafe = true,
            ArchiveDirectory = archive,
        });
}
