using System.Globalization;
using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Proxy.Pcp;

namespace PgPoolConsole.Api.Cli;

/// <summary>
/// <c>pgpoolconsole pcp TOOL [options]</c>: the stock pgpool-II 4.3 pcp_* tools, with their
/// options, password handling (-w with PCPPASSFILE / ~/.pcppass, else a prompt), exit codes and
/// output, byte for byte; plus pgpool-II 2.x's positional form
/// <c>TOOL TIMEOUT HOST PORT USER PASSWORD [NODE_ID | PID | MODE]</c> (the seed tutorial's
/// <c>pcp_recovery_node 20 node1 9898 postgres postgres 1</c>).
/// </summary>
internal static class PcpCommand
{
    private const int MaxNumBackends = 128;

    private static readonly PcpTool[] Tools =
    [
        new("node-count", "pcp_node_count", "h:p:U:wWvd", ToolArgument.None, "display the total number of nodes under pgpool-II's control"),
        new("node-info", "pcp_node_info", "n:h:p:U:awWvd", ToolArgument.NodeIdOrAll, "display a pgpool-II node's information"),
        new("health-check-stats", "pcp_health_check_stats", "n:h:p:U:wWvd", ToolArgument.NodeId, "display a pgpool-II health check stats data"),
        new("proc-count", "pcp_proc_count", "h:p:U:wWvd", ToolArgument.None, "display the list of pgpool-II child process PIDs"),
        new("proc-info", "pcp_proc_info", "h:p:P:U:awWvd", ToolArgument.ProcessId, "display a pgpool-II child process' information"),
        new("pool-status", "pcp_pool_status", "h:p:U:wWvd", ToolArgument.None, "display pgpool configuration and status"),
        new("attach-node", "pcp_attach_node", "n:h:p:U:wWvd", ToolArgument.NodeId, "attach a node from pgpool-II"),
        new("detach-node", "pcp_detach_node", "n:h:p:U:gwWvd", ToolArgument.NodeId, "detach a node from pgpool-II"),
        new("recovery-node", "pcp_recovery_node", "n:h:p:U:wWvd", ToolArgument.NodeId, "recover a node"),
        new("promote-node", "pcp_promote_node", "n:h:p:U:gswWvd", ToolArgument.NodeId, "promote a node as new main from pgpool-II"),
        new("reload-config", "pcp_reload_config", "h:p:U:s:wWvd", ToolArgument.None, "reload a pgpool-II config file"),
        new("stop-pgpool", "pcp_stop_pgpool", "m:h:p:U:s:wWvda", ToolArgument.Mode, "terminate pgpool-II"),
        new("watchdog-info", "pcp_watchdog_info", "n:h:p:U:wWvd", ToolArgument.WatchdogId, "display a pgpool-II watchdog's information"),
    ];

    private static readonly Dictionary<string, char> LongOptions = new(StringComparer.Ordinal)
    {
        ["help"] = '?', ["debug"] = 'd', ["version"] = 'V', ["host"] = 'h', ["port"] = 'p', ["process-id"] = 'P',
        ["username"] = 'U', ["no-password"] = 'w', ["password"] = 'W', ["mode"] = 'm', ["scope"] = 's',
        ["gracefully"] = 'g', ["switchover"] = 's', ["verbose"] = 'v', ["all"] = 'a', ["node-id"] = 'n', ["watchdog-id"] = 'n',
    };

    private enum ToolArgument
    {
        None,
        NodeId,
        NodeIdOrAll,
        ProcessId,
        WatchdogId,
        Mode,
    }

    /// <summary>Runs the tool; returns the exit code the stock tool would (0 even when the server reports an error).</summary>
    public static async Task<int> RunAsync(IReadOnlyList<string> args, TextWriter stdout, TextWriter stderr, Func<string>? readPassword = null, CancellationToken cancellationToken = default)
    {
        if (args.Count == 0 || Find(args[0]) is not { } tool)
        {
            await stderr.WriteAsync(ToolList(args.Count == 0 ? null : args[0]));
            return 2;
        }

        var run = new PcpRun(tool, stdout, stderr, readPassword ?? ReadPasswordFromConsole);
        return await run.ExecuteAsync(args.Skip(1).ToList(), cancellationToken);
    }

