using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.InfrastructureTests;

public sealed class ConfigFilesTests
{
    [Fact]
    public async Task ManagedBlock_IsReplacedInPlace_AndValuesReadBack()
    {
        await using var directory = await TestDirectory.CreateAsync();
        var conf = directory.Combine("postgresql.conf");
        await File.WriteAllTextAsync(conf, "#port = 5432\nshared_buffers = 128MB\n");
        var options = new PostgresInstanceOptions
        {
            BaseDirectory = directory.Path,
            Name = "n",
            ArchiveDirectory = "/tmp/it's 100%",
            ExtraSettings = new Dictionary<string, string> { ["search_path"] = "a, b", ["work_mem"] = "4MB" },
        };

        PostgresConfigFiles.WriteManagedSettings(directory.Path, PostgresConfigFiles.Settings(options, 5555, "/tmp/s"));
        await File.AppendAllTextAsync(conf, "# after the block\n");
        PostgresConfigFiles.WriteManagedSettings(directory.Path, PostgresConfigFiles.Settings(options, 6666, "/tmp/s"));

        var text = await File.ReadAllTextAsync(conf);
        Assert.StartsWith("#port = 5432\nshared_buffers = 128MB\n", text, StringComparison.Ordinal);
        Assert.Single(text.Split('\n'), line => line.StartsWith("port = ", StringComparison.Ordinal));
        Assert.EndsWith("# ---- END PgPoolConsole managed settings ----\n# after the block\n", text, StringComparison.Ordinal);
        Assert.Equal("6666", PostgresConfigFiles.ReadManagedSetting(directory.Path, "port"));
        Assert.Equal("a, b", PostgresConfigFiles.ReadManagedSetting(directory.Path, "search_path"));
        Assert.Equal("on", PostgresConfigFiles.ReadManagedSetting(directory.Path, "archive_mode"));
        Assert.Equal(
            "case %f in *.history) cp %p '/tmp/it'\\''s 100%%'/%f ;; *) test ! -f '/tmp/it'\\''s 100%%'/%f && cp %p '/tmp/it'\\''s 100%%'/%f ;; esac",
            PostgresConfigFiles.ReadManagedSetting(directory.Path, "archive_command"));
    }
}
