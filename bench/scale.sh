#!/usr/bin/env bash
# The scale cases of issue 12, each against W1 measured in the same run (2 `rota worker`
# processes x concurrency 16 draining W1_TASKS noop tasks from one queue): the figures are
# ratios to that rate, so a busy machine moves both sides. W1 runs before and after the
# cases; the ratios are to the mean of the two (their spread shows the machine's drift).
#
#   bench/scale.sh                        every case at its default (quick) size
#   bench/scale.sh backlog many_queues    some cases
#   BACKLOG=1000000 KEYS=100000 FANOUT=100000 bench/scale.sh     the issue's full sizes
#
# cases (and the variables that size them):
#   backlog       W1 from BACKLOG queued tasks (200,000; issue: 1,000,000): claim rate over
#                 the first and the last EDGE (20,000) claims              target >= 0.8x W1
#   unanalyzed    the same backlog enqueued after rota.tasks was analyzed empty, drained with
#                 no ANALYZE first (a burst into a quiet queue, before autovacuum's next
#                 analyze): rate over the whole drain                      target >= 0.8x W1
#   many_queues   QUEUES (1,000) queues x PER_QUEUE (20) tasks, 2 workers subscribed to all
#                 (one --queues list)                                      target >= 0.7x W1
#   many_tenants  KEYS (20,000; issue: 100,000) concurrency keys, limit 2, 2 tasks per key;
#                 then the rows of the per-key table once idle and pruned  target >= 0.7x W1, ~0 rows
#   fan_out       one `fanout` task enqueues FANOUT (20,000; issue: 100,000) children (one per
#                 tenant), 2 workers: parent's enqueue -> last child done  target >= 0.7x W1
#   schedules     SCHEDULES (10,000) schedules, EVERY_MINUTE (1,000) of them every minute, the
#                 rest sparse, in 5 zones: each tick (TICKS, 20) fired by calls of fire_due
#                 with max_fires MAX_FIRES (200, the worker's), as the ticker does: per call
#                 p50/p99 and the tick's fires per second; the same with one unbounded call
#                 per tick beside it; and a worker's ticker CPU over IDLE_SECONDS (10) with
#                 nothing due                                              target p99 <= 20 ms
#   latency       W3 (500 enqueues 10 ms apart, 2 workers on queue `latency`) while W1
#                 (2 other workers) drains LOAD (200,000) tasks of queue `bulk`   target p50 <= 5 ms
#
# Workers: ROTA (default .build/release/rota, built by scripts/bench.sh). Databases
# rota_bench_scale_* (one per case, dropped once it is measured); worker logs in a
# temporary folder.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/lib.sh
. "$ROOT/scripts/lib.sh"

CONCURRENCY="${CONCURRENCY:-16}"
W1_TASKS="${W1_TASKS:-20000}"
BACKLOG="${BACKLOG:-200000}"
EDGE="${EDGE:-20000}"
QUEUES="${QUEUES:-1000}"
PER_QUEUE="${PER_QUEUE:-20}"
KEYS="${KEYS:-20000}"
FANOUT="${FANOUT:-20000}"
SCHEDULES="${SCHEDULES:-10000}"
EVERY_MINUTE="${EVERY_MINUTE:-1000}"
TICKS="${TICKS:-20}"
MAX_FIRES="${MAX_FIRES:-200}"
IDLE_SECONDS="${IDLE_SECONDS:-10}"
LOAD="${LOAD:-200000}"
ROTA_BIN="${ROTA:-$ROOT/${ROTA_BENCH_SCRATCH:-.build}/release/rota}"
[ -x "$ROTA_BIN" ] || { echo "scale: no rota binary at $ROTA_BIN (swift build -c release --product rota, or set ROTA)" >&2; exit 1; }
# shellcheck source=bench/drain_lib.sh
. "$ROOT/bench/drain_lib.sh"

work="$(mktemp -d /tmp/rota-scale.XXXXXX)"
trap 'stop_workers' EXIT

q() { local url="$1"; shift; psql -X -q -At -v ON_ERROR_STOP=1 -d "$url" "$@"; }
note() { echo "scale: $*" >&2; }
RESULTS=()
# result NAME VALUE UNIT [GOAL]: GOAL is "ratio" (shown as a ratio to W1), "ratio>=X", "<=X" or empty
result() {
    RESULTS+=("$1|$2|$3|${4:-}")
    echo "scale: $1: $2 $3" >&2
}

