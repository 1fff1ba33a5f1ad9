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
    /// <summary>Runs <paramref name="sql"/> and reads until ReadyForQuery. Errors are returned, not thrown.</summary>
    public static async Task<BackendQueryResult> RunAsync(BackendConnection backend, string sql, CancellationToken cancellationToken)
    {
        PgWriter.Query(backend.Writer, sql);
        await backend.Writer.FlushAsync(cancellationToken);
        return await ReadAnswerAsync(backend, cancellationToken);
    }

    /// <summary>Reads the answer to a Query written (and flushed) earlier, up to its ReadyForQuery.</summary>
    public static async Task<BackendQueryResult> ReadAnswerAsync(BackendConnection backend, CancellationToken cancellationToken)
    {
        var rows = new List<string?[]>();
        string? tag = null;
        PgErrorFields? error = null;
        byte[]? scratch = null;
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
