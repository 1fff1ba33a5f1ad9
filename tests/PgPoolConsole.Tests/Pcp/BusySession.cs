using Npgsql;
using PgPoolConsole.Proxy.Cluster;
using PgPoolConsole.Tests.Infrastructure;
using PgPoolConsole.Tests.Integration;

namespace PgPoolConsole.Tests.Pcp;

/// <summary>
/// A client session through the proxy, in a database of its own, running <c>pg_sleep</c> so that
/// what pcp_proc_info reports about it (status, idle duration) holds still while a test looks.
/// </summary>
internal sealed class BusySession : IAsyncDisposable
{
    private readonly NpgsqlConnection _connection;
    private readonly CancellationTokenSource _cancel;
    private readonly Task _sleep;

    private BusySession(NpgsqlConnection connection, CancellationTokenSource cancel, Task sleep, string database, IProxySession session)
    {
        _connection = connection;
        _cancel = cancel;
        _sleep = sleep;
        Database = database;
        Session = session;
    }

    public string Database { get; }

    /// <summary>The proxy's session (its id stands in for pgpool's child pid).</summary>
    public IProxySession Session { get; }

    public static async Task<BusySession> StartAsync(ProxyFixture fixture, string prefix, TimeSpan sleep)
    {
        var database = await fixture.CreateDatabaseAsync(prefix);
        var connection = new NpgsqlConnection(fixture.ConnectionString(database));
        await connection.OpenAsync();
        var command = new NpgsqlCommand($"SELECT pg_sleep({sleep.TotalSeconds})", connection) { CommandTimeout = 0 };
        var cancel = new CancellationTokenSource();
        var running = command.ExecuteNonQueryAsync(cancel.Token);
        IProxySession? session = null;
        await Eventually.TrueAsync(
            () => (session = fixture.Host.Store.Sessions.List().FirstOrDefault(s => s.Database == database && s.Activity == SessionActivity.Active && s.Backends.Count == 2)) is not null,
            TimeSpan.FromSeconds(30), $"the session in {database} runs pg_sleep on both nodes");
        return new BusySession(connection, cancel, running.ContinueWith(_ => command.Dispose(), TaskScheduler.Default), database, session!);
    }

    /// <summary>Waits until this is the only session of the product (earlier tests' sessions have ended).</summary>
    public static Task WaitUntilOnlyAsync(ProxyFixture fixture, params BusySession[] sessions) =>
        Eventually.TrueAsync(
            () => fixture.Host.Store.Sessions.List().Select(s => s.Id).Order().SequenceEqual(sessions.Select(s => s.Session.Id).Order()),
            TimeSpan.FromSeconds(30),
            () => "only the test's own sessions are left; also left: " + string.Join("; ", fixture.Host.Store.Sessions.List()
                .Where(s => !sessions.Any(own => own.Session.Id == s.Id))
                .Select(s => $"session {s.Id} in {s.Database} ({s.ApplicationName}), {s.Activity} since {s.LastActivity:HH:mm:ss.fff}, started {s.StartedAt:HH:mm:ss.fff}")));

    public async ValueTask DisposeAsync()
    {
        await _cancel.CancelAsync(); // Npgsql sends a cancel request through the proxy
        if (!await EndsWithinAsync(TimeSpan.FromSeconds(10)))
        {
            // The client's cancel request did not end it (a loaded machine): cancel from the proxy's side, so the
            // session does not outlive this test by the rest of its pg_sleep and unsettle the next one.
            await Session.CancelAsync(CancellationToken.None);
            await EndsWithinAsync(TimeSpan.FromSeconds(20));
        }

        await _connection.DisposeAsync();
        _cancel.Dispose();
    }

    private async Task<bool> EndsWithinAsync(TimeSpan timeout)
    {
        try
        {
            await _sleep.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }
}
