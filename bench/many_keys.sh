#!/usr/bin/env bash
# Per-key concurrency limits with many tenants: 100,000 concurrency keys with a limit of 2
# per key (queue `mk`), 200,000 tasks (2 per key), and the same 200,000 tasks in a queue
# without key limits (`plain`) for comparison. Prints:
#   - the rows and size of the per-key table with everything queued, while busy, and idle
#     after the tasks finished and rota.prune() ran;
#   - the latency of a claim of 200 tasks (pgbench -r, one claim per transaction,
#     followed by complete_many of what it got), keyed queue vs plain queue;
#   - claim(10) + complete_many throughput with 4 clients, keyed vs plain, and the ratio
#     (a fixed number of cycles that takes 40% of the tasks, so the queues never run dry).
#
#   bench/many_keys.sh                    KEYS=100000 PER_KEY=2 LIMIT=2 CLIENTS=4
#   KEYS=1000 bench/many_keys.sh          a quick run
#
# Database: rota_bench_keys (dropped and recreated on every run).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=../scripts/lib.sh
. "$ROOT/scripts/lib.sh"

KEYS="${KEYS:-100000}"
PER_KEY="${PER_KEY:-2}"
LIMIT="${LIMIT:-2}"
CLIENTS="${CLIENTS:-4}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

URL="$(fresh_db rota_bench_keys)"
q() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$URL" "$@"; }

# The per-key table of this schema version (older versions kept one row per key slot).
KEY_TABLE="$(q -c "SELECT coalesce(to_regclass('rota._key_counts'), to_regclass('rota._key_slots'))")"
key_rows() {
    q -c "SELECT count(*) || ' rows, ' || pg_size_pretty(pg_total_relation_size('$KEY_TABLE')) FROM $KEY_TABLE"
}

echo "many_keys: enqueueing $((KEYS * PER_KEY)) tasks over $KEYS keys (limit $LIMIT) and as many plain ..." >&2
t0=$(date +%s.%N)
q <<SQL >/dev/null
SELECT rota.define_queue('mk', concurrency_key_limit => $LIMIT, lease => '1 hour');
SELECT rota.define_queue('plain', lease => '1 hour');
SELECT rota.register_executor('bench-' || g) FROM generate_series(0, 63) AS g;
-- one enqueue_many per key (the concurrency key is per call), keys interleaved in run order
DO \$\$
BEGIN
    FOR k IN 1..$KEYS LOOP
        PERFORM rota.enqueue_many('mk', 'noop', array_fill('{}'::jsonb, ARRAY[$PER_KEY]), concurrency_key => 'tenant-' || k);
    END LOOP;
END \$\$;
SELECT count(*) FROM rota.enqueue_many('plain', 'noop', array_fill('{}'::jsonb, ARRAY[$((KEYS * PER_KEY))]));
VACUUM ANALYZE;
SQL
t1=$(date +%s.%N)
printf 'setup (enqueue %d keyed + %d plain tasks): %.1f s\n' "$((KEYS * PER_KEY))" "$((KEYS * PER_KEY))" "$(echo "$t1 - $t0" | bc)"
printf '%-48s %s\n' "key table ($KEY_TABLE), all queued:" "$(key_rows)"

cat >"$work/claim200.sql" <<'SQL'
SELECT coalesce(array_agg(c.id)::text, '{}') AS ids, coalesce(array_agg(c.attempt)::text, '{}') AS atts FROM rota.claim('bench-' || :client_id, ARRAY[:queue], 200) AS c \gset
SELECT count(*) FROM rota.complete_many(:ids::bigint[], :atts::int[]);
SQL
cat >"$work/cycle10.sql" <<'SQL'
SELECT coalesce(array_agg(c.id)::text, '{}') AS ids, coalesce(array_agg(c.attempt)::text, '{}') AS atts FROM rota.claim('bench-' || :client_id, ARRAY[:queue], 10) AS c \gset
SELECT count(*) FROM rota.complete_many(:ids::bigint[], :atts::int[]);
SQL

# claim of 200: average latency of the claim statement (pgbench -r), 1 client, 50 claims
claim_latency() {
    pgbench -n -r -M prepared -c 1 -t 50 -D queue="$1" -f "$work/claim200.sql" "$URL" >"$work/c200.$1.log" 2>&1 \
        || { cat "$work/c200.$1.log" >&2; exit 1; }
    awk '/rota.claim/ {print $1; exit}' "$work/c200.$1.log"
}
printf '%-48s %s ms\n' "claim of 200, keyed (avg of 50, pgbench -r):" "$(claim_latency mk)"
printf '%-48s %s ms\n' "claim of 200, plain (avg of 50, pgbench -r):" "$(claim_latency plain)"
q -c "SELECT count(*) FROM rota.claim('bench-63', ARRAY['mk'], 200)" >/dev/null
printf '%-48s %s\n' "key table, 200 running:" "$(key_rows)"

# throughput: claim 10 + complete_many, CLIENTS clients, 40% of the tasks
CYCLES=$(( KEYS * PER_KEY * 40 / 100 / 10 / CLIENTS ))
throughput() {
    pgbench -n -M prepared -c "$CLIENTS" -j "$CLIENTS" -t "$CYCLES" -D queue="$1" -f "$work/cycle10.sql" "$URL" \
        >"$work/tp.$1.log" 2>&1 || { cat "$work/tp.$1.log" >&2; exit 1; }
    sed -n 's/^tps = \([0-9.]*\) (without initial connection time)/\1/p' "$work/tp.$1.log"
}
tp_mk="$(throughput mk)"
tp_plain="$(throughput plain)"
done_mk="$(q -c "SELECT count(*) FROM rota.tasks WHERE queue = 'mk' AND state = 'succeeded'")"
printf '%-48s %.0f tasks/s (%d clients x %d cycles of claim 10 + complete_many)\n' "throughput keyed:" "$(echo "$tp_mk * 10" | bc)" "$CLIENTS" "$CYCLES"
printf '%-48s %.0f tasks/s\n' "throughput plain:" "$(echo "$tp_plain * 10" | bc)"
printf '%-48s %.2f\n' "ratio keyed / plain:" "$(echo "$tp_mk / $tp_plain" | bc -l)"
echo "($done_mk keyed tasks succeeded by now)" >&2

# drain the rest of the keyed queue, then prune: the idle cost of the keys
q <<'SQL' >/dev/null
UPDATE rota.queues SET retention = '1 microsecond';
DO $$
DECLARE n integer;
BEGIN
    LOOP
        WITH c AS MATERIALIZED (SELECT c.id, c.attempt FROM rota.claim('bench-62', ARRAY['mk'], 1000) AS c)
        SELECT count(*) INTO n
        FROM rota.complete_many(ARRAY(SELECT c.id FROM c ORDER BY c.id), ARRAY(SELECT c.attempt FROM c ORDER BY c.id));
        COMMIT;
        EXIT WHEN n = 0;
    END LOOP;
END $$;
SQL
q -c "SELECT rota.complete(id, attempts) FROM rota.tasks WHERE queue = 'mk' AND state = 'running'" >/dev/null
q -c "SELECT rota.prune(1000000)" >/dev/null
printf '%-48s %s\n' "key table, idle after prune:" "$(key_rows)"
q -c "VACUUM $KEY_TABLE" >/dev/null
printf '%-48s %s\n' "key table, idle after prune + vacuum:" "$(key_rows)"
