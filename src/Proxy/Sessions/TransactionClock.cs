namespace PgPoolConsole.Proxy.Sessions;

/// <summary>
/// A session's view of the main node's transaction timestamp: read once per transaction, when a
/// write first needs it, and used for every later write of the transaction. A session whose
/// transactions keep needing it (pgbench's TPC-B does, in every one) has it read together with
/// BEGIN instead of in a round trip of its own; one transaction that did not use it stops that.
/// </summary>
internal sealed class TransactionClock
{
    private bool _readWithBegin;
    private bool _used;

    /// <summary>Whether the next transaction should read the timestamp together with its BEGIN.</summary>
    public bool PrefetchWithBegin { get; private set; }

    /// <summary>The timestamp, once known in this transaction.</summary>
    public string? Value { get; private set; }

    /// <summary>The value for a write of this transaction, or null when it has not been read yet.</summary>
    public string? Use()
    {
        if (Value is not null)
        {
            _used = true;
        }

        return Value;
    }

    /// <summary>A write needed the timestamp and it was not known: read it with BEGIN from the next transaction on.</summary>
    public void Missed() => PrefetchWithBegin = true;

    /// <summary>Keeps the first value read in this transaction and returns the one to use.</summary>
    public string Store(string value)
    {
        Value ??= value;
        _used = true;
        return Value;
    }

    /// <summary>The value read right after BEGIN (null when that read failed).</summary>
    public void StoreReadWithBegin(string? value)
    {
        _readWithBegin = true;
        Value = value;
    }

    public void TransactionEnded()
    {
        if (_readWithBegin && !_used)
        {
            PrefetchWithBegin = false;
        }

        Value = null;
        _readWithBegin = false;
        _used = false;
    }
}