    private static PcpTool? Find(string name)
    {
        var normalised = name.Replace('_', '-');
        normalised = normalised.StartsWith("pcp-", StringComparison.Ordinal) ? normalised[4..] : normalised;
        return Tools.FirstOrDefault(t => t.Name == normalised);
    }

    private static string ToolList(string? unknown)
    {
        var text = unknown is null ? "pgpoolconsole pcp: missing tool name\n" : $"pgpoolconsole pcp: unknown tool \"{unknown}\"\n";
        text += "Usage: pgpoolconsole pcp TOOL [OPTION...] [ARGUMENT]\n" +
                "       pgpoolconsole pcp TOOL [-d] TIMEOUT HOST PORT USER PASSWORD [NODE_ID | PID | MODE]   (pgpool-II 2.x form)\n" +
                "Tools:\n";
        foreach (var tool in Tools)
        {
            text += $"  {tool.Name,-20} {tool.Description}\n";
        }

        return text;
    }

    private static string ReadPasswordFromConsole() => ControlCommands.ReadPassword();

    private sealed record PcpTool(string Name, string ProgramName, string Options, ToolArgument Argument, string Description)
    {
        public bool TakesOption(char option) => Options.Contains(option, StringComparison.Ordinal);

        public bool OptionHasValue(char option)
        {
            var index = Options.IndexOf(option, StringComparison.Ordinal);
            return index >= 0 && index + 1 < Options.Length && Options[index + 1] == ':';
        }
    }

    /// <summary>One run of a tool: its options, the connection, the request and the printed result.</summary>
    private sealed class PcpRun(PcpTool tool, TextWriter stdout, TextWriter stderr, Func<string> readPassword)
    {
        private readonly string _program = tool.ProgramName;
        private string? _host;
        private int _port = 9898;
        private string? _user;
        private string? _password;
        private bool _needPassword = true;
        private bool _debug;
        private bool _verbose;
        private bool _all;
        private bool _gracefully;
        private bool _switchover;
        private bool _clusterScope;
        private char _mode = 's';
        private int _nodeId = -1;
        private int _processId;
        private TimeSpan? _timeout;

        public async Task<int> ExecuteAsync(List<string> args, CancellationToken cancellationToken)
        {
            if (args.Count > 0 && args[0] is "--help" or "-?")
            {
                await stderr.WriteAsync(Usage());
                return 0;
            }

            if (args.Count > 0 && args[0] is "-V" or "--version")
            {
                await stderr.WriteLineAsync($"{_program} (pgpoolconsole) {VersionInfo.Number}");
                return 0;
            }

            var exit = await ParseAsync(args);
            if (exit is { } code)
            {
                return code;
            }

            if (_needPassword)
            {
                await stderr.WriteAsync("Password: ");
                await stderr.FlushAsync(cancellationToken);
                _password = readPassword();
                await stderr.WriteLineAsync();
            }

            var user = _user ?? Environment.UserName;
            var password = _password ?? PcpPassFile.Find(PcpPassFile.DefaultPath(), _host, _port, user) ?? "";
            PcpClient client;
            try
            {
                client = await PcpClient.ConnectAsync(new PcpConnectOptions(_host, _port, user, password, _timeout, _debug ? stdout.WriteLine : null), cancellationToken);
            }
            catch (PcpConnectionException e)
            {
                await stderr.WriteLineAsync(e.Message);
                return 1;
            }
            catch (PcpException e)
            {
                await stderr.WriteLineAsync(e.Error.ToString());
                return 1;
            }

            await using (client)
            {
                try
                {
                    await RunToolAsync(client, cancellationToken);
                }
                catch (PcpException e)
                {
                    await stderr.WriteLineAsync(e.Error.ToString());
                }
            }

            return 0;
        }

