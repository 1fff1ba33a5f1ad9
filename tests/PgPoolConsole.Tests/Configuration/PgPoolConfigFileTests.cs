using PgPoolConsole.Proxy.Configuration;

namespace PgPoolConsole.Tests.Configuration;

public class PgPoolConfigFileTests
{
    private static ConfigEntry Single(string text) => Assert.Single(PgPoolConfigFile.Parse(text, "pgpool.conf"));

    private static string ErrorOf(string text) =>
        Assert.Throws<ConfigException>(() => PgPoolConfigFile.Parse(text, "pgpool.conf")).Message;

    [Fact]
    public void Parse_KeyEqualsValue_ReturnsEntryWithSourceAndLine()
    {
        var entries = PgPoolConfigFile.Parse("\n# comment\nport = 9999\n", "pgpool.conf");

        var entry = Assert.Single(entries);
        Assert.Equal(new ConfigEntry("port", "9999", "pgpool.conf", 3), entry);
    }

    [Theory]
    [InlineData("port 9999")]
    [InlineData("port=9999")]
    [InlineData("  port\t=\t9999   ")]
    [InlineData("port = 9999 # trailing comment")]
    [InlineData("port = 9999# no space before the comment")]
    [InlineData("PORT = 9999")]
    [InlineData("Port = '9999'")]
    public void Parse_SpellingsOfTheSameSetting_GiveTheSameEntry(string line)
    {
        var entry = Single(line);

        Assert.Equal("port", entry.Key);
        Assert.Equal("9999", entry.Value);
    }

    [Theory]
    [InlineData("x = on", "on")]
    [InlineData("x = -1", "-1")]
    [InlineData("x = +15", "+15")]
    [InlineData("x = 0.5", "0.5")]
    [InlineData("x = .5", ".5")]
    [InlineData("x = 1e3", "1e3")]
    [InlineData("x = 0x1F", "0x1F")]
    [InlineData("x = 30s", "30s")]
    [InlineData("x = 10MB", "10MB")]
    [InlineData("x = 0600", "0600")]
    [InlineData("x = localhost", "localhost")]
    [InlineData("x = db-1.example.net", "db-1.example.net")]
    [InlineData("x = ALLOW_TO_FAILOVER", "ALLOW_TO_FAILOVER")]
    [InlineData("x = en_US.UTF-8", "en_US.UTF-8")]
    [InlineData("x = a:b/c", "a:b/c")]
    public void Parse_UnquotedValues_AreKeptAsWritten(string line, string value)
    {
        Assert.Equal(value, Single(line).Value);
    }

    [Theory]
    [InlineData("x = ''", "")]
    [InlineData("x = '*'", "*")]
    [InlineData("x = 'a # not a comment'", "a # not a comment")]
    [InlineData("x = 'it''s'", "it's")]
    [InlineData(@"x = 'it\'s'", "it's")]
    [InlineData(@"x = 'a\\b'", @"a\b")]
    [InlineData(@"x = 'line1\nline2'", "line1\nline2")]
    [InlineData(@"x = 'col1\tcol2'", "col1\tcol2")]
    [InlineData(@"x = '\101\102'", "AB")]
    [InlineData(@"x = '\q'", "q")]
    [InlineData("x = 'ABORT; DISCARD ALL'", "ABORT; DISCARD ALL")]
    public void Parse_QuotedValues_AreUnquotedAndUnescaped(string line, string value)
    {
        Assert.Equal(value, Single(line).Value);
    }

    [Fact]
    public void Parse_DuplicateKeys_ReturnsEveryOccurrenceInFileOrder()
    {
        var entries = PgPoolConfigFile.Parse("port = 1\nnum_init_children = 4\nPort = 2\n", "pgpool.conf");

        Assert.Equal(
            [("port", "1", 1), ("num_init_children", "4", 2), ("port", "2", 3)],
            entries.Select(e => (e.Key, e.Value, e.Line)));
    }

    [Fact]
    public void Parse_WindowsLineEndingsAndByteOrderMark_AreAccepted()
    {
        var entries = PgPoolConfigFile.Parse("\uFEFFport = 9999\r\nlisten_addresses = '*'\r\n", "pgpool.conf");

        Assert.Equal([("port", "9999"), ("listen_addresses", "*")], entries.Select(e => (e.Key, e.Value)));
    }

