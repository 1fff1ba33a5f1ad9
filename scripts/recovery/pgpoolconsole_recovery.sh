# Helpers shared by PgPoolConsole's default recovery scripts (sourced by them, not run on its own).
# The scripts live in the main node's data directory and run there as the PostgreSQL OS user,
# like pgpool-II's. Settings may be put in pgpoolconsole_recovery.conf beside them:
#   SSH_OPTIONS="-i /var/lib/postgresql/.ssh/id_recovery"   # how to reach a target on another host
#   SSH_USER=postgres                                       # OS user on the target host
#   REPLICATION_USER=postgres                               # database user for pg_basebackup
#   PGBIN=/usr/lib/postgresql/15/bin                        # where pg_ctl and friends are
#   READY_TIMEOUT=120                                       # seconds to wait for the target
# Passwords come from ~/.pgpass of the OS user that runs the scripts.

HELPERS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if [ -f "$HELPERS_DIR/pgpoolconsole_recovery.conf" ]; then
    . "$HELPERS_DIR/pgpoolconsole_recovery.conf"
fi
SSH_OPTIONS=${SSH_OPTIONS:-}
SSH_USER=${SSH_USER:-$(id -un)}
REPLICATION_USER=${REPLICATION_USER:-postgres}
READY_TIMEOUT=${READY_TIMEOUT:-120}

# The directory of the running server's binaries: the nearest ancestor process that is a
# postgres executable (the scripts run under a backend), else pg_ctl on PATH.
find_pgbin() {
    local pid=$$ exe
    while [ "$pid" -gt 1 ] 2>/dev/null; do
        exe=$(readlink -f "/proc/$pid/exe" 2>/dev/null || true)
        case "$exe" in */postgres) dirname "$exe"; return 0 ;; esac
        pid=$(awk '{print $4}' "/proc/$pid/stat" 2>/dev/null || echo 1)
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

# Runs shell text on the target host as the same OS user: directly when it is this host,
# else over ssh.
on_target() {
    if is_local_host "$TARGET_HOST"; then
        bash -c "$1"
    else
        ssh -T -o BatchMode=yes $SSH_OPTIONS "$SSH_USER@$TARGET_HOST" "bash -c $(q "$1")"
    fi
}

# One SQL command on the main node; prints the result unaligned.
main_sql() {
    "$PGBIN/psql" -X -A -t -q -v ON_ERROR_STOP=1 -h "$MAIN_HOST" -p "$MAIN_PORT" -U "$REPLICATION_USER" -d postgres -c "$1"
}

# Shell text (for on_target) that starts the server in $pgdata detached from this process: a
# postmaster must not inherit the caller's descriptors (through SQL these are a backend's,
# and the caller waits until they close).
start_server_text() {
    cat <<TEXT
if ! $(q "$PGBIN/pg_ctl") -D "\$pgdata" status >/dev/null 2>&1; then
    for fd in /proc/\$\$/fd/*; do n=\${fd##*/}; [ "\$n" -gt 2 ] 2>/dev/null && eval "exec \$n>&-"; done 2>/dev/null || true
    $(q "$PGBIN/pg_ctl") -D "\$pgdata" -l "\$pgdata/pgpoolconsole_recovery_start.log" -w -t $READY_TIMEOUT start </dev/null >/dev/null 2>&1 \
        || { echo "the server in \$pgdata did not start:"; tail -n 20 "\$pgdata/pgpoolconsole_recovery_start.log"; exit 1; }
fi
TEXT
}
