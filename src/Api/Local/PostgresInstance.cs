using PgPoolConsole.Proxy.Cluster;
using System.Globalization;
using Npgsql;

namespace PgPoolConsole.Api.Local;

/// <summary>
/// One local PostgreSQL 15 server on 127.0.0.1, in its own data directory, controlled with
/// pg_ctl and signals: for the demo command and for integration tests. Server processes run as the
/// postgres OS user when this process is root. Not thread-safe for concurrent lifecycle calls on
/// one instance beyond what its internal lock serialises (start/stop/kill/pause/resume/dispose).
/// </summary>
public sealed class PostgresInstance : IAsyncDisposable
{
    /// <summary>The superuser role every instance has (initdb -U postgres).</summary>
    public const string Superuser = "postgres";

    private static readonly TimeSpan PgCtlTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    private readonly SemaphoreSlim _lifecycle = new(1, 1);
    private bool _paused;
    private bool _disposed;

    private PostgresInstance(PostgresInstanceOptions options, int port)
    {
        Options = options;
        Port = port;
        DataDirectory = options.DataDirectory;
        SocketDirectory = PostgresConfigFiles.SocketDirectoryFor(DataDirectory);
    }

    /// <summary>The options this instance was created or opened with.</summary>
    public PostgresInstanceOptions Options { get; }

    /// <summary>The instance name (the data directory's folder name).</summary>
    public string Name => Options.Name;

    /// <summary>Always 127.0.0.1: traffic stays on the loopback interface.</summary>
    public string Host => "127.0.0.1";

    /// <summary>The TCP port the server listens on.</summary>
    public int Port { get; private set; }

    /// <summary>The data directory (PGDATA).</summary>
    public string DataDirectory { get; }

    /// <summary>The short directory holding the Unix socket (connections there are always trusted).</summary>
    public string SocketDirectory { get; }

    /// <summary>The server log (pg_ctl -l), inside the data directory.</summary>
    public string LogFile => Path.Combine(DataDirectory, "postgres.log");

