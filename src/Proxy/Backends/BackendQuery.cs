using System.Text;
using PgPoolConsole.Proxy.Protocol;

namespace PgPoolConsole.Proxy.Backends;

/// <summary>Rows (text format) and the outcome of a statement the proxy ran itself.</summary>
public sealed record BackendQueryResult(IReadOnlyList<string?[]> Rows, string? CommandTag, PgErrorFields? Error)
{
    public bool Succeeded => Error is null;

    public string? Scalar => Rows.Count > 0 && Rows[0].Length > 0 ? Rows[0][0] : null;
}

/// <summary>Runs the proxy's own statements on a backend connection (simple query protocol, text results).</summary>
public static class BackendQuery
{
    // The name of the statement and portal used inside a client's batch: no client picks it.
    private const string InsideBatchName = "pgpoolconsole: lookup inside a batch";

    /// <summary>Runs <paramref name="sql"/> and reads until ReadyForQuery. Errors are returned, not thrown.</summary>
    public static async Task<BackendQueryResult> RunAsync(BackendConnection backend, string sql, CancellationToken cancellationToken)
    {
        PgWriter.Query(backend.Writer, sql);
        await backend.Writer.FlushAsync(cancellationToken);
        return await ReadAnswerAsync(backend, cancellationToken);
    }

    /// <summary>
    /// Runs <paramref name="sql"/> between the parts of an extended-query batch (after a Flush,
    /// before the client's Sync). A Query there would commit the batch's implicit transaction and
    /// drop the client's unnamed statement, so this uses a statement and portal of its own, closes
    /// both and ends with Flush. An error makes the backend skip everything up to the client's
    /// Sync: the batch has then failed on that node.
    /// </summary>
    public static async Task<BackendQueryResult> RunInsideBatchAsync(BackendConnection backend, string sql, CancellationToken cancellationToken)
    {
        BindMessage.Parse(backend.Writer, InsideBatchName, sql, []);
        PgWriter.Bind(backend.Writer, InsideBatchName, InsideBatchName);
        PgWriter.Execute(backend.Writer, InsideBatchName, 0);
        PgWriter.Close(backend.Writer, 'P', InsideBatchName);
        PgWriter.Close(backend.Writer, 'S', InsideBatchName);
        PgWriter.Flush(backend.Writer);
        await backend.Writer.FlushAsync(cancellationToken);
        return await ReadAnswerAsync(backend, closeCompletions: 2, cancellationToken);
    }

    /// <summary>Reads the answer to a Query written (and flushed) earlier, up to its ReadyForQuery.</summary>
    public static Task<BackendQueryResult> ReadAnswerAsync(BackendConnection backend, CancellationToken cancellationToken) =>
        ReadAnswerAsync(backend, closeCompletions: 0, cancellationToken);

    /// <summary>Reads up to ReadyForQuery or, when <paramref name="closeCompletions"/> is positive, that many CloseCompletes (or an error).</summary>
    private static async Task<BackendQueryResult> ReadAnswerAsync(BackendConnection backend, int closeCompletions, CancellationToken cancellationToken)
    {
        var rows = new List<string?[]>();
        string? tag = null;
        PgErrorFields? error = null;
        byte[]? scratch = null;
        for (var owedBegins = backend.TakeSentBeginAnswers(); owedBegins > 0;)
        {
            // The session's BEGIN went out in front of this statement: its answer comes first.
            var message = await backend.Reader.ReadAsync(cancellationToken);
            switch (message.TypeChar)
            {
                case 'Z':
                    backend.TransactionStatus = message.ReadyForQueryStatus();
                    owedBegins--;
                    break;
                case 'S':
                    backend.ApplyParameterStatus(message);
                    break;
            }
        }

        while (true)
        {
            var message = await backend.Reader.ReadAsync(cancellationToken);
            switch (message.TypeChar)
            {
                case 'D':
                    {
                        var payload = new PgPayload(PgPayload.Contiguous(message, ref scratch), 'D');
                        var count = payload.ReadInt16();
                        var row = new string?[count];
                        for (var i = 0; i < count; i++)
                        {
                            var length = payload.ReadInt32();
                            row[i] = length < 0 ? null : Encoding.UTF8.GetString(payload.ReadBytes(length));
                        }

                        rows.Add(row);
                        break;
                    }

                case 'C':
                    tag = PgPayload.SingleCString(message);
                    break;
                case 'E':
                    error ??= PgErrorFields.Parse(message.Payload);
                    if (closeCompletions > 0)
                    {
                        return new BackendQueryResult(rows, tag, error); // nothing more comes before the client's Sync
                    }

                    break;
                case '3' when closeCompletions > 0:
                    if (--closeCompletions == 0)
                    {
                        return new BackendQueryResult(rows, tag, error);
                    }

                    break;
                case 'S':
                    backend.ApplyParameterStatus(message);
                    break;
                case 'G':
                    PgWriter.CopyFail(backend.Writer, "pgpoolconsole: COPY is not expected here");
                    await backend.Writer.FlushAsync(cancellationToken);
                    break;
                case 'Z':
                    backend.TransactionStatus = message.ReadyForQueryStatus();
                    return new BackendQueryResult(rows, tag, error);
            }
        }
    }

    /// <summary>Quotes a value as an SQL string literal (standard_conforming_strings on).</summary>
    public static string Literal(string value) => "'" + value.Replace("'", "''", StringComparison.Ordinal) + "'";

    /// <summary>Quotes an identifier.</summary>
    public static string Identifier(string name) => "\"" + name.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
}
