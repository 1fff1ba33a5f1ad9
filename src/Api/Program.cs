namespace PgPoolConsole.Api;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.Error.WriteLine("pgpoolconsole: not yet wired");
        return args.Length == 0 ? 1 : 1;
    }
}
