using PgPoolConsole.Api.Local;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.InfrastructureTests;

public sealed class TemplateCacheTests
{
    [Fact]
    public async Task ConcurrentBuildsIntoAnEmptyCache_AllGetTheOneCompleteTemplate_AndLeaveNoStaging()
    {
        // Each call is a separate build (no in-process sharing), as if three test processes raced.
        await using var cache = await TestDirectory.CreateAsync();
        var key = TemplateCache.Key();

        var paths = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ => Task.Run(() => TemplateCache.FindOrBuildAsync(cache.Path, key))));

        Assert.All(paths, path => Assert.Equal(Path.Combine(cache.Path, key), path));
        Assert.True(File.Exists(Path.Combine(paths[0], "global", "pg_control")));
        Assert.Equal([key], Directory.GetFileSystemEntries(cache.Path).Select(Path.GetFileName));

        // A published template is found again without building.
        var again = await TemplateCache.FindOrBuildAsync(cache.Path, key);
        Assert.Equal(paths[0], again);
    }
}