        private async Task RunToolAsync(PcpClient client, CancellationToken cancellationToken)
        {
            var output = tool.ProgramName switch
            {
                "pcp_node_count" => PcpOutput.NodeCount(await client.NodeCountAsync(cancellationToken), _verbose),
                "pcp_node_info" => PcpOutput.NodeInfo(await client.NodeInfoAsync(_nodeId, cancellationToken), _verbose),
                "pcp_health_check_stats" => PcpOutput.HealthCheckStats(await client.HealthCheckStatsAsync(_nodeId, cancellationToken), _verbose),
                "pcp_proc_count" => PcpOutput.ProcessCount(await client.ProcessCountAsync(cancellationToken), _verbose),
                "pcp_proc_info" => PcpOutput.ProcessInfo(await client.ProcessInfoAsync(_processId, cancellationToken), _all, _verbose),
                "pcp_pool_status" => PcpOutput.PoolStatus(await client.PoolStatusAsync(cancellationToken), _verbose),
                "pcp_attach_node" => await NoDataAsync(client.AttachNodeAsync(_nodeId, cancellationToken)),
                "pcp_detach_node" => await NoDataAsync(client.DetachNodeAsync(_nodeId, _gracefully, cancellationToken)),
                "pcp_recovery_node" => await NoDataAsync(client.RecoverNodeAsync(_nodeId, cancellationToken)),
                "pcp_promote_node" => await NoDataAsync(client.PromoteNodeAsync(_nodeId, _gracefully, _switchover, cancellationToken)),
                "pcp_reload_config" => await NoDataAsync(client.ReloadConfigAsync(_clusterScope, cancellationToken)),
                "pcp_stop_pgpool" => await NoDataAsync(client.StopPgpoolAsync(_mode, _clusterScope, cancellationToken)),
                "pcp_watchdog_info" => await client.WatchdogInfoAsync(_nodeId, cancellationToken) + "\n",
                _ => throw new InvalidOperationException($"no such tool: {tool.ProgramName}"),
            };

            // The stock tools print "Command Successful" for a reply without data (no nodes, no processes, attach...).
            await stdout.WriteAsync(output.Length > 0 ? output : $"{_program} -- Command Successful\n");
        }

        private static async Task<string> NoDataAsync(Task request)
        {
            await request;
            return "";
        }

        /// <summary>Reads the options as getopt_long does (options and arguments in any order). Returns an exit code to stop with, or null.</summary>
        private async Task<int?> ParseAsync(List<string> args)
        {
            var positional = new List<string>();
            for (var i = 0; i < args.Count; i++)
            {
                var arg = args[i];
                if (arg == "--")
                {
                    positional.AddRange(args.Skip(i + 1));
                    break;
                }

                if (arg.Length < 2 || arg[0] != '-')
                {
                    positional.Add(arg);
                    continue;
                }

                if (arg.StartsWith("--", StringComparison.Ordinal))
                {
                    var (name, inline) = arg.IndexOf('=', StringComparison.Ordinal) is var eq and > 0 ? (arg[2..eq], arg[(eq + 1)..]) : (arg[2..], null);
                    if (!LongOptions.TryGetValue(name, out var option) || !(tool.TakesOption(option) || option is '?' or 'V'))
                    {
                        return await UsageErrorAsync($"{_program}: unrecognized option '{arg}'");
                    }

                    string? value = null;
                    if (tool.OptionHasValue(option) && !(option == 's' && name == "switchover"))
                    {
                        value = inline ?? (i + 1 < args.Count ? args[++i] : null);
                        if (value is null)
                        {
                            return await UsageErrorAsync($"{_program}: option '--{name}' requires an argument");
                        }
                    }

                    if (await ApplyAsync(option, value) is { } code)
                    {
                        return code;
                    }

                    continue;
                }

                for (var j = 1; j < arg.Length; j++)
                {
                    var option = arg[j];
                    if (!tool.TakesOption(option) || option == ':')
                    {
                        return await UsageErrorAsync($"{_program}: invalid option -- '{option}'");
                    }

                    string? value = null;
                    if (tool.OptionHasValue(option))
                    {
                        value = j + 1 < arg.Length ? arg[(j + 1)..] : i + 1 < args.Count ? args[++i] : null;
                        if (value is null)
                        {
                            return await UsageErrorAsync($"{_program}: option requires an argument -- '{option}'");
                        }

                        j = arg.Length;
                    }

                    if (await ApplyAsync(option, value) is { } code)
                    {
                        return code;
                    }
                }
            }

            return positional.Count >= 5 ? await ApplyLegacyFormAsync(positional) : await ApplyPositionalAsync(positional);
        }

