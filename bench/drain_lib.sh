# Drains for the bench scripts (scale.sh, bytes_per_task.sh, history.sh): `rota worker`
# processes draining queues of one database, and what a drain cost. Source it after
# scripts/lib.sh; ROTA_BIN must name the rota binary (or be empty: it is built then). The
# workers run at concurrency $CONCURRENCY and log into the folder $work (both read when they
# start); the caller's EXIT trap runs stop_workers.
# shellcheck shell=bash

if [ -z "${ROTA_BIN:-}" ]; then
    swift build -c release --scratch-path "$ROOT/.build" --product rota >&2
    ROTA_BIN="$ROOT/.build/release/rota"
fi
workers=()

# start_workers URL QUEUES COUNT TAG: COUNT workers on the comma-separated QUEUES, executor ids
# TAG-1 .. TAG-COUNT, logs $work/worker-TAG-N.log (pids in $workers)
start_workers() {
    local i
    for i in $(seq 1 "$3"); do
        "$ROTA_BIN" worker --queues "$2" --concurrency "$CONCURRENCY" --database-url "$1" \
            --log-level warning --executor-id "$4-$i" >"$work/worker-$4-$i.log" 2>&1 &
        workers+=("$!")
    done
}

# wait_drained URL [TIMEOUT]: until no task is ready (queued and due) or running, probing after
# 0.1 s, then 1.5 times longer each time up to 1 s; fails when a worker exits or after TIMEOUT
# seconds (600). Sets $polls to the number of probes. Each probe is one index lookup (id > 0
# lets the first use tasks_ready_any_queue_idx), so a large history costs it nothing; but it
# steps over the entries of tasks claimed since the last vacuum (tens of ms into a drain of
# 200,000), hence the growing pause, so that the probe does not load the drain it watches.
# /* bench-poll */ keeps it out of statement counts. The rates come from the tasks' own
# timestamps, so the pause does not change them.
wait_drained() {
    local deadline=$((SECONDS + ${2:-600})) drained pid pause_ms=100
    polls=0
    while :; do
        drained="$(psql -X -Atq -d "$1" -c "
            SELECT /* bench-poll */ NOT EXISTS (SELECT 1 FROM rota.tasks WHERE state = 'queued' AND id > 0 AND run_at <= now()
                                                ORDER BY priority, run_at, id LIMIT 1)
               AND NOT EXISTS (SELECT 1 FROM rota.tasks WHERE state = 'running' ORDER BY executor LIMIT 1)")"
        polls=$((polls + 1))
        [ "$drained" = t ] && return 0
        for pid in "${workers[@]}"; do
            kill -0 "$pid" 2>/dev/null || { tail -n 20 "$work"/worker-*.log >&2; echo "wait_drained: a worker exited" >&2; return 1; }
        done
        [ "$SECONDS" -lt "$deadline" ] || { echo "wait_drained: not drained in ${2:-600} s" >&2; return 1; }
        sleep "$((pause_ms / 1000)).$(printf '%03d' $((pause_ms % 1000)))"
        pause_ms=$((pause_ms * 3 / 2 > 1000 ? 1000 : pause_ms * 3 / 2))
    done
}

# stop_workers: SIGTERM, then wait for every worker (their backends exit and flush statistics)
stop_workers() {
    local pid
    for pid in "${workers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${workers[@]}"; do wait "$pid" 2>/dev/null || true; done
    workers=()
}

# drain_rate URL WHERE [DIGITS]: tasks per second of the tasks WHERE (first start to last
# finish, database clock), rounded to DIGITS decimals (0); fails unless all of them succeeded.
drain_rate() {
    local rate
    rate="$(psql -X -Atq -v ON_ERROR_STOP=1 -d "$1" -c "
        SELECT CASE WHEN count(*) FILTER (WHERE state <> 'succeeded') = 0
                    THEN round(count(*) / extract(epoch FROM max(finished_at) - min(started_at))::numeric, ${3:-0}) END
        FROM rota.tasks WHERE $2")"
    [ -n "$rate" ] || { echo "drain_rate: the tasks WHERE $2 did not all succeed" >&2; return 1; }
    echo "$rate"
}

# cpu_ticks PID...: user + system clock ticks of the processes together (one that has exited
# counts 0: a server process can end between its listing and this)
cpu_ticks() {
    local total=0 pid
    for pid in "$@"; do
        total=$((total + $(awk '{print $14 + $15}' "/proc/$pid/stat" 2>/dev/null || echo 0)))
    done
    echo "$total"
}

# pgbench_tps URL SECONDS: `pgbench -N -M prepared`, 4 clients, 2 threads (as rota-bench's baseline)
pgbench_tps() {
    pgbench -n -N -M prepared -c 4 -j 2 -T "$2" "$1" 2>/dev/null |
        sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p'
}

# pgbench_db NAME: a fresh database NAME with `pgbench -i -s 10`; prints its URL
pgbench_db() {
    local server url
    server="$(server_url)"
    psql -X -q -v ON_ERROR_STOP=1 -d "$server" -c 'SET client_min_messages = warning' \
        -c "DROP DATABASE IF EXISTS \"$1\" WITH (FORCE)" -c "CREATE DATABASE \"$1\"" >/dev/null
    url="$(with_dbname "$server" "$1")"
    pgbench -i -q -s 10 "$url" >/dev/null 2>&1 || { echo "pgbench -i failed" >&2; return 1; }
    echo "$url"
}
