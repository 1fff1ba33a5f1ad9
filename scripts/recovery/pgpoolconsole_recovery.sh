# Helpers shared by PgPoolConsole's default recovery scripts (sourced by them, not run on its own).
# The scripts live in the main node's data directory and run there as the PostgreSQL OS user,
# like pgpool-II's. Settings may be put in pgpoolconsole_recovery.conf beside them:
#   SSH_OPTIONS="-i /var/lib/postgresql/.ssh/id_recovery"   # how to reach a target on another host
#   SSH_USER=postgres                                       # OS user on the target host
#   REPLICATION_USER=postgres                               # database user for pg_basebackup
#   PGBIN=/usr/lib/postgresql/15/bin                        # where pg_ctl and friends are
#   READY_TIMEOUT=120                                       # seconds to wait for the target
# Passwords come from ~/.pgpass of the OS user that runs the scripts.

# Two of the scripts run while client traffic is paused, so these helpers start as few processes
# as they can (each fork costs milliseconds on a loaded host).
case ${BASH_SOURCE[0]} in */*) HELPERS_DIR=${BASH_SOURCE[0]%/*} ;; *) HELPERS_DIR=. ;; esac
if [ -f "$HELPERS_DIR/pgpoolconsole_recovery.conf" ]; then
    . "$HELPERS_DIR/pgpoolconsole_recovery.conf"
fi
SSH_OPTIONS=${SSH_OPTIONS:-}
SSH_USER=${SSH_USER:-}
REPLICATION_USER=${REPLICATION_USER:-postgres}
READY_TIMEOUT=${READY_TIMEOUT:-120}

# The directory of the running server's binaries: the nearest ancestor process that is a
# postgres executable (the scripts run under a backend), else pg_ctl on PATH.
find_pgbin() {
    local pid=$PPID comm exe stat
    while [ "$pid" -gt 1 ] 2>/dev/null; do
        comm=; read -r comm < "/proc/$pid/comm" 2>/dev/null || true
        if [ "$comm" = postgres ]; then
            exe=$(readlink -f "/proc/$pid/exe" 2>/dev/null || true)
            case "$exe" in */postgres) echo "${exe%/postgres}"; return 0 ;; esac
        fi
        stat=; read -r stat < "/proc/$pid/stat" 2>/dev/null || true
        stat=${stat##*) }   # the fields after "pid (comm) ": state ppid ...
        stat=${stat#* }
        pid=${stat%% *}
    done
    if command -v pg_ctl >/dev/null; then dirname "$(command -v pg_ctl)"; return 0; fi
    ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1
}
PGBIN=${PGBIN:-$(find_pgbin)}

q() { printf '%q' "$1"; }

is_local_host() {
    case "$1" in
        localhost|127.*|::1) return 0 ;;
    esac
    [ "$1" = "$(hostname)" ] && return 0
    hostname -I 2>/dev/null | tr ' ' '\n' | grep -qxF -- "$1"
}

# Runs shell text on the target host as the same OS user, with the remaining arguments as its
# positional parameters: in a subshell when the target is this host, else over ssh.
on_target() {
    local text=$1
    shift
    if is_local_host "$TARGET_HOST"; then
        ( set -- "$@"; eval "$text" )
    else
        local command="bash -c $(q "$text") on_target" argument
        for argument in "$@"; do command+=" $(q "$argument")"; done
        ssh -T -o BatchMode=yes $SSH_OPTIONS "${SSH_USER:-$(id -un)}@$TARGET_HOST" "$command"
    fi
}

# One SQL command on the main node; prints the result unaligned.
main_sql() {
    "$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h "$MAIN_HOST" -p "$MAIN_PORT" -U "$REPLICATION_USER" -d postgres -c "$1"
}

# Drops a replication slot on the main node, waiting until it is no longer active (a standby's
# WAL receiver that is stopping still holds it). Killing it stops the wait on the server too.
drop_slot_when_free() {
    main_sql "
SET client_connection_check_interval = '50ms';
DO \$drop\$
DECLARE deadline timestamptz := clock_timestamp() + interval '$READY_TIMEOUT s';
BEGIN
  LOOP
    BEGIN
      PERFORM pg_drop_replication_slot('$1');
      RETURN;
    EXCEPTION
      WHEN undefined_object THEN RETURN;
      WHEN object_in_use THEN
        IF clock_timestamp() > deadline THEN RAISE; END IF;
    END;
    PERFORM pg_sleep(0.002);
  END LOOP;
END
\$drop\$" >/dev/null
}

# Shell text (for on_target) that starts the server in "$pgdata" with the binaries in "$pgbin",
# waiting up to "$timeout" seconds, detached from this process: a postmaster must not inherit the
# caller's descriptors (through SQL these are a backend's, and the caller waits until they close).
START_SERVER_TEXT='
running=
if [ -f "$pgdata/postmaster.pid" ]; then
    read -r running < "$pgdata/postmaster.pid" && kill -0 "$running" 2>/dev/null || running=
fi
if [ -z "$running" ]; then
    for fd in /proc/$BASHPID/fd/*; do n=${fd##*/}; [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-"; done 2>/dev/null || true
    "$pgbin/pg_ctl" -D "$pgdata" -l "$pgdata/pgpoolconsole_recovery_start.log" -w -t "$timeout" start </dev/null >/dev/null 2>&1 \
        || { echo "the server in $pgdata did not start:"; tail -n 20 "$pgdata/pgpoolconsole_recovery_start.log"; exit 1; }
fi
'
