using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Tests.Infrastructure;

namespace PgPoolConsole.Tests.Replication;

public sealed class CommitJournalTests : IAsyncLifetime
{
    private TestDirectory _directory = null!;

    private string JournalPath => _directory.Combine("pgpoolconsole_commits");

    public async Task InitializeAsync() => _directory = await TestDirectory.CreateAsync();

    public async Task DisposeAsync() => await _directory.DisposeAsync();

    [Fact]
    public void ACommitLeftInDoubt_IsFoundByTheNextOpen_WithItsNodes_AndOnlyOnce()
    {
        using (var journal = CommitJournal.Open(JournalPath, 4, out var before))
        {
            Assert.Empty(before);
            var finished = journal.Rent();
            var cut = journal.Rent();
            journal.Begin(finished, 0, (UInt128.One << 1) | (UInt128.One << 2));
            journal.End(finished);
            journal.Begin(cut, 1, (UInt128.One << 0) | (UInt128.One << 100));
            // the process ends here without ending the second commit (killed)
        }

        using (CommitJournal.Open(JournalPath, 8, out var found))
        {
            var commit = Assert.Single(found);
            Assert.Equal(1, commit.MainNodeId);
            Assert.Equal([0, 100], commit.OtherNodes);
        }

        using (CommitJournal.Open(JournalPath, 8, out var again))
        {
            Assert.Empty(again); // reported once: the nodes were detached and pgpool_status says so
        }
    }

    [Fact]
    public void AReturnedSlot_IsClear_AndSlotsRunOutWithoutFailing()
    {
        using (var journal = CommitJournal.Open(JournalPath, 2, out _))
        {
            var first = journal.Rent();
            var second = journal.Rent();
            Assert.Equal(-1, journal.Rent());
            journal.Begin(-1, 0, UInt128.One << 1); // a session without a slot: nothing recorded
            journal.Begin(first, 0, UInt128.One << 1);
            journal.Return(first); // a session that ended: whatever it did is over
            Assert.Equal(first, journal.Rent());
            journal.Return(second);
        }

        using (CommitJournal.Open(JournalPath, 2, out var found))
        {
            Assert.Empty(found);
        }
    }
}