    /// <summary>The postmaster's process id from postmaster.pid, when that file exists.</summary>
    public int? PostmasterPid
    {
        get
        {
            try
            {
                using var reader = new StreamReader(Path.Combine(DataDirectory, "postmaster.pid"));
                return int.TryParse(reader.ReadLine(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                return null;
            }
        }
    }

    /// <summary>True when the postmaster named in postmaster.pid is alive (paused counts as running).</summary>
    public bool IsRunning => PostmasterPid is { } pid && ProcessTree.IsAlive(pid) && ProcessTree.CommandName(pid) == "postgres";

    /// <summary>True between <see cref="PauseAsync"/> and <see cref="ResumeAsync"/>.</summary>
    public bool IsPaused => _paused;

    /// <summary>True when the data directory holds an initialised cluster.</summary>
    public static bool Exists(PostgresInstanceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return File.Exists(Path.Combine(options.DataDirectory, "PG_VERSION"));
    }

    /// <summary>
    /// Creates the data directory (a copy of the cached initdb template, or a fresh initdb when
    /// <see cref="PostgresInstanceOptions.UseTemplateCache"/> is off), writes postgresql.conf and
    /// pg_hba.conf from <paramref name="options"/>, starts the server and sets the postgres
    /// password when one is given. Returns a running instance. Fails if the directory already holds data.
    /// </summary>
    public static async Task<PostgresInstance> CreateAsync(PostgresInstanceOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        var dataDirectory = options.DataDirectory;
        if (Directory.Exists(dataDirectory) && Directory.EnumerateFileSystemEntries(dataDirectory).Any())
        {
            throw new IOException($"'{dataDirectory}' already exists and is not empty; use OpenAsync to reuse an instance.");
        }

        await OsUser.CreateDirectoryForPostgresAsync(options.BaseDirectory, cancellationToken: cancellationToken);
        await OsUser.EnsurePostgresCanEnterAsync(Path.GetFullPath(options.BaseDirectory), cancellationToken);
        if (options.ArchiveDirectory is { } archive)
        {
            await OsUser.CreateDirectoryForPostgresAsync(archive, cancellationToken: cancellationToken);
            await OsUser.ChownToPostgresAsync(archive, recursive: false, cancellationToken);
        }

        var port = options.Port != 0 ? options.Port : LocalPorts.GetFreePort();
        var instance = new PostgresInstance(options, port);
        try
        {
            await instance.InitializeDataDirectoryAsync(cancellationToken);
            await instance.StartWithPortRetryAsync(cancellationToken);
            if (options.Password is { } password)
            {
                await instance.SetPasswordOverSocketAsync(Superuser, password, cancellationToken);
            }

            return instance;
        }
        catch
        {
            // Half-made: remove it whatever KeepOnDispose says, or the next run would reuse a broken
            // directory. The exception carries the server log.
            await instance.DestroyAsync(CancellationToken.None);
            throw;
        }
    }

    /// <summary>
    /// Reopens an instance created earlier (for example by a previous demo run): rewrites the
    /// settings this code manages from <paramref name="options"/> (port 0 keeps the port on file)
    /// and returns it in whatever state it is, running or not.
    /// </summary>
    public static Task<PostgresInstance> OpenAsync(PostgresInstanceOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        if (!Exists(options))
        {
            throw new DirectoryNotFoundException($"No PostgreSQL data directory at '{options.DataDirectory}'.");
        }

        var port = options.Port;
        if (port == 0)
        {
            var onFile = PostgresConfigFiles.ReadEffectiveSetting(options.DataDirectory, "port");
            if (!int.TryParse(onFile, NumberStyles.None, CultureInfo.InvariantCulture, out port))
            {
                throw new InvalidOperationException($"'{options.DataDirectory}' has no port on file; give one in the options.");
            }
        }

        var instance = new PostgresInstance(options, port);
        instance.WriteConfiguration();
        return Task.FromResult(instance);
    }

    /// <summary>Starts the server (pg_ctl start -w) unless it runs already.</summary>
    public Task StartAsync(CancellationToken cancellationToken = default) =>
        UnderLifecycleLockAsync(() => StartCoreAsync(cancellationToken), cancellationToken);

    /// <summary>Stops the server (pg_ctl stop -m <paramref name="mode"/> -w); nothing happens when it is not running.</summary>
    public Task StopAsync(ShutdownMode mode = ShutdownMode.Fast, CancellationToken cancellationToken = default) =>
        UnderLifecycleLockAsync(() => StopCoreAsync(mode, cancellationToken), cancellationToken);

    /// <summary>A fast stop followed by a start.</summary>
    public Task RestartAsync(CancellationToken cancellationToken = default) =>
        UnderLifecycleLockAsync(
            async () =>
            {
                await StopCoreAsync(ShutdownMode.Fast, cancellationToken);
                await StartCoreAsync(cancellationToken);
            },
            cancellationToken);

    /// <summary>
    /// A crash: SIGKILL to the postmaster and every one of its processes (frozen first, so none
    /// can slip away), then waits until all are gone. The next start runs crash recovery.
    /// </summary>
    public Task KillAsync(CancellationToken cancellationToken = default) =>
        UnderLifecycleLockAsync(() => KillCoreAsync(cancellationToken), cancellationToken);

    /// <summary>
    /// Freezes the server (SIGSTOP to the postmaster, then to all its processes): the port still
    /// accepts TCP connections in the kernel but nothing answers, like a hung machine.
    /// </summary>
    public Task PauseAsync(CancellationToken cancellationToken = default) =>
        UnderLifecycleLockAsync(
            () =>
            {
                PauseCore();
                return Task.CompletedTask;
            },
            cancellationToken);

    /// <summary>Undoes <see cref="PauseAsync"/> (SIGCONT to every process of the server).</summary>
    public Task ResumeAsync(CancellationToken cancellationToken = default) =>
        UnderLifecycleLockAsync(
            () =>
            {
                ResumeCore();
                return Task.CompletedTask;
            },
            cancellationToken);

    /// <summary>
    /// An Npgsql connection string over TCP to this server, pooling off (a killed or restarted
    /// server must not leave broken pooled connections behind).
    /// </summary>
    public string ConnectionString(string database = "postgres", string user = Superuser, string? password = null)
    {
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = Host,
            Port = Port,
            Database = database,
            Username = user,
            Pooling = false,
            Timeout = 10,
            CommandTimeout = 60,
            IncludeErrorDetail = true,
        };
        if (password is not null)
        {
            builder.Password = password;
        }

        return builder.ConnectionString;
    }

    /// <summary>Runs <paramref name="sql"/> as the superuser (with the password from the options) and returns rows affected.</summary>
    public async Task<int> ExecuteAsync(string sql, string database = "postgres", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sql);
        await using var connection = new NpgsqlConnection(AdminConnectionString(database));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteNonQueryAsync(cancellationToken);
    }

