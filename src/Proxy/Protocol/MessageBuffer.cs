using System.Buffers;

namespace PgPoolConsole.Proxy.Protocol;

/// <summary>Reuse of a session's message buffers between requests.</summary>
internal static class MessageBuffer
{
    /// <summary>Above this capacity a buffer is dropped rather than kept for the next request.</summary>
    public const int KeptCapacity = 1024 * 1024;

    /// <summary>
    /// The buffer emptied for the next request; a fresh one instead when an outsized request
    /// (a 50 MB literal, a bulk Bind) grew it, so an idle session does not keep that memory.
    /// </summary>
    public static ArrayBufferWriter<byte> Reuse(ArrayBufferWriter<byte> buffer, int initialCapacity)
    {
        if (buffer.Capacity > KeptCapacity)
        {
            return new ArrayBufferWriter<byte>(initialCapacity);
        }

        buffer.ResetWrittenCount();
        return buffer;
    }
}