# w1 TAG: the reference drain: W1_TASKS noop tasks of one queue, 2 workers; sets W1_RATE (tasks/s)
w1() {
    local url
    url="$(fresh_db rota_bench_scale_w1)"
    q "$url" -c "SELECT rota.define_queue('bench')" \
        -c "SELECT count(*) FROM rota.enqueue_many('bench', 'noop', array_fill('{}'::jsonb, ARRAY[$W1_TASKS]))" \
        -c "VACUUM ANALYZE rota.tasks" >/dev/null
    start_workers "$url" bench 2 "scale-w1-$1"
    wait_drained "$url"
    stop_workers
    W1_RATE="$(drain_rate "$url" "queue = 'bench'")"
}

case_backlog() {
    local url first last all
    url="$(fresh_db rota_bench_scale_backlog)"
    note "backlog: enqueueing $BACKLOG tasks"
    q "$url" -c "SELECT rota.define_queue('bench')" >/dev/null
    enqueue_backlog "$url"
    q "$url" -c "VACUUM ANALYZE rota.tasks" >/dev/null
    note "backlog: draining with 2 workers"
    start_workers "$url" bench 2 scale-backlog
    wait_drained "$url" 1800
    stop_workers
    # claim rate over the first and the last EDGE claims (claim order = started_at)
    read -r first last <<<"$(q "$url" -F ' ' -c "
        WITH s AS (SELECT started_at, row_number() OVER (ORDER BY started_at) AS n, count(*) OVER () AS total
                   FROM rota.tasks WHERE queue = 'bench')
        SELECT round(($EDGE - 1) / extract(epoch FROM max(started_at) FILTER (WHERE n = $EDGE)
                                                  - min(started_at))::numeric),
               round(($EDGE - 1) / extract(epoch FROM max(started_at)
                                                  - max(started_at) FILTER (WHERE n = total - $EDGE + 1))::numeric)
        FROM s")"
    all="$(drain_rate "$url" "queue = 'bench'")"
    result "backlog $BACKLOG: claim rate, first $EDGE" "$first" tasks/s "ratio>=0.8"
    result "backlog $BACKLOG: claim rate, last $EDGE" "$last" tasks/s "ratio>=0.8"
    result "backlog $BACKLOG: whole drain" "$all" tasks/s ratio
}

# enqueue_backlog URL: BACKLOG noop tasks into queue `bench`, 100,000 per statement
enqueue_backlog() {
    q "$1" <<SQL >/dev/null
DO \$\$
BEGIN
    FOR i IN 0 .. ($BACKLOG - 1) / 100000 LOOP
        PERFORM count(*) FROM rota.enqueue_many('bench', 'noop',
                                                array_fill('{}'::jsonb, ARRAY[least(100000, $BACKLOG - i * 100000)]));
    END LOOP;
END \$\$;
SQL
}

case_unanalyzed() {
    local url
    url="$(fresh_db rota_bench_scale_unanalyzed)"
    q "$url" -c "SELECT rota.define_queue('bench')" -c "ANALYZE rota.tasks" >/dev/null
    note "unanalyzed: enqueueing $BACKLOG tasks after rota.tasks was analyzed empty"
    enqueue_backlog "$url"
    note "unanalyzed: draining with 2 workers"
    start_workers "$url" bench 2 scale-unanalyzed
    wait_drained "$url" 1800
    stop_workers
    result "backlog $BACKLOG, statistics of an empty table" "$(drain_rate "$url" "queue = 'bench'")" tasks/s "ratio>=0.8"
}

case_many_queues() {
    local url list rate
    url="$(fresh_db rota_bench_scale_queues)"
    note "many_queues: $QUEUES queues x $PER_QUEUE tasks"
    q "$url" <<SQL >/dev/null
SELECT count(rota.define_queue(format('q%s', g))) FROM generate_series(1, $QUEUES) AS g;
-- enqueued round-robin over the queues, so that claim order spans all of them
DO \$\$
BEGIN
    FOR r IN 1 .. $PER_QUEUE LOOP
        FOR g IN 1 .. $QUEUES LOOP
            PERFORM rota.enqueue(format('q%s', g), 'noop');
        END LOOP;
    END LOOP;
END \$\$;
VACUUM ANALYZE;
SQL
    list="$(q "$url" -c "SELECT string_agg(name, ',' ORDER BY name) FROM rota.queues")"
    start_workers "$url" "$list" 2 scale-queues
    wait_drained "$url"
    stop_workers
    rate="$(drain_rate "$url" "true")"
    result "many queues: $QUEUES x $PER_QUEUE, 2 workers on all" "$rate" tasks/s "ratio>=0.7"
}