    /// <summary>
    /// The first column of the first row of <paramref name="sql"/>, converted to <typeparamref name="T"/>;
    /// default when there is no row or the value is NULL.
    /// </summary>
    public async Task<T?> QueryScalarAsync<T>(string sql, string database = "postgres", CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(sql);
        await using var connection = new NpgsqlConnection(AdminConnectionString(database));
        await connection.OpenAsync(cancellationToken);
        await using var command = new NpgsqlCommand(sql, connection);
        var value = await command.ExecuteScalarAsync(cancellationToken);
        if (value is null or DBNull)
        {
            return default;
        }

        if (value is T typed)
        {
            return typed;
        }

        var target = Nullable.GetUnderlyingType(typeof(T)) ?? typeof(T);
        return (T)Convert.ChangeType(value, target, CultureInfo.InvariantCulture);
    }

    /// <summary>Polls until a superuser connection and <c>SELECT 1</c> succeed, or throws <see cref="TimeoutException"/>.</summary>
    public async Task WaitUntilAcceptingAsync(TimeSpan timeout, CancellationToken cancellationToken = default)
    {
        var deadline = DateTime.UtcNow + timeout;
        Exception? last = null;
        while (true)
        {
            var remaining = deadline - DateTime.UtcNow;
            if (remaining <= TimeSpan.Zero)
            {
                throw new TimeoutException($"Instance '{Name}' on port {Port} did not accept connections within {timeout}.", last);
            }

            // Npgsql does not always honour cancellation while waiting for the startup reply (a paused
            // server), so each attempt also carries a short connect timeout of its own.
            using var attempt = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            attempt.CancelAfter(remaining < ProbeTimeout ? remaining : ProbeTimeout);
            var probe = new NpgsqlConnectionStringBuilder(AdminConnectionString("postgres"))
            {
                Timeout = (int)Math.Max(1, Math.Ceiling(Math.Min(remaining.TotalSeconds, ProbeTimeout.TotalSeconds))),
                CommandTimeout = (int)ProbeTimeout.TotalSeconds,
            };
            try
            {
                await using var connection = new NpgsqlConnection(probe.ConnectionString);
                await connection.OpenAsync(attempt.Token);
                await using var command = new NpgsqlCommand("SELECT 1", connection);
                await command.ExecuteScalarAsync(attempt.Token);
                return;
            }
            catch (Exception ex) when ((ex is NpgsqlException or OperationCanceledException or IOException or TimeoutException)
                                       && !cancellationToken.IsCancellationRequested)
            {
                last = ex;
            }

            await Task.Delay(50, cancellationToken);
        }
    }