    [Fact]
    public void Parse_SeedTutorialAsPrinted_ReportsTheStrayQuoteOnItsLine()
    {
        var error = Assert.Throws<ConfigException>(() => PgPoolConfigFile.Parse(ConfigSamples.SeedAsPrinted, "pgpool.conf"));

        Assert.Equal("pgpool.conf:3: syntax error near \"node01'\": unterminated quoted string", error.Message);
        var message = Assert.Single(error.Errors);
        Assert.Equal(("pgpool.conf", 3, "backend_hostname0"), (message.Source, message.Line, message.Key));
    }

    [Fact]
    public void Parse_SeedTutorialWithTypoFixed_ReadsEveryLine()
    {
        var entries = PgPoolConfigFile.Parse(ConfigSamples.SeedFixed, "pgpool.conf");

        Assert.Equal(16, entries.Count);
        Assert.Equal(new ConfigEntry("backend_hostname0", "node01", "pgpool.conf", 3), entries[2]);
        Assert.Equal(new ConfigEntry("health_check_period", "30", "pgpool.conf", 11), entries[10]);
        Assert.Equal(
            "echo host:%h, new master id:%m, old master id:%M > /opt/pgpoolII/log/failover.log",
            entries.Single(e => e.Key == "failover_command").Value);
    }

    [Theory]
    [InlineData("x = 'abc", "pgpool.conf:1: syntax error near \"'abc\": unterminated quoted string")]
    [InlineData(@"x = 'abc\'", @"pgpool.conf:1: syntax error near ""'abc\'"": unterminated quoted string")]
    [InlineData("x = 'abc # the quote is never closed", "pgpool.conf:1: syntax error near \"'abc # the quote is never closed\": unterminated quoted string")]
    [InlineData("port =", "pgpool.conf:1: syntax error near \"port =\": missing value for parameter \"port\"")]
    [InlineData("port # 9999", "pgpool.conf:1: syntax error near \"port\": missing value for parameter \"port\"")]
    [InlineData("listen_addresses = localhost 127.0.0.1", "pgpool.conf:1: syntax error near \"127.0.0.1\": unexpected text after the value of \"listen_addresses\" (quote values that contain spaces)")]
    [InlineData("x = 'a' 'b'  # two values", "pgpool.conf:1: syntax error near \"'b'\": unexpected text after the value of \"x\" (quote values that contain spaces)")]
    [InlineData("= 5", "pgpool.conf:1: syntax error near \"= 5\": expected a parameter name")]
    [InlineData("9port = 1", "pgpool.conf:1: syntax error near \"9port = 1\": expected a parameter name")]
    [InlineData("listen_addresses = *", "pgpool.conf:1: syntax error near \"*\": an unquoted value may only be a number or a name made of letters, digits and _ - . : / (quote other values)")]
    [InlineData("socket_dir = /tmp", "pgpool.conf:1: syntax error near \"/tmp\": an unquoted value may only be a number or a name made of letters, digits and _ - . : / (quote other values)")]
    [InlineData("include 'other.conf'", "pgpool.conf:1: \"include\" is not supported by PgPoolConsole; copy the included settings into this file")]
    [InlineData("include_dir = 'conf.d'", "pgpool.conf:1: \"include_dir\" is not supported by PgPoolConsole; copy the included settings into this file")]
    [InlineData("include_if_exists 'local.conf'", "pgpool.conf:1: \"include_if_exists\" is not supported by PgPoolConsole; copy the included settings into this file")]
    public void Parse_Malformed_ThrowsNamingFileLineAndProblem(string text, string message)
    {
        Assert.Equal(message, ErrorOf(text));
    }

    [Fact]
    public void Parse_SeveralMalformedLines_ReportsAllOfThemInLineOrder()
    {
        var error = Assert.Throws<ConfigException>(() =>
            PgPoolConfigFile.Parse("port = 9999\nhost = node01'\nnum_init_children =\nmax_pool = 4\n", "my.conf"));

        Assert.Equal(
            "my.conf:2: syntax error near \"node01'\": unterminated quoted string\n"
            + "my.conf:3: syntax error near \"num_init_children =\": missing value for parameter \"num_init_children\"",
            error.Message);
        Assert.Equal([2, 3], error.Errors.Select(e => e.Line));
    }
}