case_many_tenants() {
    local url rate rows
    url="$(fresh_db rota_bench_scale_keys)"
    note "many_tenants: $KEYS keys x 2 tasks, limit 2"
    q "$url" <<SQL >/dev/null
SELECT rota.define_queue('mk', concurrency_key_limit => 2);
-- one enqueue_many per key (the concurrency key is per call); keys interleaved in claim order
DO \$\$
BEGIN
    FOR k IN 1 .. $KEYS LOOP
        PERFORM rota.enqueue_many('mk', 'noop', array_fill('{}'::jsonb, ARRAY[2]), concurrency_key => 'tenant-' || k);
    END LOOP;
END \$\$;
VACUUM ANALYZE;
SQL
    start_workers "$url" mk 2 scale-keys
    wait_drained "$url"
    stop_workers
    rate="$(drain_rate "$url" "queue = 'mk'")"
    # as a worker prunes: until a call finds nothing due (that call sweeps idle key rows)
    q "$url" -c "UPDATE rota.queues SET retention = '1 microsecond'" \
        -c "DO \$\$ BEGIN WHILE rota.prune(1000000) > 0 LOOP END LOOP; END \$\$" >/dev/null
    rows="$(q "$url" -c "SELECT count(*) FROM rota._key_counts")"
    result "many tenants: $KEYS keys x 2 tasks, limit 2" "$rate" tasks/s "ratio>=0.7"
    result "many tenants: key rows when idle (pruned)" "$rows" rows "<=0"
}

case_fan_out() {
    local url rate
    url="$(fresh_db rota_bench_scale_fanout)"
    q "$url" -c "SELECT rota.define_queue('fan')" -c "SELECT rota.define_queue('children')" >/dev/null
    start_workers "$url" fan,children 2 scale-fanout
    # both registered (and idle) before the fire
    until [ "$(q "$url" -c "SELECT count(*) FROM rota.executors WHERE stopped_at IS NULL")" = 2 ]; do sleep 0.1; done
    sleep 1
    note "fan_out: one task enqueues $FANOUT children"
    q "$url" -c "SELECT rota.enqueue('fan', 'fanout', jsonb_build_object('queue', 'children', 'task', 'noop',
                                                                      'children', $FANOUT))" >/dev/null
    sleep 1
    wait_drained "$url"
    stop_workers
    rate="$(q "$url" -c "
        SELECT round(($FANOUT / extract(epoch FROM max(c.finished_at) - p.enqueued_at))::numeric)
        FROM rota.tasks p JOIN rota.tasks c ON c.parent_id = p.id
        WHERE p.task = 'fanout' AND c.state = 'succeeded' GROUP BY p.id, p.enqueued_at
        HAVING count(*) = $FANOUT")"
    [ -n "$rate" ] || { echo "scale: fan_out: not every child succeeded" >&2; exit 1; }
    result "fan-out: $FANOUT children, fire -> last done" "$rate" tasks/s "ratio>=0.7"
}

