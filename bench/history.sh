#!/usr/bin/env bash
# History: W1 (TASKS noop tasks enqueued, then PROCESSES `rota worker` processes drain them)
# in a database holding HISTORY finished tasks spread over the last two days, and 3 x TASKS
# older ones that finished EXPIRE_RATE (20,000, about W1's rate here) per second:
#   * none of them due (the queue's retention is 30 days): what the history costs, the
#     workers' pruners looking now and then (one index probe per queue);
#   * the steady state: the retention set as the drain starts so that the older tasks
#     expire EXPIRE_RATE per second, as tasks finished one retention earlier at that rate
#     would; the workers delete them as they expire;
#   * half of them past the queue's retention (lowered to 1 day: a backlog of expired rows):
#     the workers delete them as they drain (their own pruning: batches of 1,000 paced at
#     --prune-rate rows/s plus 1.5 per task they finish), the product's steady behaviour;
#   * the same while `rota.prune(10000)` also runs back to back in another session (an
#     unpaced pruner of the user's own, e.g. a cron job: the worst case),
# against the same W1 in an empty database before and after (the ratios use their mean).
# It prints the rows deleted during each round and the size of rota.tasks after it, and
# the cost of one rota.prune(10000): with nothing due, and over expired rows after a
# checkpoint (WAL bytes and time per deleted row).
#
#   bench/history.sh                  HISTORY=1000000 TASKS=20000 EXPIRE_RATE=20000 PROCESSES=2 CONCURRENCY=16
#   HISTORY=10000000 bench/history.sh (issue 12's case; ~6 minutes to fill here, 5.4 GB)
#
# Databases: rota_bench_history and rota_bench_history_empty, created afresh and dropped at the end.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"
# shellcheck source=bench/drain_lib.sh
. "$ROOT/bench/drain_lib.sh"

HISTORY="${HISTORY:-1000000}"
TASKS="${TASKS:-20000}"
EXPIRE_RATE="${EXPIRE_RATE:-20000}"
PROCESSES="${PROCESSES:-2}"
CONCURRENCY="${CONCURRENCY:-16}"

work="$(mktemp -d)"
pruner=""
trap 'stop_workers; [ -z "$pruner" ] || kill "$pruner" 2>/dev/null || true; rm -rf "$work"' EXIT
note() { echo "bench/history: $*" >&2; }
sql() { psql -X -Atq -v ON_ERROR_STOP=1 -d "$1" -c "$2"; }
size() { sql "$1" "SELECT pg_size_pretty(pg_total_relation_size('rota.tasks')) || ' (' || (SELECT count(*) FROM rota.tasks) || ' rows)'"; }

# w1 URL [SQL]: enqueue TASKS, VACUUM ANALYZE, run SQL, drain; prints the rate (tasks/s). A
# CHECKPOINT first, so that every round starts alike (not inside the checkpoint that
# filling or pruning the history set off).
w1() {
    local first
    sql "$1" "CHECKPOINT" >/dev/null
    first="$(sql "$1" "SELECT coalesce(max(id), 0) FROM rota.tasks")"
    sql "$1" "SELECT count(*) FROM generate_series(1, $TASKS / 1000) AS b,
              LATERAL rota.enqueue_many('bench', 'noop', array_fill(CASE WHEN b > 0 THEN '{}'::jsonb END, ARRAY[1000]))" >/dev/null
    sql "$1" "VACUUM ANALYZE rota.tasks" >/dev/null
    [ -z "${2:-}" ] || sql "$1" "$2" >/dev/null
    start_workers "$1" bench "$PROCESSES" bench
    wait_drained "$1"
    stop_workers
    drain_rate "$1" "id > $first" 1
}

# w1_deleting URL [BACK_TO_BACK [SQL]]: w1 (running SQL before the drain), with rota.prune(10000)
# back to back in another session when BACK_TO_BACK is "yes"; prints "RATE DELETED" (rows
# deleted meanwhile, by anyone)
w1_deleting() {
    local before rate
    before="$(sql "$1" "SELECT count(*) FROM rota.tasks")"
    if [ "${2:-}" = yes ]; then
        ( while :; do psql -X -Atq -d "$1" -c "SELECT rota.prune(10000)" >/dev/null 2>&1 || sleep 0.1; done ) &
        pruner=$!
    fi
    rate="$(w1 "$1" "${3:-}")"
    if [ -n "$pruner" ]; then
        kill "$pruner"; wait "$pruner" 2>/dev/null || true; pruner=""
    fi
    echo "$rate $(( before + TASKS - $(sql "$1" "SELECT count(*) FROM rota.tasks") ))"
}