        private async Task<int?> ApplyAsync(char option, string? value)
        {
            switch (option)
            {
                case 'd':
                    _debug = true;
                    break;
                case 'a':
                    _all = true;
                    break;
                case 'w':
                    _needPassword = false;
                    break;
                case 'W':
                    _needPassword = true;
                    break;
                case 'g':
                    _gracefully = true;
                    break;
                case 'v':
                    _verbose = true;
                    break;
                case 'h':
                    _host = value;
                    break;
                case 'U':
                    _user = value;
                    break;
                case 's' when value is null:
                    _switchover = true;
                    break;
                case 's':
                    if (value is not ("cluster" or "local"))
                    {
                        await stderr.WriteLineAsync($"{_program}: Invalid command scope \"{value}\", must be either \"cluster\" or \"local\" ");
                        return 1;
                    }

                    _clusterScope = value == "cluster";
                    break;
                case 'm':
                    if (ShutdownMode(value!) is not { } mode)
                    {
                        await stderr.WriteLineAsync($"{_program}: Invalid shutdown mode \"{value}\", must be either \"smart\" \"immediate\" or \"fast\" ");
                        return 1;
                    }

                    _mode = mode;
                    break;
                case 'n':
                    return await SetNodeIdAsync(value!);
                case 'p':
                    _port = Atoi(value!);
                    if (_port is <= 1024 or > 65535)
                    {
                        await stderr.WriteLineAsync($"{_program}: Invalid port number \"{value}\", must be between 1024 and 65535");
                        return 0;
                    }

                    break;
                case 'P':
                    _processId = Atoi(value!);
                    if (_processId <= 0)
                    {
                        await stderr.WriteLineAsync($"{_program}: Invalid process-id \"{value}\", must be greater than 0");
                        return 0;
                    }

                    break;
                case '?':
                    await stderr.WriteAsync(Usage());
                    return 0;
                case 'V':
                    await stderr.WriteLineAsync($"{_program} (pgpoolconsole) {VersionInfo.Number}");
                    return 0;
            }

            return null;
        }

        private async Task<int?> SetNodeIdAsync(string value)
        {
            _nodeId = Atoi(value);
            if (tool.Argument == ToolArgument.WatchdogId)
            {
                if (_nodeId < 0)
                {
                    await stderr.WriteLineAsync($"{_program}: Invalid watchdog-id \"{value}\", must be a positive number or zero for a local watchdog node");
                    return 0;
                }
            }
            else if (_nodeId is < 0 or > MaxNumBackends)
            {
                await stderr.WriteLineAsync($"{_program}: Invalid node-id \"{value}\", must be between 0 and {MaxNumBackends}");
                return 0;
            }

            return null;
        }

        /// <summary>The 4.x form: at most the node id (or pid, watchdog id) as a plain argument.</summary>
        private async Task<int?> ApplyPositionalAsync(List<string> positional)
        {
            foreach (var value in positional)
            {
                if (tool.Argument == ToolArgument.ProcessId && _processId <= 0)
                {
                    _processId = Atoi(value);
                    if (_processId <= 0)
                    {
                        await stderr.WriteLineAsync($"{_program}: Invalid process-id \"{value}\", must be greater than 0");
                        return 0;
                    }
                }
                else if (tool.Argument is ToolArgument.NodeId or ToolArgument.NodeIdOrAll or ToolArgument.WatchdogId && _nodeId < 0)
                {
                    if (await SetNodeIdAsync(value) is { } code)
                    {
                        return code;
                    }
                }
                else
                {
                    await stderr.WriteLineAsync($"{_program}: Warning: extra command-line argument \"{value}\" ignored");
                }
            }

            if (_nodeId < 0 && tool.Argument == ToolArgument.NodeId)
            {
                await UsageErrorAsync($"{_program}: missing node-id");
                return 1;
            }

            return null;
        }

