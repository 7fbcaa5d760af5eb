#!/usr/bin/env bash
# Query time of rota.metrics(), rota.alerts and each dashboard page's queries with
# 1,000,000 finished and 100,000 queued tasks (plus failed attempts, two hours of counter
# rows, executors and schedules). Prints the median of RUNS runs in ms, and keeps the
# EXPLAIN (ANALYZE, BUFFERS) of rota.metrics()'s parts in $OUT (default bench/out).
#
#   bench/metrics.sh                 FINISHED=1000000 QUEUED=100000 RUNS=11
#
# Database: rota_bench_metrics, dropped and recreated on every run.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

FINISHED="${FINISHED:-1000000}"
QUEUED="${QUEUED:-100000}"
RUNS="${RUNS:-11}"
OUT="${OUT:-$ROOT/bench/out}"
mkdir -p "$OUT"

url="$(fresh_db rota_bench_metrics)"
echo "bench/metrics: filling rota_bench_metrics ($FINISHED finished, $QUEUED queued tasks) ..." >&2
psql -X -q -v ON_ERROR_STOP=1 -d "$url" -v finished="$FINISHED" -v queued="$QUEUED" <<'SQL' >/dev/null
SELECT rota.define_queue('q' || g, concurrency => CASE WHEN g = 1 THEN 50 END) FROM generate_series(1, 8) g;
SELECT rota.register_executor('exec-' || g, ARRAY['q1', 'q2', 'q3', 'q4', 'q5', 'q6', 'q7', 'q8']) FROM generate_series(1, 12) g;
-- finished tasks: 97% succeeded, 3% failed, spread over a week
INSERT INTO rota.tasks (queue, task, payload, state, run_at, attempts, max_attempts, executor, enqueued_at, started_at, finished_at)
SELECT 'q' || (1 + g % 8), 'job' || (g % 5), jsonb_build_object('n', g),
       CASE WHEN g % 33 = 0 THEN 'failed' ELSE 'succeeded' END,
       now() - (g || ' seconds')::interval * 0.6, CASE WHEN g % 33 = 0 THEN 5 ELSE 1 END, 5, 'exec-' || (1 + g % 12),
       now() - (g || ' seconds')::interval * 0.6, now() - (g || ' seconds')::interval * 0.6,
       now() - (g || ' seconds')::interval * 0.6 + interval '50 milliseconds'
FROM generate_series(1, :finished) g;
-- their failed attempts
INSERT INTO rota.task_attempts (task_id, attempt, executor, started_at, finished_at, outcome, error)
SELECT t.id, a, t.executor, t.started_at, t.finished_at, 'failed', 'upstream returned 503'
FROM rota.tasks t CROSS JOIN generate_series(1, 5) a WHERE t.state = 'failed';
-- queued tasks: ready and delayed
INSERT INTO rota.tasks (queue, task, payload, run_at, max_attempts)
SELECT 'q' || (1 + g % 8), 'job' || (g % 5), jsonb_build_object('n', g),
       now() + CASE WHEN g % 10 = 0 THEN interval '1 hour' ELSE -interval '1 second' * (g % 600) END, 5
FROM generate_series(1, :queued) g;
-- two hours of counters: 16 shards, every minute, every queue, and a folded total
INSERT INTO rota._queue_counts (queue, bucket, shard, succeeded, attempts_failed, retried, dead)
SELECT 'q' || q, date_trunc('minute', now()) - (m || ' minutes')::interval, s, 20, 1, 1, 0
FROM generate_series(1, 8) q, generate_series(0, 119) m, generate_series(0, 15) s;
INSERT INTO rota._queue_counts (queue, bucket, shard, succeeded, attempts_failed, retried, dead)
SELECT 'q' || q, '-infinity', 0, 120000, 18000, 14000, 4000 FROM generate_series(1, 8) q;
SELECT rota.define_schedule('s' || g, '*/5 * * * *', 'q' || (1 + g % 8), 'tick') FROM generate_series(1, 20) g;
INSERT INTO rota.schedule_fires (schedule, fire_at, executor)
SELECT 's' || g, date_trunc('hour', now()) - (f * 5 || ' minutes')::interval, 'exec-1'
FROM generate_series(1, 20) g, generate_series(1, 200) f;
VACUUM ANALYZE;
SQL

task_id="$(psql -X -Atq -d "$url" -c "SELECT max(id) FROM rota.tasks WHERE state = 'failed'")"
declare -A queries=(
    [metrics]="SELECT rota.metrics()"
    [alerts]="SELECT * FROM rota.alerts"
    [overview_page]="SELECT * FROM rota.queue_overview; SELECT * FROM rota.executor_status; SELECT * FROM rota.schedule_status"
    [queues_page]="SELECT * FROM rota.queue_overview; SELECT * FROM rota.queue_activity"
    [schedules_page]="SELECT * FROM rota.schedule_status; SELECT * FROM rota.schedule_fire_status WHERE schedule = 's1' ORDER BY fire_at DESC LIMIT 10"
    [failures_page]="SELECT * FROM rota.failures ORDER BY failed_at DESC, task_id DESC, attempt DESC LIMIT 200"
    [failures_page_filtered]="SELECT * FROM rota.failures WHERE queue = 'q3' AND task = 'job1' ORDER BY failed_at DESC, task_id DESC, attempt DESC LIMIT 200"
    [executors_page]="SELECT * FROM rota.executor_status"
    [task_page]="SELECT * FROM rota.tasks WHERE id = $task_id; SELECT * FROM rota.task_attempts WHERE task_id = $task_id ORDER BY attempt; SELECT * FROM rota.task_steps WHERE task_id = $task_id"
)
printf '%-24s %10s   (median of %s runs; %s finished + %s queued tasks)\n' "query" "ms" "$RUNS" "$FINISHED" "$QUEUED"
for name in metrics alerts overview_page queues_page schedules_page failures_page failures_page_filtered executors_page task_page; do
    sql="${queries[$name]}"
    # each run: the whole page's statements, timed by the server clock
    times="$(for _ in $(seq "$RUNS"); do
        psql -X -Atq -d "$url" -c "SELECT clock_timestamp()" -c "$sql" -c "SELECT clock_timestamp()" 2>/dev/null \
        | python3 -c '
import sys, datetime
lines = [l for l in sys.stdin.read().splitlines() if l.count("-") >= 2 and ":" in l and "+" in l[-6:]]
t = [datetime.datetime.fromisoformat(l.replace(" ", "T")) for l in (lines[0], lines[-1])]
print((t[1] - t[0]).total_seconds() * 1000)'
    done)"
    median="$(echo "$times" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')"
    printf '%-24s %10.1f\n' "$name" "$median"
done
psql -X -q -d "$url" -c "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM rota.queue_overview" \
     -c "EXPLAIN (ANALYZE, BUFFERS) SELECT * FROM rota.alerts" > "$OUT/metrics-explain.txt"
echo "bench/metrics: EXPLAIN of queue_overview and alerts in $OUT/metrics-explain.txt" >&2
