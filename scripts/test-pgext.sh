#!/usr/bin/env bash
# Builds and installs the C extension pgext/rota_cron, runs its pg_regress tests against
# the project-local PostgreSQL (or $DATABASE_URL's server), then the differential test
# (C against PL/pgSQL) in a fresh database `rota_test_pgext`; exits non-zero on failure.
# Installing writes into PostgreSQL's lib and extension folders: run as root (CI) or as
# a user who may write there.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=lib.sh
. "$ROOT/scripts/lib.sh"

echo "== build (must be free of warnings)"
make -C "$ROOT/pgext" clean >/dev/null
make -C "$ROOT/pgext" 2>&1 | tee "$ROOT/pgext/build.log" | grep -E "warning:|error:" && {
    echo "test-pgext.sh: the build printed warnings or errors (pgext/build.log)" >&2; exit 1; } || true
make -C "$ROOT/pgext" >/dev/null
echo "== install"
make -C "$ROOT/pgext" install >/dev/null

SERVER="$(server_url)"
# pg_regress takes libpq environment variables, not a URL
eval "$(python3 - "$SERVER" <<'PY'
import sys, shlex, urllib.parse as u
url = sys.argv[1]
if url.startswith(("postgres://", "postgresql://")):
    p = u.urlsplit(url)
    q = dict(u.parse_qsl(p.query))
    host = q.get("host") or p.hostname or ""
    print("export PGHOST=%s PGPORT=%s PGUSER=%s" % (shlex.quote(host), shlex.quote(str(q.get("port") or p.port or 5432)),
          shlex.quote(u.unquote(p.username or q.get("user") or "postgres"))))
    if p.password:
        print("export PGPASSWORD=%s" % shlex.quote(u.unquote(p.password)))
else:
    kv = dict(x.split("=", 1) for x in url.split())
    for k, e in (("host", "PGHOST"), ("port", "PGPORT"), ("user", "PGUSER"), ("password", "PGPASSWORD")):
        if k in kv:
            print("export %s=%s" % (e, shlex.quote(kv[k])))
PY
)"
# prefer the project-local socket when that is the server in use
if [ -z "${DATABASE_URL:-}" ] && [ -S "$ROOT/.rota/pg/.s.PGSQL.$PGPORT" ]; then
    export PGHOST="$ROOT/.rota/pg"
fi

echo "== pg_regress (make installcheck)"
if ! make -C "$ROOT/pgext" installcheck; then
    [ -f "$ROOT/pgext/regression.diffs" ] && cat "$ROOT/pgext/regression.diffs" >&2
    exit 1
fi

echo "== differential test: rota._cron_next_plpgsql vs rota.cron_next_c"
URL="$(fresh_db rota_test_pgext)"
psql -X -q -v ON_ERROR_STOP=1 -d "$URL" -c 'CREATE EXTENSION rota_cron' >/dev/null
# created after rota's install: PUBLIC may not execute it, rota_owner (rota.cron_next) may
acl="$(psql -X -Atq -v ON_ERROR_STOP=1 -d "$URL" -c "
    SELECT NOT EXISTS (SELECT 1 FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                       WHERE p.oid = 'rota.cron_next_c(text, timestamptz, text)'::regprocedure AND a.grantee = 0)
       AND has_function_privilege('rota_owner', 'rota.cron_next_c(text, timestamptz, text)', 'EXECUTE')
       AND rota.cron_next('0 0 * * *', '2026-01-01 12:00:00+00') = '2026-01-02 00:00:00+00'")"
[ "$acl" = t ] || { echo "test-pgext.sh: rota_cron created after the install: PUBLIC may execute cron_next_c, or rota_owner may not" >&2; exit 1; }
echo "ok - rota_cron created after the install: no EXECUTE for PUBLIC, rota.cron_next still uses it"
python3 "$ROOT/tests/differential/cron_diff.py" "$URL"
