#!/usr/bin/env bash
# `make bench`: builds the release binaries and runs `rota-bench` (which measures `rota worker`
# processes) against the project-local PostgreSQL (or the server of $DATABASE_URL). Arguments
# go to `rota-bench`, e.g.
#
#   scripts/bench.sh                 the full table (about 7 minutes)
#   scripts/bench.sh --json          the same as JSON
#   scripts/bench.sh --only w1,w3 --runs 1
#   scripts/bench.sh --scale-only    only the scale cases (bench/scale.sh), as `make bench-scale`
#   SCALE=0 scripts/bench.sh ...     without the scale cases
#
# It creates and drops databases rota_bench_* on that server.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

SCRATCH="${ROTA_BENCH_SCRATCH:-.build}"
swift build -c release --scratch-path "$SCRATCH" --product rota >&2
# many queues, tenants, schedules, a backlog, a fan-out, latency under load: ratios to W1
scale() { ROTA="$ROOT/$SCRATCH/release/rota" "$ROOT/bench/scale.sh"; }
if [ "${1:-}" = --scale-only ]; then scale; exit; fi
swift build -c release --scratch-path "$SCRATCH" --product rota-bench >&2
server="$(server_url)"
[ "${SCALE:-1}" = 0 ] || scale
# rota.metrics() and the dashboard's queries at 1,000,000 finished + 100,000 queued tasks
"$ROOT/bench/metrics.sh"
# WAL, row versions, statements and commits per task of W1; W1 beside 1,000,000 finished
# tasks while pruning runs (bench/history.sh: HISTORY=10000000 for issue 12's case)
ROTA_BIN="$SCRATCH/release/rota" "$ROOT/bench/bytes_per_task.sh"
ROTA_BIN="$SCRATCH/release/rota" "$ROOT/bench/history.sh"
exec "$SCRATCH/release/rota-bench" --rota "$SCRATCH/release/rota" --database-url "$server" "$@"
