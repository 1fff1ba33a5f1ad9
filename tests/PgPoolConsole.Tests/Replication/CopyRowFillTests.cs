using System.Buffers;
using System.Text;
using PgPoolConsole.Proxy.Replication;
using PgPoolConsole.Proxy.Sql;

namespace PgPoolConsole.Tests.Replication;

/// <summary>Appending default values to COPY rows, wherever the client cut its data into messages.</summary>
public sealed class CopyRowFillTests
{
    private static CopyDataLayout Layout(string options)
    {
        var sql = "COPY t (a) FROM STDIN " + options;
        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(sql, tokens);
        var stdin = tokens.FindIndex(t => SqlLexer.IsKeyword(sql, t, "stdin"));
        return CopyDataLayout.Parse(sql, tokens, stdin + 1) ?? throw new InvalidOperationException("options not understood: " + options);
    }

    /// <summary>Fills <paramref name="data"/> cut at every possible point into two and three pieces; all must agree.</summary>
    private static string Fill(CopyDataLayout layout, string data, params string?[] values)
    {
        var bytes = Encoding.UTF8.GetBytes(data);
        string Run(params int[] cuts)
        {
            var filler = new CopyRowFiller(layout, [.. values.Select((_, i) => $"c{i}")], values);
            var output = new ArrayBufferWriter<byte>();
            var start = 0;
            foreach (var cut in cuts.Append(bytes.Length))
            {
                filler.Transform(new ReadOnlySequence<byte>(bytes, start, cut - start), output);
                start = cut;
            }

            filler.Complete(output);
            return Encoding.UTF8.GetString(output.WrittenSpan);
        }

        var whole = Run();
        for (var i = 0; i <= bytes.Length; i++)
        {
            Assert.Equal(whole, Run(i));
            Assert.Equal(whole, Run(i / 2, i));
        }

        return whole;
    }

    [Fact]
    public void TextRows_GetTheFieldBeforeTheirLineEnd_EscapedNewlinesAndTheEndMarkerAreLeftAlone()
    {
        var layout = Layout("");
        Assert.Equal(
            "1\tx\tV\n2\ta\\\nb\tV\r\n3\t\\\\\tV\n\\.\n",
            Fill(layout, "1\tx\n2\ta\\\nb\r\n3\t\\\\\n\\.\n", "V"));
        Assert.Equal("last\tV", Fill(layout, "last", "V"));
        Assert.Equal("\tV\n\tV\r", Fill(layout, "\n\r", "V"));
    }

    [Fact]
    public void CsvRows_EndOnlyOutsideQuotes_AndTheHeaderGetsTheColumnNames()
    {
        Assert.Equal(
            "id,note,c0\n1,\"multi\nline\",V\n2,\"a \"\" b\",V\n",
            Fill(Layout("WITH (FORMAT csv, HEADER true)"), "id,note\n1,\"multi\nline\"\n2,\"a \"\" b\"\n", "V"));
        Assert.Equal(
            "1;'it\\'s\n';V\n",
            Fill(Layout("(FORMAT csv, DELIMITER ';', QUOTE '''', ESCAPE '\\')"), "1;'it\\'s\n'\n", "V"));
    }

    [Fact]
    public void Values_AreQuotedOrEscapedForTheirFormat_AndNullIsTheNullString()
    {
        Assert.Equal("1\ta\\tb\\\\c\t\\N\n", Fill(Layout(""), "1\n", "a\tb\\c", null));
        Assert.Equal("1,\"a,b\",\"\",\n", Fill(Layout("CSV"), "1\n", "a,b", "", null));
        Assert.Equal("1|x|NULL\n", Fill(Layout("WITH DELIMITER AS '|' NULL 'NULL'"), "1\n", "x", null));
    }

    [Fact]
    public void RandomDefaults_GetAFreshValueInEveryRow_AndTheHeaderItsName()
    {
        var filler = new CopyRowFiller(
            Layout("(FORMAT csv, HEADER)"),
            ["created", "id", "token"],
            ["2020-01-01", null, null],
            [null, new GeneratedValue(SlotKind.RandomUuid, "uuid"), new GeneratedValue(SlotKind.RandomBytes, "bytea", "4")]);
        var output = new ArrayBufferWriter<byte>();
        filler.Transform(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes("n\na\nb\n")), output);

        var lines = Encoding.UTF8.GetString(output.WrittenSpan).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("n,created,id,token", lines[0]);
        var rows = lines[1..].Select(line => line.Split(',')).ToList();
        Assert.All(rows, row => Assert.Equal("2020-01-01", row[1]));
        Assert.All(rows, row => Assert.True(Guid.TryParse(row[2], out _), row[2]));
        Assert.All(rows, row => Assert.Matches("^\\\\x[0-9a-f]{8}$", row[3]));
        Assert.NotEqual(rows[0][2], rows[1][2]);
        Assert.NotEqual(rows[0][3], rows[1][3]);
    }

    [Theory]
    [InlineData("", CopyDataFormat.Text, '\t', "\\N", false)]
    [InlineData("WITH (FORMAT csv, HEADER)", CopyDataFormat.Csv, ',', "", true)]
    [InlineData("(FORMAT text, DELIMITER E'\\t', NULL '', HEADER match)", CopyDataFormat.Text, '\t', "", true)]
    [InlineData("WITH CSV HEADER DELIMITER ';' FORCE NOT NULL a, b", CopyDataFormat.Csv, ';', "", true)]
    [InlineData("(FORMAT csv, FORCE_NOT_NULL (a), FREEZE) WHERE a > 1", CopyDataFormat.Csv, ',', "", false)]
    [InlineData("BINARY", CopyDataFormat.Binary, '\t', "\\N", false)]
    public void Options_AreReadInBothSyntaxes(string options, CopyDataFormat format, char delimiter, string nullString, bool header)
    {
        var layout = Layout(options);

        Assert.Equal((format, delimiter, nullString, header), (layout.Format, layout.Delimiter, layout.Null, layout.Header));
    }

    [Theory]
    [InlineData("(FORMAT xml)")]
    [InlineData("(DELIMITER 'ab')")]
    [InlineData("(DELIMITER $$;$$)")]
    [InlineData("WITH SOMETHING")]
    public void OptionsNotUnderstood_GiveNoLayout(string options)
    {
        var sql = "COPY t (a) FROM STDIN " + options;
        var tokens = new List<SqlToken>();
        SqlLexer.Tokenize(sql, tokens);

        Assert.Null(CopyDataLayout.Parse(sql, tokens, 7));
    }
}
