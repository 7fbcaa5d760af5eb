#!/usr/bin/env bash
# Runs the pgTAP tests of the SQL layer (tests/sql/*.sql) against a fresh database
# `rota_test_sql` with the schema installed; exits non-zero on any failure.
#   scripts/test-sql.sh            all files
#   scripts/test-sql.sh FILE...    only these
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
. "$ROOT/scripts/lib.sh"

command -v pg_prove >/dev/null || { echo "test-sql.sh: pg_prove not found (apt-get install libtap-parser-sourcehandler-pgtap-perl)" >&2; exit 1; }

cd "$ROOT"
URL="$(fresh_db rota_test_sql)"

# install.sql must be a no-op the second time, and safe from two processes at once.
schema_dump() { pg_dump --schema-only --schema=rota -d "$1" | grep -v '^\\\(un\)\?restrict'; psql -X -Atq -d "$1" -c 'SELECT version, name, checksum FROM rota._migrations ORDER BY 1' -c 'SELECT name, checksum FROM rota._code ORDER BY 1'; }
before="$(schema_dump "$URL")"
psql -X -q -v ON_ERROR_STOP=1 -d "$URL" -f sql/install.sql >/dev/null
if [ "$before" != "$(schema_dump "$URL")" ]; then
    echo "test-sql.sh: a second install.sql changed the schema" >&2
    diff <(echo "$before") <(schema_dump "$URL") >&2 || true
    exit 1
fi
echo "ok - install.sql twice: no change"
"$ROOT/scripts/schema-snapshot.sh" --check "$URL"
CONC="$(with_dbname "$(server_url)" rota_test_install)"
psql -X -q -v ON_ERROR_STOP=1 -d "$(server_url)" -c 'DROP DATABASE IF EXISTS rota_test_install WITH (FORCE)' \
    -c 'CREATE DATABASE rota_test_install' >/dev/null 2>&1
pids=()
for _ in 1 2 3; do
    psql -X -q -v ON_ERROR_STOP=1 -d "$CONC" -f sql/install.sql >/dev/null &
    pids+=("$!")
done
for pid in "${pids[@]}"; do
    wait "$pid" || { echo "test-sql.sh: a concurrent install.sql failed" >&2; exit 1; }
done
if [ "$before" != "$(schema_dump "$CONC")" ]; then
    echo "test-sql.sh: three concurrent installs gave a different schema" >&2
    exit 1
fi
psql -X -q -d "$(server_url)" -c 'DROP DATABASE IF EXISTS rota_test_install WITH (FORCE)' >/dev/null 2>&1
echo "ok - install.sql from three processes at once: same schema"

# Installs and rota.apply serialise on locks only rota's installers and admins can take: a
# role with nothing but CONNECT neither blocks them (holding the advisory locks earlier
# releases used) nor can take their locks itself.
psql -X -q -d "$URL" -c 'SET client_min_messages = warning' -c 'DROP ROLE IF EXISTS rota_test_outsider' -c 'CREATE ROLE rota_test_outsider LOGIN' >/dev/null
OUTSIDER="$(python3 - "$URL" <<'PY'
import sys, urllib.parse as u
url = sys.argv[1]
if url.startswith(("postgres://", "postgresql://")):
    p = u.urlsplit(url)
    host = p.netloc.rsplit("@", 1)[-1]
    print(u.urlunsplit((p.scheme, "rota_test_outsider@" + host, p.path, p.query, p.fragment)))
else:
    print(url + " user=rota_test_outsider")
PY
)"
psql -X -q -d "$OUTSIDER" -c "SELECT pg_advisory_lock(hashtext('rota.install')), pg_advisory_lock(hashtext('rota.apply'))" \
    -c 'SELECT pg_sleep(60)' >/dev/null 2>&1 &
outsider_pid=$!
for _ in $(seq 1 100); do
    held="$(psql -X -Atq -d "$URL" -c "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                                         WHERE l.locktype = 'advisory' AND a.usename = 'rota_test_outsider'")"
    [ "$held" = 2 ] && break
    sleep 0.1
done
[ "$held" = 2 ] || { echo "test-sql.sh: the outsider never took its advisory locks" >&2; kill "$outsider_pid"; exit 1; }
if ! PGOPTIONS='-c lock_timeout=5s' psql -X -q -v ON_ERROR_STOP=1 -d "$URL" -f sql/install.sql >/dev/null; then
    echo "test-sql.sh: an install waited for a lock that a role with only CONNECT holds" >&2
    kill "$outsider_pid"; exit 1
fi
if psql -X -q -v ON_ERROR_STOP=1 -d "$OUTSIDER" -c 'BEGIN' -c 'LOCK TABLE rota._migrations IN EXCLUSIVE MODE' >/dev/null 2>&1; then
    echo "test-sql.sh: a role with only CONNECT could take the install lock" >&2
    kill "$outsider_pid"; exit 1
fi
# (rolled back: the pgTAP files below start from a database without definitions)
if ! PGOPTIONS='-c lock_timeout=5s' psql -X -q -v ON_ERROR_STOP=1 -d "$URL" -c 'BEGIN' \
        -c "SELECT rota.apply('{\"version\": 1, \"queues\": [{\"name\": \"outsider-test\"}]}')" -c 'ROLLBACK' >/dev/null; then
    echo "test-sql.sh: rota.apply waited for a lock that a role with only CONNECT holds" >&2
    kill "$outsider_pid"; exit 1
fi
if psql -X -q -v ON_ERROR_STOP=1 -d "$OUTSIDER" -c 'BEGIN' -c 'LOCK TABLE rota.definitions IN SHARE ROW EXCLUSIVE MODE' >/dev/null 2>&1; then
    echo "test-sql.sh: a role with only CONNECT could take the lock of rota.apply" >&2
    kill "$outsider_pid"; exit 1
fi
kill "$outsider_pid"; wait "$outsider_pid" 2>/dev/null || true
psql -X -q -d "$URL" -c 'DROP ROLE rota_test_outsider' >/dev/null
echo "ok - a role with only CONNECT can neither block an install or rota.apply nor take their locks"

psql -X -q -v ON_ERROR_STOP=1 -d "$URL" -c 'CREATE EXTENSION IF NOT EXISTS pgtap' >/dev/null

if [ "$#" -gt 0 ]; then
    FILES=("$@")
else
    FILES=(tests/sql/*.sql)
fi
# pg_prove reads libpq settings from the environment; a URI works as the dbname.
exec pg_prove --dbname "$URL" --ext .sql --failures "${FILES[@]}"
