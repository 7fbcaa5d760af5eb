#!/usr/bin/env bash
# A first SQL-level measurement: the claim + complete cycle of bench/claim_complete.pgbench
# against plain `pgbench -N` (simple-update TPC-B, the server's baseline for small write
# transactions) on the same cluster, same client count, and the batched cycle of
# bench/claim_complete_many.pgbench (claim 100, complete_many 100). Under ~2 minutes.
#
#   scripts/bench-sql.sh            4 clients
#   CLIENTS=8 scripts/bench-sql.sh
#
# Databases: rota_bench (fresh, schema installed, 50,000 tasks in queue `bench`) and
# rota_pgbench (pgbench -i -s 10). Both are dropped and recreated on every run.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

CLIENTS="${CLIENTS:-4}"
[ "$CLIENTS" -le 256 ] || { echo "bench-sql.sh: at most 256 clients (executors bench-0..255)" >&2; exit 2; }
THREADS="${THREADS:-$(( $(nproc) < CLIENTS ? $(nproc) : CLIENTS ))}"
TASKS=50000
# Each client runs a fixed number of cycles so the queue never runs dry mid-run (an
# empty claim is much cheaper and would inflate the rate): 96% of the tasks in all.
CYCLES=$(( TASKS * 96 / 100 / CLIENTS ))
BASELINE_SECONDS="${BASELINE_SECONDS:-10}"

server="$(server_url)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# tps and average latency (ms) of a pgbench log: "TPS LAT".
summary() {
    local tps lat
    tps="$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$1")"
    lat="$(sed -n 's/^latency average = \([0-9.]*\) ms/\1/p' "$1")"
    echo "${tps:-?} ${lat:-?}"
}

echo "bench-sql: setting up rota_bench ($TASKS tasks) ..." >&2
bench_url="$(fresh_db rota_bench 2>"$work/fresh.err")" || { cat "$work/fresh.err" >&2; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -d "$bench_url" -f "$ROOT/bench/claim_complete_setup.sql" >/dev/null

echo "bench-sql: claim + complete, $CLIENTS clients x $CYCLES cycles ..." >&2
pgbench -n -M prepared -c "$CLIENTS" -j "$THREADS" -t "$CYCLES" \
    -f "$ROOT/bench/claim_complete.pgbench" "$bench_url" >"$work/claim.log" 2>"$work/claim.err" || {
    cat "$work/claim.log" "$work/claim.err" >&2
    exit 1
}
read -r claim_tps claim_lat < <(summary "$work/claim.log")
done_count="$(psql -X -Atq -d "$bench_url" -c \
    "SELECT count(*) FILTER (WHERE state = 'succeeded') || ' succeeded, ' ||
            count(*) FILTER (WHERE state = 'queued') || ' queued, ' ||
            count(*) FILTER (WHERE state NOT IN ('succeeded', 'queued')) || ' other'
     FROM rota.tasks WHERE queue = 'bench'")"
expected=$(( CLIENTS * CYCLES ))

# The batched path: claim 100, complete_many 100 (the cost a completion batch pays per task).
echo "bench-sql: claim 100 + complete_many 100, $CLIENTS clients ..." >&2
bench_url="$(fresh_db rota_bench 2>"$work/fresh.err")" || { cat "$work/fresh.err" >&2; exit 1; }
psql -X -q -v ON_ERROR_STOP=1 -d "$bench_url" -f "$ROOT/bench/claim_complete_setup.sql" >/dev/null
pgbench -n -M prepared -c "$CLIENTS" -j "$THREADS" -t "$(( CYCLES / 100 ))" \
    -f "$ROOT/bench/claim_complete_many.pgbench" "$bench_url" >"$work/many.log" 2>"$work/many.err" || {
    cat "$work/many.log" "$work/many.err" >&2
    exit 1
}
read -r many_tps many_lat < <(summary "$work/many.log")
many_tasks="$(python3 -c "import sys; print(f'{float(sys.argv[1]) * 100:.0f}')" "$many_tps" 2>/dev/null || echo '?')"

echo "bench-sql: baseline pgbench -N in rota_pgbench (scale 10), $CLIENTS clients, ${BASELINE_SECONDS}s ..." >&2
psql -X -q -v ON_ERROR_STOP=1 -d "$server" -c 'SET client_min_messages = warning' \
    -c 'DROP DATABASE IF EXISTS rota_pgbench WITH (FORCE)' -c 'CREATE DATABASE rota_pgbench' >/dev/null
pg_url="$(with_dbname "$server" rota_pgbench)"
pgbench -i -q -s 10 "$pg_url" >"$work/init.log" 2>&1 || { cat "$work/init.log" >&2; exit 1; }
pgbench -n -N -M prepared -c "$CLIENTS" -j "$THREADS" -T "$BASELINE_SECONDS" "$pg_url" \
    >"$work/base.log" 2>"$work/base.err" || {
    cat "$work/base.log" "$work/base.err" >&2
    exit 1
}
read -r base_tps base_lat < <(summary "$work/base.log")

ratio="$(python3 -c "import sys; a, b = sys.argv[1:]; print(f'{float(a) / float(b):.2f}')" \
    "$claim_tps" "$base_tps" 2>/dev/null || echo '?')"

echo
echo "PostgreSQL $(psql -X -Atq -d "$server" -c 'SHOW server_version'), $(nproc) CPUs, $CLIENTS clients, $THREADS threads, -M prepared," \
     "synchronous_commit=$(psql -X -Atq -d "$server" -c 'SHOW synchronous_commit'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-46s %10s %14s\n' "workload" "TPS" "latency (ms)"
printf '%-46s %10s %14s\n' "rota claim+complete cycle (2 commits each)" "$claim_tps" "$claim_lat"
printf '%-46s %10s %14s\n' "rota claim 100 + complete_many 100 cycle" "$many_tps" "$many_lat"
printf '%-46s %10s %14s\n' "pgbench -N (simple update, scale 10)" "$base_tps" "$base_lat"
echo "claim+complete cycles per second / pgbench -N TPS: $ratio"
echo "tasks per second through claim 100 + complete_many 100: $many_tasks"
echo "tasks in queue bench after the run: $done_count (expected $expected succeeded)"
