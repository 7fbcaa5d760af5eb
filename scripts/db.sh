#!/usr/bin/env bash
# The project-local PostgreSQL: one cluster under .rota/pg, a unix socket in that
# folder and a free localhost port. Every command is safe to run twice.
#
#   scripts/db.sh start     create once, start, print the connection string
#   scripts/db.sh stop      stop (fast shutdown)
#   scripts/db.sh restart   stop and start again (tests use it mid-run)
#   scripts/db.sh url       print the connection string of the running cluster
#   scripts/db.sh status    exit 0 when running
#   scripts/db.sh ensure    print $DATABASE_URL when set, else start the local cluster
#
# When invoked as root the server runs as the `postgres` user, because PostgreSQL
# refuses to run as root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PGBIN="${PGBIN:-$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)}"
# pg_config of the client package may point at /usr/bin; the server tools live beside postgres.
if [ ! -x "$PGBIN/initdb" ]; then
    PGBIN="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)"
fi
PGDIR="${ROTA_PG_DIR:-$ROOT/.rota/pg}"
if [ -z "${ROTA_PG_DIR:-}" ] && [ "$(id -u)" = 0 ]; then
    # As root the server runs as `postgres`, which may not reach a checkout under a private
    # home folder: then the cluster lives in a folder of its own, named after the checkout.
    mkdir -p "$PGDIR"
    chown postgres: "$PGDIR"
    if ! runuser -u postgres -- test -w "$PGDIR"; then
        PGDIR="/tmp/rota-pg-$(printf '%s' "$ROOT" | md5sum | cut -c1-12)"
        mkdir -p "$PGDIR"
        chown postgres: "$PGDIR"
    fi
fi
DATA="$PGDIR/data"
DBNAME="${ROTA_PG_DB:-rota}"
SUPERUSER=postgres

as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

port_in_use() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
# PostgreSQL listens with SO_REUSEADDR, so a port whose old connections linger in
# TIME_WAIT is free for it: probe the same way, or a restart would move the port.
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(0)
sys.exit(1)
PY
}

is_running() {
    [ -f "$DATA/postmaster.pid" ] && as_owner "$PGBIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1
}

url() {
    echo "postgresql://$SUPERUSER@127.0.0.1:$(cat "$PGDIR/port")/$DBNAME"
}

init_cluster() {
    mkdir -p "$PGDIR"
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$PGDIR"
        if ! runuser -u postgres -- test -w "$PGDIR"; then
            echo "db.sh: the postgres user cannot write $PGDIR; set ROTA_PG_DIR to a folder it can reach" >&2
            exit 1
        fi
    fi
    as_owner "$PGBIN/initdb" -D "$DATA" -U "$SUPERUSER" --auth=trust --encoding=UTF8 \
        --locale=C.UTF-8 >"$PGDIR/initdb.log" 2>&1 || {
        cat "$PGDIR/initdb.log" >&2
        exit 1
    }
    cat >>"$DATA/postgresql.conf" <<EOF

# --- rota project-local settings ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$PGDIR'
max_connections = 300
shared_buffers = 512MB
max_wal_size = 4GB
log_min_messages = warning
log_line_prefix = '%m [%p] '
shared_preload_libraries = 'pg_stat_statements'
# claimed and finished tasks leave dead index entries at the head of the ready index;
# vacuum them promptly so claims stay fast
autovacuum_naptime = 1s
EOF
}

start() {
    [ -f "$DATA/PG_VERSION" ] || init_cluster
    if ! is_running; then
        local port
        port="$(cat "$PGDIR/port" 2>/dev/null || true)"
        if [ -z "$port" ] || port_in_use "$port"; then
            port="$(free_port)"
            echo "$port" >"$PGDIR/port"
        fi
        as_owner "$PGBIN/pg_ctl" -D "$DATA" -l "$PGDIR/server.log" -o "-p $port" -w -t 60 start >/dev/null
    fi
    local port
    port="$(cat "$PGDIR/port")"
    if ! "$PGBIN/psql" -h "$PGDIR" -p "$port" -U "$SUPERUSER" -d postgres -Atqc \
        "SELECT 1 FROM pg_database WHERE datname = '$DBNAME'" | grep -q 1; then
        "$PGBIN/createdb" -h "$PGDIR" -p "$port" -U "$SUPERUSER" "$DBNAME"
    fi
    url
}

stop() {
    if is_running; then
        as_owner "$PGBIN/pg_ctl" -D "$DATA" -m fast -w -t 60 stop >/dev/null
    fi
}

case "${1:-start}" in
    start) start ;;
    stop) stop ;;
    restart)
        stop
        start
        ;;
    url)
        is_running || { echo "db.sh: the project-local PostgreSQL is not running (make db)" >&2; exit 1; }
        url
        ;;
    status) is_running ;;
    ensure)
        if [ -n "${DATABASE_URL:-}" ]; then echo "$DATABASE_URL"; else start; fi
        ;;
    *)
        echo "usage: $0 start|stop|restart|url|status|ensure" >&2
        exit 2
        ;;
esac
