# W1 drains for the bench scripts (bytes_per_task.sh, history.sh): `rota worker` processes
# draining queue `bench` of one database. Source it after scripts/lib.sh; ROTA_BIN must
# name the rota binary (or be empty: it is built then).
# shellcheck shell=bash

if [ -z "${ROTA_BIN:-}" ]; then
    swift build -c release --scratch-path "$ROOT/.build" --product rota >&2
    ROTA_BIN="$ROOT/.build/release/rota"
fi
workers=()
trap 'for pid in "${workers[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT

# start_workers URL COUNT CONCURRENCY LOGDIR: COUNT workers on queue `bench` (pids in $workers)
start_workers() {
    local i
    for i in $(seq 1 "$2"); do
        "$ROTA_BIN" worker --queues bench --concurrency "$3" --database-url "$1" \
            --log-level warning --executor-id "bench-$i" >"$4/worker-$i.log" 2>&1 &
        workers+=("$!")
    done
}

# wait_drained URL LOGDIR: until no task of `bench` is queued or running (index probes
# every 0.2 s); fails when a worker exits. Sets $polls to the number of probes.
wait_drained() {
    local drained pid
    polls=0
    while :; do
        drained="$(psql -X -Atq -d "$1" -c "
            SELECT /* bench-poll */ NOT EXISTS (SELECT 1 FROM rota.tasks WHERE state = 'queued' AND queue = 'bench'
                                                ORDER BY priority, run_at, id LIMIT 1)
               AND NOT EXISTS (SELECT 1 FROM rota.tasks WHERE state = 'running' ORDER BY executor LIMIT 1)")"
        polls=$((polls + 1))
        [ "$drained" = t ] && return 0
        for pid in "${workers[@]}"; do
            kill -0 "$pid" 2>/dev/null || { cat "$2"/worker-*.log >&2; echo "a worker exited" >&2; return 1; }
        done
        sleep 0.2
    done
}

# stop_workers: SIGTERM, then wait for every worker (their backends exit and flush statistics)
stop_workers() {
    local pid
    for pid in "${workers[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "${workers[@]}"; do wait "$pid" || true; done
    workers=()
}

# drain_rate URL FIRST_ID: tasks per second of the tasks with id > FIRST_ID (first start to
# last finish, database clock); fails unless all of them succeeded.
drain_rate() {
    local rate
    rate="$(psql -X -Atq -v ON_ERROR_STOP=1 -d "$1" -c "
        SELECT CASE WHEN count(*) FILTER (WHERE state <> 'succeeded') = 0
                    THEN round(count(*) / extract(epoch FROM max(finished_at) - min(started_at))::numeric, 1) END
        FROM rota.tasks WHERE id > $2")"
    [ -n "$rate" ] || { echo "drain_rate: tasks after id $2 did not all succeed" >&2; return 1; }
    echo "$rate"
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
