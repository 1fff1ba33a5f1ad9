using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Tests.Infrastructure;

/// <summary>
/// For tests that share a <see cref="PostgresNodesFixture"/> (class or collection fixture): every
/// test starts from reset nodes (running, no test databases or roles left by earlier tests).
/// </summary>
public abstract class NodesTestBase<TFixture>(TFixture fixture) : IAsyncLifetime
    where TFixture : PostgresNodesFixture
{
    /// <summary>The shared nodes.</summary>
    protected TFixture Fixture { get; } = fixture;

    /// <summary>The fixture's nodes, node0 first.</summary>
    protected IReadOnlyList<PostgresInstance> Nodes => Fixture.Nodes;

    /// <inheritdoc />
    public virtual Task InitializeAsync() => Fixture.ResetAsync();

    /// <inheritdoc />
    public virtual Task DisposeAsync() => Task.CompletedTask;
}

/// <summary>
/// For tests that create their own instances: a private <see cref="TestDirectory"/> per test,
/// and FastUnsafe options for an instance in it.
/// </summary>
public abstract class OwnInstancesTestBase : IAsyncLifetime
{
    private TestDirectory? _directory;

    /// <summary>This test's folder.</summary>
    protected TestDirectory Folder => _directory ?? throw new InvalidOperationException("Not initialised.");

    /// <summary>Options for an instance named <paramref name="name"/> in this test's folder (FastUnsafe, free port).</summary>
    protected PostgresInstanceOptions Options(string name) => new()
    {
        BaseDirectory = Folder.Path,
        Name = name,
        FastUnsafe = true,
    };

    /// <inheritdoc />
    public virtual async Task InitializeAsync() => _directory = await TestDirectory.CreateAsync();

    /// <inheritdoc />
    public virtual async Task DisposeAsync()
    {
        if (_directory is not null)
        {
            await _directory.DisposeAsync();
        }
    }
}
