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

psql -X -q -v ON_ERROR_STOP=1 -d "$URL" -c 'CREATE EXTENSION IF NOT EXISTS pgtap' >/dev/null

if [ "$#" -gt 0 ]; then
    FILES=("$@")
else
    FILES=(tests/sql/*.sql)
fi
# pg_prove reads libpq settings from the environment; a URI works as the dbname.
exec pg_prove --dbname "$URL" --ext .sql --failures "${FILES[@]}"