    /// <summary>The last <paramref name="maxLines"/> lines of the server log (empty when there is none).</summary>
    public string ReadLogTail(int maxLines = 40)
    {
        try
        {
            using var stream = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            using var reader = new StreamReader(stream);
            var lines = new Queue<string>();
            while (reader.ReadLine() is { } line)
            {
                lines.Enqueue(line);
                if (lines.Count > maxLines)
                {
                    lines.Dequeue();
                }
            }

            return string.Join('\n', lines);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return string.Empty;
        }
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} (127.0.0.1:{Port.ToString(CultureInfo.InvariantCulture)}, {DataDirectory})";

    /// <summary>
    /// Stops the server immediately and deletes its data directory and socket directory; with
    /// <see cref="PostgresInstanceOptions.KeepOnDispose"/> leaves the server and its files as they are.
    /// </summary>
    public async ValueTask DisposeAsync()
    {
        await _lifecycle.WaitAsync();
        try
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            if (!Options.KeepOnDispose)
            {
                await DestroyCoreAsync();
            }
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    /// <summary>
    /// Stops the server immediately and deletes its data directory and socket directory, whatever
    /// <see cref="PostgresInstanceOptions.KeepOnDispose"/> says. The instance is unusable afterwards.
    /// </summary>
    public Task DestroyAsync(CancellationToken cancellationToken = default) =>
        UnderLifecycleLockAsync(
            async () =>
            {
                _disposed = true;
                await DestroyCoreAsync();
            },
            cancellationToken);

    private async Task DestroyCoreAsync()
    {
        if (IsRunning)
        {
            try
            {
                await StopCoreAsync(ShutdownMode.Immediate, CancellationToken.None);
            }
            catch (InvalidOperationException)
            {
                await KillCoreAsync(CancellationToken.None);
            }
        }

        DeleteDirectory(DataDirectory);
        DeleteDirectory(SocketDirectory);
    }

    private async Task InitializeDataDirectoryAsync(CancellationToken cancellationToken)
    {
        if (Directory.Exists(DataDirectory))
        {
            Directory.Delete(DataDirectory); // empty (checked by the caller)
        }

        if (Options.UseTemplateCache)
        {
            var template = await TemplateCache.GetAsync(cancellationToken);
            // cp -a keeps owner and modes (postgres, 0700) when we are root.
            var copy = await ProcessRunner.RunAsync("cp", ["-a", "--", template, DataDirectory], timeout: TimeSpan.FromMinutes(2), cancellationToken: cancellationToken);
            copy.EnsureSuccess();
            if (!Options.FastUnsafe)
            {
                // The template was written without fsync; a durable instance gets its files synced once.
                var sync = await OsUser.RunAsPostgresAsync(PostgresBinaries.Get("initdb"), ["--sync-only", "-D", DataDirectory], TimeSpan.FromMinutes(2), cancellationToken);
                sync.EnsureSuccess();
            }
        }
        else
        {
            await OsUser.CreateDirectoryForPostgresAsync(DataDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, cancellationToken);
            List<string> arguments = ["-D", DataDirectory, .. TemplateCache.InitdbArguments];
            if (Options.FastUnsafe)
            {
                arguments.Add("--no-sync");
            }

            var initdb = await OsUser.RunAsPostgresAsync(PostgresBinaries.Get("initdb"), arguments, TimeSpan.FromMinutes(3), cancellationToken);
            initdb.EnsureSuccess();
        }

        WriteConfiguration();
    }

    private void WriteConfiguration()
    {
        PostgresConfigFiles.WriteManagedSettings(DataDirectory, PostgresConfigFiles.Settings(Options, Port, SocketDirectory));
        PostgresConfigFiles.WriteHba(DataDirectory, Options.AuthMethod);
    }

    private async Task StartWithPortRetryAsync(CancellationToken cancellationToken)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await StartCoreAsync(cancellationToken);
                return;
            }
            catch (PortInUseException) when (Options.Port == 0 && attempt < 4)
            {
                // Another process took the port between our probe and the bind: take another one.
                Port = LocalPorts.GetFreePort();
                WriteConfiguration();
            }
        }
    }

    private async Task StartCoreAsync(CancellationToken cancellationToken)
    {
        if (IsRunning)
        {
            return;
        }

        RemoveStaleLockFiles();
        await OsUser.CreateDirectoryForPostgresAsync(
            SocketDirectory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, cancellationToken);

        var logOffset = File.Exists(LogFile) ? new FileInfo(LogFile).Length : 0;
        var result = await OsUser.RunAsPostgresAsync(
            PostgresBinaries.Get("pg_ctl"),
            ["start", "-D", DataDirectory, "-l", LogFile, "-w", "-t", ((int)PgCtlTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture), "-s"],
            PgCtlTimeout + TimeSpan.FromSeconds(30),
            cancellationToken);
        _paused = false;
        if (result.Succeeded)
        {
            return;
        }

        var log = ReadLogSince(logOffset);
        var message = $"Could not start instance '{Name}' on port {Port}: {result.Describe()}\nserver log:\n{log}";
        if (log.Contains("could not bind", StringComparison.Ordinal) || log.Contains("Address already in use", StringComparison.Ordinal))
        {
            throw new PortInUseException(message);
        }

        throw new InvalidOperationException(message);
    }

    private async Task StopCoreAsync(ShutdownMode mode, CancellationToken cancellationToken)
    {
        var pid = RunningPostmasterPid();
        if (pid is null)
        {
            return;
        }

        // A frozen postmaster cannot act on the shutdown signal.
        ResumeCore();
        var modeName = mode switch
        {
            ShutdownMode.Smart => "smart",
            ShutdownMode.Fast => "fast",
            ShutdownMode.Immediate => "immediate",
            _ => throw new ArgumentOutOfRangeException(nameof(mode), mode, null),
        };
        var result = await OsUser.RunAsPostgresAsync(
            PostgresBinaries.Get("pg_ctl"),
            ["stop", "-D", DataDirectory, "-m", modeName, "-w", "-t", ((int)PgCtlTimeout.TotalSeconds).ToString(CultureInfo.InvariantCulture), "-s"],
            PgCtlTimeout + TimeSpan.FromSeconds(30),
            cancellationToken);
        if (!result.Succeeded && IsRunning)
        {
            throw new InvalidOperationException($"Could not stop instance '{Name}': {result.Describe()}");
        }

        // pg_ctl returns once postmaster.pid is gone; the process exits a moment later. Callers
        // (and tests) may rely on "stopped" meaning the process and its port are gone.
        if (pid is { } postmaster && !await ProcessTree.WaitForExitAsync(postmaster, TimeSpan.FromSeconds(10), cancellationToken))
        {
            throw new InvalidOperationException($"Instance '{Name}': postmaster {postmaster} still exists after pg_ctl stop.");
        }
    }

    private async Task KillCoreAsync(CancellationToken cancellationToken)
    {
        var pid = RunningPostmasterPid();
        if (pid is null)
        {
            return;
        }

        // Freeze the postmaster so it forks nothing while we collect its children; then kill all.
        ProcessTree.Signal(pid.Value, ProcessTree.SigStop);
        var victims = ProcessTree.Descendants(pid.Value);
        foreach (var child in victims)
        {
            ProcessTree.Signal(child, ProcessTree.SigKill);
        }

        ProcessTree.Signal(pid.Value, ProcessTree.SigKill);
        _paused = false;
        foreach (var process in victims.Append(pid.Value))
        {
            if (!await ProcessTree.WaitForExitAsync(process, TimeSpan.FromSeconds(10), cancellationToken))
            {
                throw new InvalidOperationException($"Process {process} of instance '{Name}' survived SIGKILL.");
            }
        }

        RemoveStaleLockFiles();
    }

    private async Task UnderLifecycleLockAsync(Func<Task> action, CancellationToken cancellationToken)
    {
        await _lifecycle.WaitAsync(cancellationToken);
        try
        {
            ThrowIfDisposed();
            await action();
        }
        finally
        {
            _lifecycle.Release();
        }
    }

    private void PauseCore()
    {
        var pid = RunningPostmasterPid() ?? throw new InvalidOperationException($"Instance '{Name}' is not running.");
        ProcessTree.Signal(pid, ProcessTree.SigStop);
        _paused = true;
        // The stopped postmaster forks no more, but a child may have been forking as we looked:
        // repeat until a pass finds nothing new.
        var stopped = new HashSet<int>();
        for (var pass = 0; pass < 10; pass++)
        {
            var fresh = ProcessTree.Descendants(pid).Where(stopped.Add).ToList();
            if (fresh.Count == 0)
            {
                break;
            }

            foreach (var child in fresh)
            {
                ProcessTree.Signal(child, ProcessTree.SigStop);
            }
        }
    }

    private void ResumeCore()
    {
        var pid = RunningPostmasterPid();
        if (pid is null)
        {
            _paused = false;
            return;
        }

        foreach (var child in ProcessTree.Descendants(pid.Value))
        {
            ProcessTree.Signal(child, ProcessTree.SigCont);
        }

        ProcessTree.Signal(pid.Value, ProcessTree.SigCont);
        _paused = false;
    }

    private int? RunningPostmasterPid() => IsRunning ? PostmasterPid : null;

    /// <summary>
    /// After a crash the lock files name a dead postmaster. PostgreSQL removes such files itself
    /// unless the pid still "exists": an unreaped zombie does (PID 1 in a container may never reap),
    /// so we remove them once we know the process is not running.
    /// </summary>
    private void RemoveStaleLockFiles()
    {
        if (IsRunning)
        {
            return;
        }

        var portText = Port.ToString(CultureInfo.InvariantCulture);
        foreach (var path in new[]
                 {
                     Path.Combine(DataDirectory, "postmaster.pid"),
                     Path.Combine(SocketDirectory, $".s.PGSQL.{portText}.lock"),
                     Path.Combine(SocketDirectory, $".s.PGSQL.{portText}"),
                 })
        {
            try
            {
                File.Delete(path);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Best effort: PostgreSQL reports anything left.
            }
        }
    }

    private async Task SetPasswordOverSocketAsync(string role, string password, CancellationToken cancellationToken)
    {
        // Host connections may already demand the password we are about to set; the socket is trusted.
        var builder = new NpgsqlConnectionStringBuilder
        {
            Host = SocketDirectory,
            Port = Port,
            Database = "postgres",
            Username = Superuser,
            Pooling = false,
            Timeout = 10,
        };
        await using var connection = new NpgsqlConnection(builder.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        var sql = $"ALTER ROLE \"{role.Replace("\"", "\"\"", StringComparison.Ordinal)}\" PASSWORD '{password.Replace("'", "''", StringComparison.Ordinal)}'";
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }

    private string AdminConnectionString(string database) => ConnectionString(database, Superuser, Options.Password);

    private string ReadLogSince(long offset)
    {
        try
        {
            using var stream = new FileStream(LogFile, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            stream.Seek(Math.Min(offset, stream.Length), SeekOrigin.Begin);
            using var reader = new StreamReader(stream);
            var text = reader.ReadToEnd();
            return text.Length <= 8000 ? text : text[^8000..];
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "(no server log)";
        }
    }

    private void ThrowIfDisposed() => ObjectDisposedException.ThrowIf(_disposed, this);

    private static void DeleteDirectory(string path)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                if (Directory.Exists(path))
                {
                    Directory.Delete(path, recursive: true);
                }

                return;
            }
            catch (IOException) when (attempt < 5)
            {
                // A process that was just killed may still be closing files in it.
                Thread.Sleep(100);
            }
        }
    }

    private sealed class PortInUseException(string message) : InvalidOperationException(message);
}
