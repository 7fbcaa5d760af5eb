#!/usr/bin/env bash
# Bytes per task: what one durable task costs the database in W1 (enqueue_many, then 2
# `rota worker` processes claim and complete), per task:
#   * WAL bytes (LSN difference) and WAL records / full-page images (pg_stat_wal),
#   * heap row versions of rota.tasks (pg_stat_user_tables: inserts, updates, HOT updates),
#   * index entries written, per index, and the WAL by record type and relation
#     (pg_waldump over the measured LSN range),
#   * statements (pg_stat_statements calls: the round trips, an upper bound when the
#     driver pipelines) and commits (pg_stat_database xact_commit, WAL commit records),
# for the enqueue, for the drain, and for a VACUUM of rota.tasks afterwards (the cost the
# dead row versions leave behind). It also times the drain against `pgbench -N` (4
# clients, 2 threads, before and after the drain: the ratio uses their mean) and reads the
# CPU of the 2 idle workers over 5 s once they have drained. Then the same drain again at
# each of RATIO_CONCURRENCIES (32 64; empty: none), rate only, between the same two
# pgbench runs: the ratio as the claim batch grows (a claim takes at most the free slots).
#
#   bench/bytes_per_task.sh                       TASKS=20000 PROCESSES=2 CONCURRENCY=16
#   ROTA_BIN=.build/release/rota bench/bytes_per_task.sh   (scripts/bench.sh passes it)
#   INSTALL_SQL=../main/sql/install.sql bench/bytes_per_task.sh   (another release's schema)
#
# Databases: rota_bench_bytes and rota_bench_bytes_pgbench, dropped and recreated.
# pg_waldump needs read access to the server's pg_wal (the project-local cluster's, or
# $PGWAL); without it the per-record breakdown is skipped.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=scripts/lib.sh
. "$ROOT/scripts/lib.sh"

TASKS="${TASKS:-20000}"
PROCESSES="${PROCESSES:-2}"
CONCURRENCY="${CONCURRENCY:-16}"
RATIO_CONCURRENCIES="${RATIO_CONCURRENCIES-32 64}"
BASELINE_SECONDS="${BASELINE_SECONDS:-10}"
# shellcheck source=bench/drain_lib.sh
. "$ROOT/bench/drain_lib.sh"
PGWAL="${PGWAL:-$ROOT/.rota/pg/data/pg_wal}"

server="$(server_url)"
work="$(mktemp -d)"
trap 'stop_workers; rm -rf "$work"' EXIT
note() { echo "bench/bytes: $*" >&2; }

# INSTALL_SQL: the schema to measure (default this checkout's; another checkout's
# sql/install.sql measures that release with the same worker binary)
INSTALL_SQL="${INSTALL_SQL:-$ROOT/sql/install.sql}"
psql -X -q -v ON_ERROR_STOP=1 -d "$server" -c 'SET client_min_messages = warning' \
    -c 'DROP DATABASE IF EXISTS rota_bench_bytes WITH (FORCE)' -c 'CREATE DATABASE rota_bench_bytes' >/dev/null
url="$(with_dbname "$server" rota_bench_bytes)"
psql -X -q -v ON_ERROR_STOP=1 -d "$url" -f "$INSTALL_SQL" >/dev/null
q() { psql -X -Atq -v ON_ERROR_STOP=1 -d "$url" "$@"; }
q -c "SELECT rota.define_queue('bench', lease => '5 minutes')" >/dev/null
case ",$(q -c "SHOW shared_preload_libraries" | tr -d ' ')," in
    *,pg_stat_statements,*) ;;
    *) echo "bench/bytes: the server needs pg_stat_statements in shared_preload_libraries (scripts/db.sh sets it)" >&2; exit 1 ;;
esac

pg_url="$(pgbench_db rota_bench_bytes_pgbench)"

# One line of counters, space separated: insert LSN, WAL records, FPIs, commits of this
# database, statements of this database (the bench's own polls excluded), and the heap
# counters of rota.tasks.
snapshot() {
    q -F' ' -c "SELECT /* bench-poll */ pg_current_wal_insert_lsn(), w.wal_records, w.wal_fpi, d.xact_commit,
                       (SELECT coalesce(sum(s.calls), 0) FROM pg_stat_statements s
                        WHERE s.dbid = d.datid AND s.query NOT LIKE '%bench-poll%'),
                       t.n_tup_ins, t.n_tup_upd, t.n_tup_hot_upd, t.n_tup_del
                FROM pg_stat_wal w, pg_stat_database d, pg_stat_user_tables t
                WHERE d.datname = current_database() AND t.relid = 'rota.tasks'::regclass"
}