case_schedules() {
    local url p50 p99 fired pid t0 t1 calls
    url="$(fresh_db rota_bench_scale_schedules)"
    note "schedules: defining $SCHEDULES schedules"
    q "$url" <<SQL >/dev/null
SELECT rota.define_queue('ticks');
SELECT count(rota.define_schedule(
           format('s%s', g),
           CASE WHEN g <= $EVERY_MINUTE THEN '* * * * *'
                ELSE (ARRAY['0 3 * * *', '30 */6 * * *', '0 0 1 * *', '15 9 * * 1-5', '*/30 * * * *'])[1 + g % 5] END,
           'ticks', 'noop',
           timezone => (ARRAY['UTC', 'Europe/Berlin', 'America/New_York', 'Asia/Tokyo', 'Australia/Sydney'])[1 + g % 5]))
FROM generate_series(1, $SCHEDULES) AS g;
VACUUM ANALYZE;
SQL
    # each tick: the every-minute schedules are due (as at a minute boundary); the fires and
    # tasks of the tick before are deleted outside the clock. fire_ticks BOUND CALLS: each
    # tick fired by CALLS calls of fire_due with max_fires BOUND, one line per call:
    # "tick call fired ms" (tick 0 warms up and is left out)
    fire_ticks() {
        local bound="$1" calls="$2" script="" i c
        for i in $(seq 0 "$TICKS"); do
            script+="
DELETE FROM rota.schedule_fires; DELETE FROM rota.tasks;
UPDATE rota.schedules SET next_fire_at = date_trunc('minute', clock_timestamp())
WHERE cron = '* * * * *';"
            for c in $(seq 1 "$calls"); do
                script+="
SELECT clock_timestamp() AS t0 \\gset
SELECT count(*) AS fired FROM rota.fire_due('bench', $bound) \\gset
SELECT $i, $c, :fired, round(extract(epoch FROM clock_timestamp() - :'t0'::timestamptz) * 1000, 2);"
            done
        done
        q "$url" -F ' ' <<<"$script" | awk '$1 > 0'
    }
    # percentiles P50 P99 of the numbers on stdin
    p50_p99() {
        sort -n | awk '{a[NR] = $1} END {i = int(NR * 0.99 + 0.999); if (i > NR) i = NR; print a[int((NR + 1) / 2)], a[i]}'
    }
    local base_p50 base_p99 tick_ms base_tick_ms
    fire_ticks 10000 1 >"$work/ticks_unbounded"
    fire_ticks "$MAX_FIRES" $(( (EVERY_MINUTE + MAX_FIRES - 1) / MAX_FIRES + 1 )) >"$work/ticks"
    # every tick fired all its due schedules, each once
    awk -v n="$EVERY_MINUTE" '{f[$1] += $3} END {for (t in f) if (f[t] != n) exit 1}' "$work/ticks" \
        || { echo "scale: schedules: a tick fired other than $EVERY_MINUTE over its calls" >&2; exit 1; }
    fired="$(awk '$2 == 1 {print $3; exit}' "$work/ticks")"
    read -r p50 p99 <<<"$(awk '$3 > 0 {print $4}' "$work/ticks" | p50_p99)"
    read -r base_p50 base_p99 <<<"$(awk '{print $4}' "$work/ticks_unbounded" | p50_p99)"
    tick_ms="$(awk '{t[$1] += $4} END {for (k in t) print t[k]}' "$work/ticks" | p50_p99 | cut -d' ' -f1)"
    base_tick_ms="$(awk '{print $4}' "$work/ticks_unbounded" | p50_p99 | cut -d' ' -f1)"
    result "schedules $SCHEDULES: fire_due per call (max_fires $MAX_FIRES, $fired fired), p50" "$p50" ms
    result "schedules $SCHEDULES: fire_due per call (max_fires $MAX_FIRES), p99" "$p99" ms "<=20"
    result "schedules $SCHEDULES: a tick of $EVERY_MINUTE fires by calls of $MAX_FIRES, p50" \
        "$tick_ms ms, $(python3 -c "print(round($EVERY_MINUTE / ($tick_ms / 1000)))") fires/s" ""
    result "schedules $SCHEDULES: one unbounded call per tick ($EVERY_MINUTE fires), p50 / p99" \
        "$base_p50 / $base_p99 ms, $(python3 -c "print(round($EVERY_MINUTE / ($base_tick_ms / 1000)))") fires/s" ""
    # the ticker when nothing is due for a while: one worker, every schedule's next fire in an hour
    q "$url" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" \
        -c "UPDATE rota.schedules SET next_fire_at = now() + interval '1 hour'" >/dev/null
    start_workers "$url" ticks 1 scale-ticker
    pid="${workers[0]}"
    until [ "$(q "$url" -c "SELECT count(*) FROM rota.executors WHERE stopped_at IS NULL")" = 1 ]; do sleep 0.1; done
    sleep 1
    q "$url" -c "SELECT pg_stat_statements_reset()" >/dev/null
    t0="$(cpu_ticks "$pid")"
    sleep "$IDLE_SECONDS"
    t1="$(cpu_ticks "$pid")"
    calls="$(q "$url" -c "SELECT coalesce(sum(calls), 0) || ' calls, ' || round(coalesce(sum(total_exec_time), 0)::numeric, 1) || ' ms'
                          FROM pg_stat_statements WHERE query ILIKE '%fire_due%' OR query ILIKE '%next_fire_at%'")"
    stop_workers
    result "schedules: idle ticker worker CPU (${IDLE_SECONDS} s)" \
        "$(python3 -c "print(f'{($t1 - $t0) / $(getconf CLK_TCK) / $IDLE_SECONDS * 100:.2f}')")" "% core"
    result "schedules: idle ticker's statements" "$calls" ""
}

