#!/usr/bin/env bash
# Runs the isolation specs (tests/isolation/specs/*.spec) with pg_isolation_regress against
# the project-local PostgreSQL (or $DATABASE_URL's server), in a fresh database
# rota_test_iso with the schema installed. Specs run one at a time: they share the database
# and rota.reap() is global.
#
#   scripts/test-isolation.sh            every spec
#   scripts/test-isolation.sh NAME...    only these specs (file names without .spec)
#
# Results go to tests/isolation/output (git-ignored); on failure regression.diffs is
# printed and the exit status is non-zero.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

DBNAME=rota_test_iso
INPUT="$ROOT/tests/isolation"
OUTPUT="$INPUT/output"

find_regress() {
    local c
    for c in "${PG_ISOLATION_REGRESS:-}" \
        "$(pg_config --pkglibdir 2>/dev/null || true)/pgxs/src/test/isolation/pg_isolation_regress" \
        /usr/lib/postgresql/15/lib/pgxs/src/test/isolation/pg_isolation_regress; do
        if [ -n "$c" ] && [ -x "$c" ]; then
            echo "$c"
            return 0
        fi
    done
    echo "test-isolation.sh: pg_isolation_regress not found (install postgresql-server-dev-15," \
         "or set PG_ISOLATION_REGRESS)" >&2
    return 1
}
REGRESS="$(find_regress)"

url="$(fresh_db "$DBNAME")"
# the specs finish tasks with the lease tokens their claims handed out
psql -X -q -v ON_ERROR_STOP=1 -d "$url" -f "$ROOT/tests/fixtures/lease_tokens.sql" >/dev/null

# host, port, user and password of the URL (URI or key=value), one per line.
mapfile -t conn < <(python3 - "$url" <<'PY'
import shlex, sys, urllib.parse as u
url = sys.argv[1]
host = port = user = password = ""
if url.startswith(("postgres://", "postgresql://")):
    p = u.urlsplit(url)
    host, port = p.hostname or "", str(p.port or "")
    user, password = u.unquote(p.username or ""), u.unquote(p.password or "")
    q = dict(u.parse_qsl(p.query))
    host, port = q.get("host", host), q.get("port", port)
    user, password = q.get("user", user), q.get("password", password)
else:
    kv = dict(w.split("=", 1) for w in shlex.split(url) if "=" in w)
    host, port = kv.get("host", ""), kv.get("port", "")
    user, password = kv.get("user", ""), kv.get("password", "")
for v in (host, port, user, password):
    print(v)
PY
)
host="${conn[0]}" port="${conn[1]}" user="${conn[2]}" password="${conn[3]:-}"
# The project-local cluster listens on a unix socket under .rota/pg too; prefer it.
if [ -z "${DATABASE_URL:-}" ] && [ -S "${ROTA_PG_DIR:-$ROOT/.rota/pg}/.s.PGSQL.$port" ]; then
    host="${ROTA_PG_DIR:-$ROOT/.rota/pg}"
fi
[ -n "$password" ] && export PGPASSWORD="$password"

args=(--use-existing --dbname="$DBNAME" --inputdir="$INPUT" --outputdir="$OUTPUT")
[ -n "$host" ] && args+=(--host="$host")
[ -n "$port" ] && args+=(--port="$port")
[ -n "$user" ] && args+=(--user="$user")

if [ $# -gt 0 ]; then
    tests=("$@")
else
    tests=()
    for f in "$INPUT"/specs/*.spec; do
        tests+=("$(basename "$f" .spec)")
    done
fi

# A step that waits longer than this is cancelled (the default is 300 s).
export PGISOLATIONTIMEOUT="${PGISOLATIONTIMEOUT:-60}"

rm -rf "$OUTPUT"
mkdir -p "$OUTPUT"
status=0
(cd "$OUTPUT" && "$REGRESS" "${args[@]}" "${tests[@]}") || status=$?
if [ "$status" -ne 0 ]; then
    if [ -s "$OUTPUT/regression.diffs" ]; then
        echo "---- $OUTPUT/regression.diffs ----" >&2
        cat "$OUTPUT/regression.diffs" >&2
    fi
    echo "test-isolation.sh: FAILED (exit $status)" >&2
    exit "$status"
fi
echo "test-isolation.sh: all isolation specs passed"
