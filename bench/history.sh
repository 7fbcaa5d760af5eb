#!/usr/bin/env bash
# History: W1 (TASKS noop tasks enqueued, then PROCESSES `rota worker` processes drain them)
# in a database holding HISTORY finished tasks, half of them past the queue's retention:
#   * without pruning (what the history alone costs),
#   * while `rota.prune(10000)` runs back to back in another session (a backlog of expired
#     rows, e.g. after a lowered retention),
#   * after a VACUUM (as autovacuum would do), while `rota.prune(1000)` runs paced to delete
#     as many rows per second as the empty database's W1 finishes (the steady state: every
#     finished task is deleted once),
# against the same W1 in an empty database before and after (the ratios use their mean).
# It prints the size of rota.tasks (heap + indexes) after each step, which shows whether
# new tasks reuse the space pruning freed, and the WAL bytes and time per row of one
# rota.prune(10000) after a checkpoint.
#
#   bench/history.sh                  HISTORY=1000000 TASKS=20000 PROCESSES=2 CONCURRENCY=16
#   HISTORY=10000000 bench/history.sh (issue 12's case; ~6 minutes to fill here, 5.4 GB)
#
# Databases: rota_bench_history and rota_bench_history_empty, dropped and recreated.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
# shellcheck source=bench/drain_lib.sh
. "$ROOT/bench/drain_lib.sh"

HISTORY="${HISTORY:-1000000}"
TASKS="${TASKS:-20000}"
PROCESSES="${PROCESSES:-2}"
CONCURRENCY="${CONCURRENCY:-16}"

work="$(mktemp -d)"
pruner=""
trap 'stop_workers; [ -z "$pruner" ] || kill "$pruner" 2>/dev/null || true; rm -rf "$work"' EXIT
note() { echo "bench/history: $*" >&2; }
sql() { psql -X -Atq -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
size() { sql "$1" "SELECT pg_size_pretty(pg_total_relation_size('rota.tasks')) || ' (' || (SELECT count(*) FROM rota.tasks) || ' rows)'"; }

# w1 URL: enqueue TASKS, VACUUM ANALYZE, drain; prints the rate (tasks/s)
w1() {
    local first
    first="$(sql "$1" "SELECT coalesce(max(id), 0) FROM rota.tasks")"
    sql "$1" "SELECT count(*) FROM generate_series(1, $TASKS / 1000) AS b,
              LATERAL rota.enqueue_many('bench', 'noop', array_fill(CASE WHEN b > 0 THEN '{}'::jsonb END, ARRAY[1000]))" >/dev/null
    sql "$1" "VACUUM ANALYZE rota.tasks" >/dev/null
    start_workers "$1" bench "$PROCESSES" bench
    wait_drained "$1"
    stop_workers
    drain_rate "$1" "id > $first" 1
}

# w1_pruning URL [PACE]: w1 while rota.prune runs in another session: back to back, 10,000
# rows per call, or PACE rows per second (1,000 per call); prints "RATE PRUNED"
w1_pruning() {
    local before rate pause=0 batch=10000
    if [ -n "${2:-}" ]; then
        batch=1000
        pause="$(python3 -c "print(1000 / float('$2'))")"
    fi
    before="$(sql "$1" "SELECT count(*) FROM rota.tasks")"
    ( while :; do psql -X -Atq -d "$1" -c "SELECT rota.prune($batch)" >/dev/null 2>&1 || sleep 0.1; sleep "$pause"; done ) &
    pruner=$!
    rate="$(w1 "$1")"
    kill "$pruner"; wait "$pruner" 2>/dev/null || true; pruner=""
    echo "$rate $(( before + TASKS - $(sql "$1" "SELECT count(*) FROM rota.tasks") ))"
}

empty_url="$(fresh_db rota_bench_history_empty)"
sql "$empty_url" "SELECT rota.define_queue('bench', retention => '1 day')" >/dev/null
url="$(fresh_db rota_bench_history)"
sql "$url" "SELECT rota.define_queue('bench', retention => '1 day')" >/dev/null
note "filling rota_bench_history with $HISTORY finished tasks (half past the 1 day retention) ..."
sql "$url" "
    INSERT INTO rota.tasks (queue, task, payload, state, priority, run_at, attempts, max_attempts,
                            executor, enqueued_at, started_at, finished_at)
    SELECT 'bench', 'noop', '{}', 'succeeded', 0, ts, 1, 5, 'bench-prefill', ts,
           ts + interval '1 millisecond', ts + interval '2 milliseconds'
    FROM (SELECT now() - interval '2 days' + g * (interval '2 days' / $HISTORY) AS ts
          FROM generate_series(1, $HISTORY) AS g) AS s" >/dev/null
sql "$url" "VACUUM ANALYZE rota.tasks" >/dev/null
size_filled="$(size "$url")"
# the cost of one rota.prune(10000) over expired rows: WAL bytes and time per deleted row
# (after a checkpoint, as old history pages are: their first change logs the whole page)
read -r prune_rows prune_bytes prune_ms < <(psql -X -Atq -F' ' -v ON_ERROR_STOP=1 -d "$url" <<'SQL'
CHECKPOINT;
SELECT pg_current_wal_insert_lsn() AS l0, clock_timestamp() AS t0 \gset
SELECT rota.prune(10000) AS n \gset
SELECT :n, pg_wal_lsn_diff(pg_current_wal_insert_lsn(), :'l0'),
       round(extract(epoch FROM clock_timestamp() - :'t0')::numeric * 1000, 1);
SQL
)

note "W1 in an empty database ..."
empty_before="$(w1 "$empty_url")"
note "W1 with history, no pruning ..."
hist0="$(w1 "$url")"
note "W1 with history, pruning ..."
read -r hist1 pruned1 < <(w1_pruning "$url")
size_round1="$(size "$url")"
sql "$url" "VACUUM rota.tasks" >/dev/null
note "W1 with history, pruning as fast as tasks finish ..."
read -r hist2 pruned2 < <(w1_pruning "$url" "$empty_before")
size_round2="$(size "$url")"
note "W1 in an empty database again ..."
empty_after="$(w1 "$empty_url")"

echo
echo "history: $HISTORY finished tasks, W1 $TASKS tasks, $PROCESSES processes x concurrency $CONCURRENCY," \
     "rota.prune(10000) back to back, load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$empty_before" "$empty_after" "$hist0" "$hist1" "$hist2" <<'PY'
import sys
e0, e1, h0, h1, h2 = map(float, sys.argv[1:])
e = (e0 + e1) / 2
print(f"W1 empty database              {e0:6.0f} / {e1:.0f} tasks/s (before / after)")
print(f"W1 with history, no pruning    {h0:6.0f} tasks/s  ratio {h0 / e:.2f}")
print(f"W1 with history, pruning       {h1:6.0f} tasks/s  ratio {h1 / e:.2f} (target >= 0.8)")
print(f"W1 with history, paced pruning {h2:6.0f} tasks/s  ratio {h2 / e:.2f} (after a VACUUM; prune deletes"
      f" {e0:.0f} rows/s, as many as W1 finishes: the steady state)")
PY
python3 - "$prune_rows" "$prune_bytes" "$prune_ms" <<'PY'
import sys
n, b, ms = sys.argv[1:]
print(f"one rota.prune(10000): {n} rows, {float(b) / int(n):.0f} WAL bytes and {float(ms) * 1000 / int(n):.1f} us per row")
PY
echo "pruned during the rounds: $pruned1, $pruned2 rows"
echo "rota.tasks: filled $size_filled; after the first pruning round $size_round1; after VACUUM and the second $size_round2"
