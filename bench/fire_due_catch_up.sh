#!/usr/bin/env bash
# Cost of one rota.fire_due after an outage: an every-second schedule ('* * * * * *') whose
# next fire was GAP ago (default 30 days: 2.6 million missed instants), for each catch_up
# policy (all with catch_up_max 1000, the largest allowed), with the PL/pgSQL cron code and,
# when the extension rota_cron is installed on the server, with the C one. Each measurement
# is one fire_due call in its own transaction, repeated N times (default 10) in one session
# after a warm-up call (as a worker's long-lived session calls it); prints the minimum,
# median and maximum in milliseconds.
#   bench/fire_due_catch_up.sh [N] [GAP]
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/lib.sh
. "$ROOT/scripts/lib.sh"
N="${1:-10}"
GAP="${2:-30 days}"

URL="$(fresh_db rota_bench_fire_due)"
psql -X -q -v ON_ERROR_STOP=1 -d "$URL" >/dev/null <<'SQL'
SELECT rota.define_queue('bench_fire');
SELECT rota.define_schedule('every-second', '* * * * * *', 'bench_fire', 'tick');
SQL

measure() { # measure CATCH_UP CATCH_UP_MAX -> "min median max" (ms) of N calls in one session, after a warm-up call
    local i script=""
    for i in $(seq 0 "$N"); do
        script+="
DELETE FROM rota.schedule_fires;
DELETE FROM rota.tasks;
UPDATE rota.schedules SET catch_up = '$1', catch_up_max = $2, failures = 0, retry_at = NULL,
       next_fire_at = date_trunc('second', clock_timestamp()) - interval '$GAP';
SELECT clock_timestamp() AS t0 \\gset
SELECT count(*) AS fired FROM rota.fire_due('bench') \\gset
SELECT $i AS run, round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 1) AS ms;"
    done
    psql -X -q -At -F ' ' -v ON_ERROR_STOP=1 -d "$URL" <<<"$script" \
        | awk '$1 > 0 { print $2 }' | sort -n \
        | awk '{ a[NR] = $1 } END { printf "%s %s %s", a[1], a[int((NR + 1) / 2)], a[NR] }'
}

run() { # run BACKEND
    for policy in "latest 100" "none 100" "all 1000"; do
        # shellcheck disable=SC2086
        read -r mn md mx <<<"$(measure $policy)"
        printf '%-8s %-12s %10s %10s %10s\n' "$1" "${policy% *}" "$mn" "$md" "$mx"
    done
}

echo "one rota.fire_due after a gap of $GAP of an every-second schedule, $N runs each (ms)"
printf '%-8s %-12s %10s %10s %10s\n' backend catch_up min median max
run plpgsql
if psql -X -q -d "$URL" -c 'CREATE EXTENSION rota_cron' >/dev/null 2>&1; then
    run C
else
    echo "(rota_cron is not installed on this server: scripts/test-pgext.sh installs it)"
fi