# WAL between two LSNs by record type and relation: "rmgr type relation count bytes fpi_count".
waldump() {
    local oid
    oid="$(q -c "SELECT oid FROM pg_database WHERE datname = current_database()")"
    [ -r "$PGWAL" ] || { echo "(pg_waldump skipped: $PGWAL not readable)"; return; }
    pg_waldump -p "$PGWAL" -s "$1" -e "$2" 2>/dev/null | awk -v db="$oid" '
        {
            rmgr = $2; tot = $6; sub(/,/, "", tot)
            d = index($0, "desc: "); rest = substr($0, d + 6); split(rest, w, " "); type = w[1]
            rel = "-"
            if (match($0, /rel [0-9]+\/[0-9]+\/[0-9]+/)) {
                split(substr($0, RSTART + 4, RLENGTH - 4), r, "/")
                rel = (r[2] == db) ? r[3] : "other-db"
            }
            fpi = ($0 ~ / FPW/) ? 1 : 0
            key = rmgr " " type " " rel
            n[key]++; b[key] += tot; f[key] += fpi
        }
        END { for (k in n) print k, n[k], b[k], f[k] }' >"$work/wal.raw"
    # relfilenode -> relation name
    q -F' ' -c "SELECT pg_relation_filenode(c.oid), c.relname FROM pg_class c
                WHERE pg_relation_filenode(c.oid) IS NOT NULL" >"$work/rels"
    awk 'NR == FNR { name[$1] = $2; next }
         { rel = ($3 in name) ? name[$3] : ($3 == "-" ? "" : "(" $3 ")"); print $1, $2, rel, $4, $5, $6 }' \
        "$work/rels" "$work/wal.raw" | sort -k5,5nr
}

# per-task figures between two snapshots: label, the two snapshot lines, and the number of
# the bench's own read-only transactions between them (left out of the commits)
report() {
    local label="$1" a="$2" b="$3" own="$4"
    read -r lsn0 rec0 fpi0 com0 st0 ins0 upd0 hot0 del0 <<<"$a"
    read -r lsn1 rec1 fpi1 com1 st1 ins1 upd1 hot1 del1 <<<"$b"
    local bytes
    bytes="$(q -c "SELECT pg_wal_lsn_diff('$lsn1', '$lsn0')")"
    python3 - "$label" "$TASKS" "$bytes" $((rec1 - rec0)) $((fpi1 - fpi0)) $((com1 - com0 - own)) $((st1 - st0)) \
        $((ins1 - ins0)) $((upd1 - upd0)) $((hot1 - hot0)) $((del1 - del0)) <<'PY'
import sys
label, tasks, *v = sys.argv[1:]
t = int(tasks); b, rec, fpi, com, st, ins, upd, hot, dele = (float(x) for x in v)
print(f"{label:<22} {b/t:9.1f} {rec/t:8.2f} {fpi/t:6.3f} {com/t:8.3f} {st/t:8.3f}"
      f" {ins/t:6.2f} {(upd-hot)/t:8.2f} {hot/t:6.2f} {dele/t:6.2f}")
PY
}

# enqueue_tasks: TASKS noop tasks into queue `bench`, 1,000 per enqueue_many call
enqueue_tasks() {
    q -c "SELECT count(*) FROM generate_series(1, $TASKS / 1000) AS b,
          LATERAL rota.enqueue_many('bench', 'noop', array_fill(CASE WHEN b > 0 THEN '{}'::jsonb END, ARRAY[1000]))" >/dev/null
}

note "baseline pgbench -N (4 clients, ${BASELINE_SECONDS}s) ..."
tps_before="$(pgbench_tps "$pg_url" "$BASELINE_SECONDS")"

q -c "CHECKPOINT" >/dev/null
q -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null
s0="$(snapshot)"
note "enqueue $TASKS tasks (enqueue_many, 1,000 per call) ..."
enqueue_tasks
s1="$(snapshot)"
[ "$(q -c "SELECT count(*) FROM rota.tasks")" = "$TASKS" ] || { echo "bench/bytes: the enqueue did not make $TASKS tasks" >&2; exit 1; }
q -c "VACUUM ANALYZE rota.tasks" >/dev/null
s2="$(snapshot)"

note "drain with $PROCESSES worker processes (concurrency $CONCURRENCY) ..."
start_workers "$url" bench "$PROCESSES" bench
wait_drained "$url"
# the idle workers: 1 s to settle, then 5 s of CPU
sleep 1
idle0="$(cpu_ticks "${workers[@]}")"
sleep 5
idle1="$(cpu_ticks "${workers[@]}")"
# the workers' server processes: how many, and their CPU over their life (the drain, 6 s idle)
read -ra backends <<<"$(q -c "SELECT /* bench-poll */ string_agg(pid::text, ' ') FROM pg_stat_activity
                             WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()")"
