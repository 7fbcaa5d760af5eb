# Shared helpers for the test, demo and bench scripts. Source it: `. scripts/lib.sh`.
# shellcheck shell=bash

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PATH="/opt/swift/usr/bin:/usr/lib/postgresql/15/bin:$PATH"

# The server to use: $DATABASE_URL when set, else the project-local cluster (started).
server_url() {
    "$ROOT/scripts/db.sh" ensure
}

# with_dbname URL NAME: the same server, database NAME (URI or key=value strings).
with_dbname() {
    python3 - "$1" "$2" <<'PY'
import sys, urllib.parse as u
url, name = sys.argv[1], sys.argv[2]
if url.startswith(("postgres://", "postgresql://")):
    p = u.urlsplit(url)
    print(u.urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment)))
else:
    print(f"{url} dbname={name}")
PY
}

# drop_databases NAME...: drop these databases from the server (absent ones are skipped).
drop_databases() {
    local server name
    server="$(server_url)"
    for name in "$@"; do
        psql -X -q -v ON_ERROR_STOP=1 -d "$server" -c 'SET client_min_messages = warning' \
            -c "DROP DATABASE IF EXISTS \"$name\" WITH (FORCE)" >/dev/null
    done
}

# fresh_db NAME: drop and create database NAME on the server, install the schema, print its URL.
fresh_db() {
    local server name url
    server="$(server_url)"
    name="$1"
    drop_databases "$name"
    psql -X -q -v ON_ERROR_STOP=1 -d "$server" -c "CREATE DATABASE \"$name\"" >/dev/null
    url="$(with_dbname "$server" "$name")"
    psql -X -q -v ON_ERROR_STOP=1 -d "$url" -f "$ROOT/sql/install.sql" >/dev/null
    echo "$url"
}
