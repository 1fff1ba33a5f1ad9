using PgPoolConsole.Proxy.Cluster;
namespace PgPoolConsole.Api.Cli;

/// <summary>
/// The command line, pgpool style: <c>pgpoolconsole [-f pgpool.conf] [-F pcp.conf] [-a pool_hba.conf]
/// [-n] [-d] [-D] [--urls URLS] [-m smart|fast|immediate] [stop|reload]</c>, plus our own
/// commands (md5, demo, pcp, recover, verify).
/// </summary>
public sealed class CommandLine
{
    public string? ConfigFile { get; private set; }
    public string? PcpFile { get; private set; }
    public string? HbaFile { get; private set; }
    public bool Foreground { get; private set; }
    public bool Debug { get; private set; }
    public bool DiscardStatus { get; private set; }
    public ShutdownMode Mode { get; private set; } = ShutdownMode.Smart;
    public string? Urls { get; private set; }
    public bool ShowVersion { get; private set; }
    public bool ShowHelp { get; private set; }

    /// <summary>The command word (start when empty): stop, reload, md5, demo, pcp, recover, verify.</summary>
    public string Command { get; private set; } = "start";

    /// <summary>Words after the command (for md5, pcp, recover, verify, demo).</summary>
    public List<string> Arguments { get; } = [];

    public static CommandLine Parse(IReadOnlyList<string> args)
    {
        var result = new CommandLine();
        var commandGiven = false;
        for (var i = 0; i < args.Count; i++)
        {
            var arg = args[i];
            if (result.Command == "pcp")
            {
                result.Arguments.Add(arg); // the pcp tool's own options (-h, -p, -U, -n ...)
                continue;
            }

            // As with pgpool-II (GNU getopt), options may come after the command word too:
            // "pgpool stop -m fast -f /etc/pgpool2/pgpool.conf". The commands with words of their
            // own still take the configuration files anywhere.
            if (result.TakeFileOption(args, ref i))
            {
                continue;
            }

            if (result.Command is not ("start" or "stop" or "reload"))
            {
                result.Arguments.Add(arg);
                continue;
            }

            switch (arg)
            {
                case "-n" or "--dont-detach":
                    result.Foreground = true;
                    break;
                case "-d" or "--debug":
                    result.Debug = true;
                    break;
                case "-D" or "--discard-status":
                    result.DiscardStatus = true;
                    break;
                case "-C" or "--clear-oidmaps" or "-x" or "--debug-assertions":
                    break; // pgpool options with nothing to do here
                case "-m" or "--mode":
                    result.Mode = Value(args, ref i, arg) switch
                    {
                        "s" or "smart" => ShutdownMode.Smart,
                        "f" or "fast" => ShutdownMode.Fast,
                        "i" or "immediate" => ShutdownMode.Immediate,
                        var other => throw new CommandLineException($"invalid shutdown mode \"{other}\" (allowed: smart, fast, immediate)"),
                    };
                    break;
                case "--urls":
                    result.Urls = Value(args, ref i, arg);
                    break;
                case "-v" or "--version":
                    result.ShowVersion = true;
                    break;
                case "-h" or "--help" or "-?":
                    result.ShowHelp = true;
                    break;
                case "stop" or "reload" or "md5" or "pg_md5" or "passwd" or "demo" or "pcp" or "recover" or "verify" or "start":
                    if (commandGiven)
                    {
                        throw new CommandLineException($"unexpected \"{arg}\" after the command \"{result.Command}\" (one command at a time)");
                    }

                    commandGiven = true;
                    result.Command = arg == "pg_md5" ? "md5" : arg;
                    break;
                default:
                    if (arg.StartsWith("--urls=", StringComparison.Ordinal))
                    {
                        result.Urls = arg["--urls=".Length..];
                        break;
                    }

                    throw new CommandLineException($"unrecognized argument \"{arg}\"");
            }
        }

        return result;
    }