        /// <summary>pgpool-II 2.x: TIMEOUT HOST PORT USER PASSWORD [NODE_ID | PID | MODE]; the password is given, so no prompt.</summary>
        private async Task<int?> ApplyLegacyFormAsync(List<string> positional)
        {
            if (!int.TryParse(positional[0], NumberStyles.None, CultureInfo.InvariantCulture, out var seconds)
                || !int.TryParse(positional[2], NumberStyles.None, CultureInfo.InvariantCulture, out var port))
            {
                return await UsageErrorAsync($"{_program}: in the form TIMEOUT HOST PORT USER PASSWORD, TIMEOUT and PORT must be numbers");
            }

            _timeout = seconds > 0 ? TimeSpan.FromSeconds(seconds) : null;
            _host = positional[1];
            _port = port;
            _user = positional[3];
            _password = positional[4];
            _needPassword = false;
            var extra = positional.Skip(5).ToList();
            if (tool.Argument == ToolArgument.Mode && extra.Count > 0)
            {
                if (ShutdownMode(extra[0]) is not { } mode)
                {
                    await stderr.WriteLineAsync($"{_program}: Invalid shutdown mode \"{extra[0]}\", must be either \"smart\" \"immediate\" or \"fast\" ");
                    return 1;
                }

                _mode = mode;
                extra.RemoveAt(0);
            }

            return await ApplyPositionalAsync(extra);
        }

        private async Task<int?> UsageErrorAsync(string message)
        {
            await stderr.WriteLineAsync(message);
            await stderr.WriteAsync($"Try \"{_program} --help\" for more information.\n\n");
            return 1;
        }

        private static char? ShutdownMode(string value) => value switch
        {
            "s" or "smart" => 's',
            "f" or "fast" => 'f',
            "i" or "immediate" => 'i',
            _ => null,
        };

        /// <summary>C's atoi: leading blanks and sign, then digits; 0 when there are none.</summary>
        private static int Atoi(string text)
        {
            var span = text.AsSpan().TrimStart();
            var length = span.Length > 0 && span[0] is '+' or '-' ? 1 : 0;
            while (length < span.Length && char.IsAsciiDigit(span[length]))
            {
                length++;
            }

            return int.TryParse(span[..length], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value) ? value : 0;
        }

        private string Usage()
        {
            var text = $"{_program} - {tool.Description}\nUsage:\n{_program} [OPTION...] {ArgumentName()}\n" +
                       $"       {_program} [-d] TIMEOUT HOST PORT USER PASSWORD {ArgumentName()}  (pgpool-II 2.x form)\nOptions:\n" +
                       "  -U, --username=NAME    username for PCP authentication\n" +
                       "  -h, --host=HOSTNAME    pgpool-II host\n" +
                       "  -p, --port=PORT        PCP port number\n" +
                       "  -w, --no-password      never prompt for password\n" +
                       "  -W, --password         force password prompt (should happen automatically)\n";
            foreach (var (option, help) in (ReadOnlySpan<(char, string)>)
                     [
                         ('n', "  -n, --node-id=NODEID   ID of a backend node\n"),
                         ('a', "  -a, --all              display all backend nodes information\n"),
                         ('m', "  -m, --mode=MODE        MODE can be \"smart\", \"fast\", or \"immediate\"\n"),
                         ('g', "  -g, --gracefully       promote gracefully (optional)\n"),
                         ('P', "  -P, --process-id=PID   PID of the child process to get information for (optional)\n"),
                     ])
            {
                if (tool.TakesOption(option))
                {
                    text += help;
                }
            }

            if (tool.OptionHasValue('s'))
            {
                text += "  -s, --scope=SCOPE      SCOPE can be \"cluster\", or \"local\"\n";
            }
            else if (tool.TakesOption('s'))
            {
                text += "  -s, --switchover       switchover primary to specified node (optional)\n";
            }

            return text + "  -d, --debug            enable debug message (optional)\n" +
                   "  -v, --verbose          output verbose messages\n" +
                   "  -?, --help             print this help\n\n";
        }

        private string ArgumentName() => tool.Argument switch
        {
            ToolArgument.NodeId or ToolArgument.NodeIdOrAll => "[node-id]",
            ToolArgument.ProcessId => "[process-id]",
            ToolArgument.WatchdogId => "[watchdog-id]",
            ToolArgument.Mode => "[mode]",
            _ => "",
        };
    }
}