empty_url="$(fresh_db rota_bench_history_empty)"
sql "$empty_url" "SELECT rota.define_queue('bench', retention => '1 day')" >/dev/null
url="$(fresh_db rota_bench_history)"
sql "$url" "SELECT rota.define_queue('bench', retention => '30 days')" >/dev/null
note "filling rota_bench_history with $HISTORY finished tasks over the last two days and $((3 * TASKS)) older ones ..."
sql "$url" "
    INSERT INTO rota.tasks (queue, task, payload, state, priority, run_at, attempts, max_attempts,
                            executor, enqueued_at, started_at, finished_at)
    SELECT 'bench', 'noop', '{}', 'succeeded', 0, ts, 1, 5, 'bench-prefill', ts, ts, ts
    FROM (SELECT now() - interval '3 days' + g * (interval '1 second' / $EXPIRE_RATE) AS ts
          FROM generate_series(1, 3 * $TASKS) AS g) AS s" >/dev/null
sql "$url" "
    INSERT INTO rota.tasks (queue, task, payload, state, priority, run_at, attempts, max_attempts,
                            executor, enqueued_at, started_at, finished_at)
    SELECT 'bench', 'noop', '{}', 'succeeded', 0, ts, 1, 5, 'bench-prefill', ts,
           ts + interval '1 millisecond', ts + interval '2 milliseconds'
    FROM (SELECT now() - interval '2 days' + g * (interval '2 days' / $HISTORY) AS ts
          FROM generate_series(1, $HISTORY) AS g) AS s" >/dev/null
sql "$url" "VACUUM ANALYZE rota.tasks" >/dev/null
size_filled="$(size "$url")"
# one rota.prune(10000) with nothing due (the mean of 5 calls, in ms)
idle_prune_ms="$(psql -X -Atq -v ON_ERROR_STOP=1 -d "$url" <<'SQL'
SELECT clock_timestamp() AS t0 \gset
SELECT rota.prune(10000) FROM generate_series(1, 5) \g /dev/null
SELECT round(extract(epoch FROM clock_timestamp() - :'t0')::numeric * 1000 / 5, 2);
SQL
)"

note "W1 in an empty database ..."
empty_before="$(w1 "$empty_url")"
note "W1 with history, nothing due ..."
read -r hist0 deleted0 < <(w1_deleting "$url")
note "W1 with history, the oldest expiring as fast as tasks finish, the workers pruning ..."
read -r hist_steady deleted_steady < <(w1_deleting "$url" no "
    UPDATE rota.queues SET retention = now() - (SELECT min(t.finished_at) FROM rota.tasks t
                                                WHERE t.queue = 'bench' AND t.state = 'succeeded')
    WHERE name = 'bench'")
size_steady="$(size "$url")"
sql "$url" "UPDATE rota.queues SET retention = '1 day' WHERE name = 'bench'" >/dev/null
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
note "W1 with history, half of it expired (a backlog), the workers pruning ..."
read -r hist1 deleted1 < <(w1_deleting "$url")
size_round1="$(size "$url")"
note "W1 with history, the workers pruning and rota.prune(10000) back to back ..."
read -r hist2 deleted2 < <(w1_deleting "$url" yes)
size_round2="$(size "$url")"
note "W1 in an empty database again ..."
empty_after="$(w1 "$empty_url")"

echo
echo "history: $HISTORY finished tasks, W1 $TASKS tasks, $PROCESSES processes x concurrency $CONCURRENCY," \
     "load average $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$empty_before" "$empty_after" "$hist0" "$hist_steady" "$hist1" "$hist2" "$EXPIRE_RATE" <<'PY'
import sys
e0, e1, h0, hs, h1, h2, x = map(float, sys.argv[1:])
e = (e0 + e1) / 2
print(f"W1 empty database                          {e0:6.0f} / {e1:.0f} tasks/s (before / after)")
print(f"W1 with history, nothing due               {h0:6.0f} tasks/s  ratio {h0 / e:.2f}")
print(f"W1 with history, steady state (pruning)    {hs:6.0f} tasks/s  ratio {hs / e:.2f}"
      f" (target >= 0.8; {x:.0f} rows/s expiring)")
print(f"W1 with history, a backlog (pruning)       {h1:6.0f} tasks/s  ratio {h1 / e:.2f}")
print(f"W1 with history, + prune back to back      {h2:6.0f} tasks/s  ratio {h2 / e:.2f} (an unpaced pruner beside them)")
PY
python3 - "$prune_rows" "$prune_bytes" "$prune_ms" "$idle_prune_ms" <<'PY'
import sys
n, b, ms, idle = sys.argv[1:]
print(f"one rota.prune(10000): nothing due {float(idle):.2f} ms; over expired rows {n} rows,"
      f" {float(b) / int(n):.0f} WAL bytes and {float(ms) * 1000 / int(n):.1f} us per row")
PY
echo "rows deleted during the rounds: $deleted0 (nothing due), $deleted_steady (steady state), $deleted1 (a backlog)," \
     "$deleted2 (a backlog, and back to back)"
echo "rota.tasks: filled $size_filled; after the steady round $size_steady; after the backlog round $size_round1;" \
     "after the back-to-back round $size_round2"
# the history's dead rows would keep autovacuum busy during whatever make bench runs next
drop_databases rota_bench_history rota_bench_history_empty
