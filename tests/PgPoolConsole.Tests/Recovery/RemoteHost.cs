using System.Globalization;
using PgPoolConsole.Api.Local;

namespace PgPoolConsole.Tests.Recovery;

/// <summary>
/// A second "machine" on this one: a network namespace joined to this host by a veth pair
/// (10.213.N.1 here, 10.213.N.2 inside), with an sshd inside that lets the postgres OS user in
/// with a key of the test's own. Traffic never leaves this machine. Needs root.
/// </summary>
public sealed class RemoteHost : IAsyncDisposable
{
    private readonly string _directory;
    private bool _created;

    private RemoteHost(string directory, int subnet)
    {
        _directory = directory;
        Name = $"pgpc{subnet.ToString(CultureInfo.InvariantCulture)}";
        LocalAddress = $"10.213.{subnet.ToString(CultureInfo.InvariantCulture)}.1";
        Address = $"10.213.{subnet.ToString(CultureInfo.InvariantCulture)}.2";
        Subnet = $"10.213.{subnet.ToString(CultureInfo.InvariantCulture)}.0/24";
    }

    public string Name { get; }

    /// <summary>This host's address on the link.</summary>
    public string LocalAddress { get; }

    /// <summary>The remote host's address.</summary>
    public string Address { get; }

    public string Subnet { get; }

    /// <summary>The private key the postgres user logs in with (mode 600, owned by postgres).</summary>
    public string KeyPath => Path.Combine(_directory, "id_ed25519");

    /// <summary>ssh options for the recovery scripts' SSH_OPTIONS.</summary>
    public string SshOptions => $"-i {KeyPath} -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10";

    public static async Task<RemoteHost> CreateAsync(string directory)
    {
        Directory.CreateDirectory(directory);
        var host = new RemoteHost(directory, Random.Shared.Next(1, 250));
        try
        {
            await host.SetUpAsync();
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }

        return host;
    }

    private async Task SetUpAsync()
    {
        var outside = "vh" + Name[4..];
        var inside = "vn" + Name[4..];
        await RunAsync("ip", "netns", "add", Name);
        _created = true;
        await RunAsync("ip", "link", "add", outside, "type", "veth", "peer", "name", inside);
        await RunAsync("ip", "link", "set", inside, "netns", Name);
        await RunAsync("ip", "addr", "add", LocalAddress + "/24", "dev", outside);
        await RunAsync("ip", "link", "set", outside, "up");
        await RunAsync("ip", "netns", "exec", Name, "ip", "addr", "add", Address + "/24", "dev", inside);
        await RunAsync("ip", "netns", "exec", Name, "ip", "link", "set", inside, "up");
        await RunAsync("ip", "netns", "exec", Name, "ip", "link", "set", "lo", "up");

        await RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", Path.Combine(_directory, "host_key"));
        await RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", KeyPath);
        File.Copy(KeyPath + ".pub", Path.Combine(_directory, "authorized_keys"));
        await OsUser.ChownToPostgresAsync(KeyPath, recursive: false);
        Directory.CreateDirectory("/run/sshd");
        var config = Path.Combine(_directory, "sshd_config");
        await File.WriteAllTextAsync(config, string.Join('\n',
            $"ListenAddress {Address}",
            "Port 22",
            $"HostKey {Path.Combine(_directory, "host_key")}",
            $"PidFile {Path.Combine(_directory, "sshd.pid")}",
            $"AuthorizedKeysFile {Path.Combine(_directory, "authorized_keys")}",
            "AllowUsers postgres",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "UsePAM yes",
            "StrictModes no",
            ""));
        await RunAsync("ip", "netns", "exec", Name, "/usr/sbin/sshd", "-f", config, "-E", Path.Combine(_directory, "sshd.log"));
        await Infrastructure.Eventually.TrueAsync(() => File.Exists(Path.Combine(_directory, "sshd.pid")), TimeSpan.FromSeconds(10), "sshd starts in the namespace");
    }

    public async ValueTask DisposeAsync()
    {
        var pidFile = Path.Combine(_directory, "sshd.pid");
        if (File.Exists(pidFile) && int.TryParse((await File.ReadAllTextAsync(pidFile)).Trim(), CultureInfo.InvariantCulture, out var pid))
        {
            await ProcessRunner.RunAsync("kill", [pid.ToString(CultureInfo.InvariantCulture)], timeout: TimeSpan.FromSeconds(10));
        }

        if (_created)
        {
            await ProcessRunner.RunAsync("ip", ["link", "del", "vh" + Name[4..]], timeout: TimeSpan.FromSeconds(10));
            await ProcessRunner.RunAsync("ip", ["netns", "del", Name], timeout: TimeSpan.FromSeconds(10));
        }
    }

    private static async Task RunAsync(string file, params string[] arguments) =>
        (await ProcessRunner.RunAsync(file, arguments, timeout: TimeSpan.FromSeconds(30))).EnsureSuccess();
}
