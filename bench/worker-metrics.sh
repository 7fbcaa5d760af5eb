#!/usr/bin/env bash
# The cost of a worker's metrics on throughput: W1-style drains of TASKS noop tasks by one
# `rota worker` process, alternately without and with --metrics-port (instrumentation on,
# /metrics scraped every second as Prometheus would), ROUNDS times each, in one run on one
# database. Rate = tasks / (last finished_at - first started_at), on the database clock.
#
#   bench/worker-metrics.sh [ROTA_BINARY]     TASKS=20000 ROUNDS=3 CONCURRENCY=16
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

ROTA="${1:-$ROOT/.build/release/rota}"
TASKS="${TASKS:-20000}"
ROUNDS="${ROUNDS:-3}"
CONCURRENCY="${CONCURRENCY:-16}"
url="$(fresh_db rota_bench_worker_metrics)"
psql -X -q -d "$url" -c "SELECT rota.define_queue('bench')" >/dev/null
port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"

drain() { # $1: with|without; prints the rate
    local first pid scraper=""
    first="$(psql -X -Atq -d "$url" -c "SELECT coalesce(max(id), 0) FROM rota.tasks")"
    psql -X -q -d "$url" -c "SELECT count(*) FROM rota.enqueue_many('bench', 'noop', array_fill('{}'::jsonb, ARRAY[$TASKS]))" \
         -c "VACUUM ANALYZE rota.tasks" >/dev/null
    if [ "$1" = with ]; then
        "$ROTA" worker --database-url "$url" --queues bench --concurrency "$CONCURRENCY" --log-level warning \
            --executor-id "bench-$1" --metrics-port "$port" & pid=$!
        ( while sleep 1; do curl -s -o /dev/null "http://127.0.0.1:$port/metrics" || true; done ) & scraper=$!
    else
        "$ROTA" worker --database-url "$url" --queues bench --concurrency "$CONCURRENCY" --log-level warning \
            --executor-id "bench-$1" & pid=$!
    fi
    until [ "$(psql -X -Atq -d "$url" -c "SELECT count(*) FROM rota.tasks WHERE id > $first AND state <> 'succeeded'")" = 0 ]; do
        sleep 0.2
    done
    [ -n "$scraper" ] && kill "$scraper"
    kill -TERM "$pid"; wait "$pid" 2>/dev/null || true
    psql -X -Atq -d "$url" -c "SELECT round(($TASKS / extract(epoch FROM max(finished_at) - min(started_at)))::numeric, 0)
                               FROM rota.tasks WHERE id > $first"
}

without=(); with=()
for _ in $(seq "$ROUNDS"); do
    without+=("$(drain without)")
    with+=("$(drain with)")
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
m_without="$(median "${without[@]}")"; m_with="$(median "${with[@]}")"
echo "W1-style drain, 1 worker, concurrency $CONCURRENCY, $TASKS noop tasks, $ROUNDS rounds each, alternating:"
echo "  without --metrics-port: ${without[*]} tasks/s (median $m_without)"
echo "  with --metrics-port (scraped every 1 s): ${with[*]} tasks/s (median $m_with)"
python3 -c "import sys; print(f'  ratio with/without: {float(sys.argv[1]) / float(sys.argv[2]):.3f}')" "$m_with" "$m_without"