backend_ticks="$(cpu_ticks "${backends[@]}")"
stop_workers
sleep 1   # the exited backends' statistics are flushed
s3="$(snapshot)"
rate="$(drain_rate "$url" true 1)"
q -c "VACUUM rota.tasks" >/dev/null
s4="$(snapshot)"

# The drain's WAL and statements, read before the drains below add their own.
lsn_a="$(cut -d' ' -f1 <<<"$s2")"; lsn_b="$(cut -d' ' -f1 <<<"$s3")"
# the first 25 lines; awk reads on to the end, as `head` did not: a writer left on a closed
# pipe ends with SIGPIPE, which fails the script (pipefail) before the statements below
wal_report="$(waldump "$lsn_a" "$lsn_b" | awk -v t="$TASKS" '
    NR > 25 { next }
    NF == 6 { printf "  %-12s %-14s %-26s %8.3f records %8.1f B %7.3f FPI\n", $1, $2, $3, $4 / t, $5 / t, $6 / t; next }
    { print "  " $0 }')"
statements_report="$(q -F' ' -c "SELECT round(s.calls * 1000.0 / $TASKS, 1), left(regexp_replace(s.query, '\s+', ' ', 'g'), 90)
            FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid AND d.datname = current_database()
            WHERE s.query NOT LIKE '%bench-poll%' AND s.query NOT LIKE '%pg_stat%' AND s.query NOT LIKE 'VACUUM%'
              AND s.query NOT LIKE '%enqueue_many%' AND s.query NOT LIKE 'CHECKPOINT%'
            ORDER BY s.calls DESC LIMIT 8" | sed 's/^/  /')"

# the same drain at other concurrencies (rates only): "concurrency rate" per line
measured_concurrency="$CONCURRENCY"
other_rates=""
for CONCURRENCY in $RATIO_CONCURRENCIES; do
    note "drain again at concurrency $CONCURRENCY ..."
    q -c "TRUNCATE rota.tasks CASCADE" >/dev/null
    enqueue_tasks
    q -c "VACUUM ANALYZE rota.tasks" >/dev/null
    start_workers "$url" bench "$PROCESSES" "bench-c$CONCURRENCY"
    wait_drained "$url"
    stop_workers
    other_rates+="$CONCURRENCY $(drain_rate "$url" true 1)"$'\n'
done
CONCURRENCY="$measured_concurrency"

note "baseline pgbench -N again ..."
tps_after="$(pgbench_tps "$pg_url" "$BASELINE_SECONDS")"

echo
echo "bytes per task: $TASKS tasks, $PROCESSES processes x concurrency $CONCURRENCY, PostgreSQL $(q -c 'SHOW server_version')," \
     "synchronous_commit=$(q -c 'SHOW synchronous_commit'), wal_level=$(q -c 'SHOW wal_level')," \
     "full_page_writes=$(q -c 'SHOW full_page_writes'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-22s %9s %8s %6s %8s %8s %6s %8s %6s %6s\n' "per task" "WAL B" "records" "FPI" "commits" "stmts" \
    "ins" "upd" "hot" "del"
report "enqueue (batch 1000)" "$s0" "$s1" 1
report "claim + complete" "$s2" "$s3" $((polls + 1))
report "vacuum afterwards" "$s3" "$s4" 2
report "whole life" "$s0" "$s4" $((polls + 7))
python3 - "$rate" "$tps_before" "$tps_after" "$idle0" "$idle1" "$(getconf CLK_TCK)" "$PROCESSES" \
    "${#backends[@]}" "$backend_ticks" "$TASKS" "$CONCURRENCY" "$other_rates" <<'PY'
import sys
rate, before, after, i0, i1, hz, procs, nbackends, bticks, tasks, concurrency, others = sys.argv[1:]
base = (float(before) + float(after)) / 2
cpu = (int(i1) - int(i0)) / float(hz) / 5 * 100 / int(procs)
print(f"database CPU of the workers' sessions: {int(bticks) / float(hz) * 1e6 / int(tasks):.0f} us per task"
      f" ({nbackends} sessions for {procs} worker processes)")
print(f"drain rate {float(rate):.0f} tasks/s; pgbench -N {float(before):.0f} before, {float(after):.0f} after:"
      f" ratio {float(rate) / base:.2f} (target >= 4)")
for line in others.split("\n"):
    if line.strip():
        c, r = line.split()
        print(f"  the same drain at concurrency {c} (was {concurrency}): {float(r):.0f} tasks/s, ratio {float(r) / base:.2f}")
print(f"idle worker CPU: {cpu:.2f} % of a core per process (5 s, mean of {procs}; target < 1 %)")
PY

echo
echo "WAL of the drain by record type (pg_waldump; per task; index entries = Btree INSERT_LEAF)"
echo "$wal_report"
echo
echo "statements of the drain (pg_stat_statements, calls per 1,000 tasks)"
echo "$statements_report"
