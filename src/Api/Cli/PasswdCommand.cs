using PgPoolConsole.Api.Hosting;
using PgPoolConsole.Proxy.Protocol;
using PgPoolConsole.Proxy.Security;

namespace PgPoolConsole.Api.Cli;

/// <summary>
/// <c>passwd</c>: adds or updates a user in the pool_passwd named by pgpool.conf (like pgpool-II's
/// <c>pg_md5 -m</c> and <c>pg_enc -m</c>). Stores a SCRAM-SHA-256 secret by default; --md5 an md5
/// hash; --aes the password encrypted with the pool key; --text the password itself.
/// </summary>
internal static class PasswdCommand
{
    private const string Usage = "usage: pgpoolconsole [-f pgpool.conf] passwd [--scram | --md5 | --aes | --text] -u USER [-p | PASSWORD]";

    public static int Run(CommandLine commandLine)
    {
        var kind = "scram";
        string? user = null;
        string? password = null;
        var prompt = false;
        var arguments = commandLine.Arguments;
        for (var i = 0; i < arguments.Count; i++)
        {
            switch (arguments[i])
            {
                case "--scram" or "--md5" or "--aes" or "--text":
                    kind = arguments[i][2..];
                    break;
                case "-u" or "--username" when i + 1 < arguments.Count:
                    user = arguments[++i];
                    break;
                case "-p" or "--prompt":
                    prompt = true;
                    break;
                case var word when !word.StartsWith('-') && password is null:
                    password = word;
                    break;
                default:
                    throw new CommandLineException(Usage);
            }
        }

        if (string.IsNullOrEmpty(user) || (password is null && !prompt))
        {
            throw new CommandLineException(Usage);
        }

        if (password is null)
        {
            Console.Write("password: ");
            password = ControlCommands.ReadPassword();
            Console.WriteLine();
        }

        var appSettings = new ConfigurationBuilder().SetBasePath(AppContext.BaseDirectory).AddJsonFile("appsettings.json", optional: true).Build();
        var loaded = ConfigurationFiles.Load(commandLine, appSettings);
        if (loaded.Options.PoolPasswd.Length == 0)
        {
            throw new CommandLineException("pool_passwd is set to '' in the configuration: there is no password file to update");
        }

        var path = ClientTls.Resolve(loaded.Options.PoolPasswd, loaded.Directory);
        var secret = kind switch
        {
            "md5" => "md5" + PgMd5.Hex(password + user),
            "text" => "TEXT" + password,
            "aes" => "AES" + PoolKey.Encrypt(password, ReadKey(loaded)),
            _ => ScramVerifier.Create(password).ToString(),
        };
        PoolPasswd.Update(path, user, secret);
        Console.WriteLine($"{path}: {kind} password for user \"{user}\" stored");
        return 0;
    }

    private static string ReadKey(LoadedConfiguration loaded)
    {
        var keyFile = PoolKey.FilePath(ClientTls.Resolve(loaded.Options.PoolKeyFile, loaded.Directory));
        return PoolKey.Read(keyFile) ?? throw new CommandLineException($"--aes needs a pool key: write one line to {keyFile} (chmod 600), or set pool_key_file");
    }
}