case_latency() {
    local url script="" i p50 p99 left
    url="$(fresh_db rota_bench_scale_latency)"
    q "$url" -c "SELECT rota.define_queue('bulk')" -c "SELECT rota.define_queue('latency')" \
        -c "SELECT count(*) FROM rota.enqueue_many('bulk', 'noop', array_fill('{}'::jsonb, ARRAY[$LOAD]))" \
        -c "VACUUM ANALYZE rota.tasks" >/dev/null
    start_workers "$url" latency 2 scale-w3
    until [ "$(q "$url" -c "SELECT count(*) FROM rota.executors WHERE stopped_at IS NULL")" = 2 ]; do sleep 0.1; done
    start_workers "$url" bulk 2 scale-load
    # W1 under way, then 500 enqueues 10 ms apart (one transaction each)
    until [ "$(q "$url" -c "SELECT count(*) > 2000 FROM rota.tasks WHERE state = 'succeeded'")" = t ]; do sleep 0.1; done
    note "latency: 500 enqueues while W1 drains $LOAD tasks"
    for i in $(seq 1 500); do
        script+="SELECT rota.enqueue('latency', 'latency');
SELECT pg_sleep(greatest(0, 0.01 * $i - extract(epoch FROM clock_timestamp() - :'t0'::timestamptz)));
"
    done
    { echo "SELECT clock_timestamp() AS t0 \\gset"; echo "$script"; } | q "$url" >/dev/null
    left="$(q "$url" -c "SELECT count(*) FROM rota.tasks WHERE queue = 'bulk' AND state = 'queued'")"
    wait_drained "$url"
    stop_workers
    read -r p50 p99 <<<"$(q "$url" -F ' ' -c "
        WITH l AS (SELECT ((result->>'started')::float8 - extract(epoch FROM enqueued_at)::float8) * 1000 AS ms
                   FROM rota.tasks WHERE task = 'latency' AND state = 'succeeded')
        SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY ms)::numeric, 2),
               round(percentile_cont(0.99) WITHIN GROUP (ORDER BY ms)::numeric, 2) FROM l")"
    [ "$left" -gt 0 ] || note "latency: W1 ran dry before the last enqueue (raise LOAD)"
    result "latency: W3 p50 while W1 drains ($left left)" "$p50" ms "<=5"
    result "latency: W3 p99 while W1 drains" "$p99" ms
}

cases=("$@")
[ ${#cases[@]} -gt 0 ] || cases=(backlog unanalyzed many_queues many_tenants fan_out schedules latency)
for name in "${cases[@]}"; do
    declare -F "case_$name" >/dev/null || { echo "scale: unknown case $name" >&2; exit 2; }
done
started=$SECONDS
load_start="$(cut -d' ' -f1-3 /proc/loadavg)"
note "W1 (reference): $W1_TASKS noop tasks, 2 workers x $CONCURRENCY"
# Each case's database goes once it is measured: autovacuum would otherwise work through a
# finished case's dead rows (a million after the backlog cases) while the cases after it
# run, and charge them for it (the fan-out measured 0.54x W1 after the others, 0.73-0.74x alone).
drop_case_databases() {
    # shellcheck disable=SC2046  # names without spaces, one per line
    drop_databases $(q "$(server_url)" -c "SELECT datname FROM pg_database WHERE datname LIKE 'rota\_bench\_scale\_%'")
}
w1 first
W1_FIRST="$W1_RATE"
note "W1: $W1_FIRST tasks/s"
drop_case_databases
for name in "${cases[@]}"; do "case_$name"; drop_case_databases; done
w1 last
note "W1 again: $W1_RATE tasks/s"
echo
echo "scale cases: $(nproc) CPUs, load average $load_start at start, $(cut -d' ' -f1-3 /proc/loadavg) at end, $((SECONDS - started)) s"
echo "W1 reference (2 workers x $CONCURRENCY, $W1_TASKS noop tasks): $W1_FIRST tasks/s before the cases, $W1_RATE after;"
echo "ratios are to their mean"
python3 - "$W1_FIRST" "$W1_RATE" "${RESULTS[@]}" <<'PY'
import sys
w1 = (float(sys.argv[1]) + float(sys.argv[2])) / 2
rows = [("case", "value", "unit", "x W1", "target", "met")]
for entry in sys.argv[3:]:
    name, value, unit, goal = entry.split("|")
    ratio = target = met = ""
    try:
        number = float(value)
    except ValueError:
        number = None
    if goal.startswith("ratio") and number is not None:
        ratio = f"{number / w1:.2f}x"
        if ">=" in goal:
            threshold = float(goal.split(">=")[1])
            target, met = f">= {threshold}x W1", "yes" if number / w1 >= threshold else "NO"
    elif goal.startswith("<=") and number is not None:
        threshold = float(goal[2:])
        target, met = f"<= {goal[2:]} {unit}", "yes" if number <= threshold else "NO"
    rows.append((name, value, unit, ratio, target, met))
widths = [max(len(r[i]) for r in rows) for i in range(6)]
for index, row in enumerate(rows):
    print("  ".join(cell.rjust(widths[i]) if i in (1, 3) else cell.ljust(widths[i]) for i, cell in enumerate(row)).rstrip())
    if index == 0:
        print("  ".join("-" * w for w in widths))
PY
