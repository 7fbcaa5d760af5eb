#!/usr/bin/env bash
# Calls per second of rota.cron_next: the PL/pgSQL implementation (rota._cron_next_plpgsql),
# the C one (rota.cron_next_c, when the extension rota_cron is installed on the server)
# and the dispatching rota.cron_next, for a few expressions; one query per measurement,
# N successive instants each (default 20000; C gets 10x as many).
#   bench/cron_next.sh [N]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/lib.sh
. "$ROOT/scripts/lib.sh"
N="${1:-20000}"

URL="$(fresh_db rota_bench_cron)"
HAVE_C=0
if psql -X -q -d "$URL" -c 'CREATE EXTENSION rota_cron' >/dev/null 2>&1; then HAVE_C=1; fi

measure() { # measure FUNCTION CRON TZ COUNT -> calls per second
    psql -X -q -At -d "$URL" -v ON_ERROR_STOP=1 <<SQL
SET TimeZone = 'UTC';
DO \$\$
DECLARE t0 timestamptz; n bigint;
BEGIN
    t0 := clock_timestamp();
    SELECT count($1('$2', t, '$3')) INTO n
      FROM generate_series(timestamptz '2026-01-01', timestamptz '2026-01-01' + ($4 - 1) * interval '97 seconds', interval '97 seconds') t;
    RAISE NOTICE '%', round(n / extract(epoch FROM clock_timestamp() - t0));
END \$\$;
SQL
}

printf '%-28s %-20s %14s %14s %16s\n' "expression" "zone" "plpgsql/s" "C/s" "cron_next/s"
while IFS='|' read -r cron tz; do
    p="$(measure rota._cron_next_plpgsql "$cron" "$tz" "$N" 2>&1 | sed -n 's/.*NOTICE: *//p')"
    if [ "$HAVE_C" = 1 ]; then
        c="$(measure rota.cron_next_c "$cron" "$tz" "$((N * 10))" 2>&1 | sed -n 's/.*NOTICE: *//p')"
        d="$(measure rota.cron_next "$cron" "$tz" "$((N * 5))" 2>&1 | sed -n 's/.*NOTICE: *//p')"
    else
        c="-"
        d="$(measure rota.cron_next "$cron" "$tz" "$N" 2>&1 | sed -n 's/.*NOTICE: *//p')"
    fi
    printf '%-28s %-20s %14s %14s %16s\n' "$cron" "$tz" "$p" "$c" "$d"
done <<'LIST'
*/5 * * * *|UTC
*/7 3-5 * * MON-FRI|Europe/Berlin
30 2 * * *|America/New_York
0 0 29 2 *|UTC
0 9 13 * FRI|Asia/Kolkata
*/10 * * * * *|Australia/Lord_Howe
LIST
[ "$HAVE_C" = 1 ] || echo "(rota_cron is not installed on this server: scripts/test-pgext.sh installs it)"