    /// <summary>-f/--config-file, -F/--pcp-file, -a/--hba-file in any spelling getopt accepts (-fFILE, --config-file=FILE).</summary>
    private bool TakeFileOption(IReadOnlyList<string> args, ref int i)
    {
        var arg = args[i];
        foreach (var (shortName, longName, apply) in FileOptions)
        {
            if (arg == shortName || arg == longName)
            {
                apply(this, Value(args, ref i, arg));
                return true;
            }

            if (arg.StartsWith(longName + "=", StringComparison.Ordinal))
            {
                apply(this, arg[(longName.Length + 1)..]);
                return true;
            }

            if (arg.Length > 2 && arg.StartsWith(shortName, StringComparison.Ordinal) && !arg.StartsWith("--", StringComparison.Ordinal))
            {
                apply(this, arg[2..]);
                return true;
            }
        }

        return false;
    }

    private static readonly (string Short, string Long, Action<CommandLine, string> Apply)[] FileOptions =
    [
        ("-f", "--config-file", (c, v) => c.ConfigFile = v),
        ("-F", "--pcp-file", (c, v) => c.PcpFile = v),
        ("-a", "--hba-file", (c, v) => c.HbaFile = v),
    ];

    /// <summary>Splits each <c>--name=value</c> into <c>--name</c> and <c>value</c>, as getopt reads them.</summary>
    public static List<string> SplitLongOptions(IEnumerable<string> arguments) =>
        arguments.SelectMany(a => a.StartsWith("--", StringComparison.Ordinal) && a.IndexOf('=', StringComparison.Ordinal) is > 2 and var at
            ? new[] { a[..at], a[(at + 1)..] }
            : [a]).ToList();

    private static string Value(IReadOnlyList<string> args, ref int i, string option)
    {
        if (i + 1 >= args.Count)
        {
            throw new CommandLineException($"option {option} requires a value");
        }

        return args[++i];
    }

    public const string Usage = """
        pgpoolconsole: a PostgreSQL replication proxy (pgpool-II native replication mode) with a web control plane

        Usage:
          pgpoolconsole [ option... ] [ start ]
          pgpoolconsole [ -f CONFIG_FILE ] [ -m SHUTDOWN-MODE ] stop
          pgpoolconsole [ -f CONFIG_FILE ] reload
          pgpoolconsole md5 [ -p | PASSWORD ]          print the md5 of a password for pcp.conf (pg_md5)
          pgpoolconsole [ -f CONFIG_FILE ] passwd [ --scram | --md5 | --aes | --text ] -u USER [ -p | PASSWORD ]
                                                     add or update a user in pool_passwd (pg_md5 -m / pg_enc -m)
          pgpoolconsole demo [ FOLDER ]               create (first time) and run a local demo cluster (demo --help)
          pgpoolconsole pcp TOOL [ pcp options ]       run a PCP command (node-info, attach-node, recovery-node, ...)
          pgpoolconsole recover NODE_ID                online recovery of a node through the running instance
          pgpoolconsole verify [ -d DB ]... [ TABLE ... ] compare table contents on every node (verify --help)

        Common options:
          -a, --hba-file=HBA_CONFIG_FILE   set the path to the pool_hba.conf configuration file
          -f, --config-file=CONFIG_FILE    set the path to the pgpool.conf configuration file
          -F, --pcp-file=PCP_CONFIG_FILE   set the path to the pcp.conf configuration file
          -h, --help                       print this help
          --urls=URLS                      HTTP endpoint(s) of the control plane (default http://127.0.0.1:5000)

        Start options:
          -d, --debug                      debug mode
          -D, --discard-status             discard pgpool_status file and do not restore previous status
          -n, --dont-detach                don't run in daemon mode, does not detach control tty

        Stop options:
          -m, --mode=SHUTDOWN-MODE         can be "smart", "fast", or "immediate"
        """;
}

public sealed class CommandLineException(string message) : Exception(message);
