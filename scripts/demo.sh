#!/usr/bin/env bash
# `make demo`: three replicas of one service share a PostgreSQL and run the two examples
# (examples/monthly-reports, examples/storage-cleanup) on accelerated schedules for about
# a minute, then the demo checks that every fire ran exactly once and all work got done.
#
# Steps: database -> build `rota` and `rota-examples` -> install the schema -> example tables,
# seed data and temporary files -> 3 `rota-examples worker` processes (each applies the definitions:
# reports every 10 s, cleanup every 15 s) -> progress every 5 s -> pause the schedules, let
# the queues drain, SIGTERM the workers -> summary and checks (exit status 1 if one fails).
#
# Environment:
#   DATABASE_URL        a server to use instead of the project-local one (scripts/db.sh)
#   ROTA_DEMO_DB        the database the demo (re)creates on that server (default rota_demo)
#   ROTA_DEMO_SECONDS   how long the replicas run before the drain (default 60)
#   ROTA_BIN            a built `rota` to use instead of building one (with ROTA_EXAMPLES_BIN)
#   ROTA_EXAMPLES_BIN   a built `rota-examples` to use instead of building one
#   ROTA_DEMO_BUILD     debug (default) or release
#
# Everything the demo starts is stopped when it exits, except the database: `make db-stop`.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

DB_NAME="${ROTA_DEMO_DB:-rota_demo}"
RUN_SECONDS="${ROTA_DEMO_SECONDS:-60}"
REPLICAS=3
DEMO_DIR="$ROOT/.rota/demo"
STORAGE="$ROOT/.rota/demo-storage"
TENANTS=50
MONTHS=3            # the accelerated reports schedule reports the last 3 months
OLD_AGE="3 hours ago"
NEW_AGE="10 minutes ago"

if [ -t 1 ]; then BOLD=$'\033[1m' GREEN=$'\033[32m' RED=$'\033[31m' PLAIN=$'\033[0m'; else BOLD='' GREEN='' RED='' PLAIN=''; fi
step() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$PLAIN"; }
note() { printf '    %s\n' "$*"; }

# ---------------------------------------------------------------- cleanup on exit
WORKER_PIDS=()
cleanup() {
    local status=$?
    local alive=()
    for pid in "${WORKER_PIDS[@]}"; do
        kill -0 "$pid" 2>/dev/null && alive+=("$pid")
    done
    if [ "${#alive[@]}" -gt 0 ]; then
        echo "demo: stopping ${#alive[@]} worker(s) still running" >&2
        kill -TERM "${alive[@]}" 2>/dev/null || true
        for _ in $(seq 1 150); do
            local left=0
            for pid in "${alive[@]}"; do kill -0 "$pid" 2>/dev/null && left=1; done
            [ "$left" = 0 ] && break
            sleep 0.1
        done
        for pid in "${alive[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- database
step "Database"
if [ -n "${DATABASE_URL:-}" ]; then
    note "server: \$DATABASE_URL"
else
    note "server: the project-local PostgreSQL (scripts/db.sh; stop it with: make db-stop)"
fi
SERVER_URL="$(server_url)"
psql -X -q -v ON_ERROR_STOP=1 -d "$SERVER_URL" \
    -c "DROP DATABASE IF EXISTS \"$DB_NAME\" WITH (FORCE)" -c "CREATE DATABASE \"$DB_NAME\"" 2>/dev/null
DB_URL="$(with_dbname "$SERVER_URL" "$DB_NAME")"
note "fresh database: $DB_URL"
sql() { psql -X -q -v ON_ERROR_STOP=1 -d "$DB_URL" "$@"; }
sql_value() { psql -X -qAt -v ON_ERROR_STOP=1 -d "$DB_URL" -c "$1"; }

# ---------------------------------------------------------------- build
step "Build"
if [ -n "${ROTA_BIN:-}" ] && [ -n "${ROTA_EXAMPLES_BIN:-}" ]; then
    ROTA="$ROTA_BIN"
    ROTA_EXAMPLES="$ROTA_EXAMPLES_BIN"
    note "using ROTA_BIN=$ROTA and ROTA_EXAMPLES_BIN=$ROTA_EXAMPLES"
else
    configuration="${ROTA_DEMO_BUILD:-debug}"
    note "swift build -c $configuration --product rota, --product rota-examples (a few minutes the first time; log: .rota/demo/build.log)"
    mkdir -p "$DEMO_DIR"
    if ! { swift build -c "$configuration" --product rota && swift build -c "$configuration" --product rota-examples; } \
            >"$DEMO_DIR/build.log" 2>&1; then
        tail -n 30 "$DEMO_DIR/build.log" >&2
        echo "demo: the build failed (full log: .rota/demo/build.log)" >&2
        exit 1
    fi
    tail -n 1 "$DEMO_DIR/build.log" | sed 's/^/    /'
    ROTA="$ROOT/.build/$configuration/rota"
    ROTA_EXAMPLES="$ROOT/.build/$configuration/rota-examples"
fi
[ -x "$ROTA" ] || { echo "demo: no rota binary at $ROTA" >&2; exit 1; }
[ -x "$ROTA_EXAMPLES" ] || { echo "demo: no rota-examples binary at $ROTA_EXAMPLES" >&2; exit 1; }

# ---------------------------------------------------------------- schema and data
step "Schema and example data"
DATABASE_URL="$DB_URL" "$ROTA" migrate | sed 's/^/    /'
sql -f examples/monthly-reports/schema.sql
sql -v tenants="$TENANTS" -f examples/monthly-reports/seed.sql >/dev/null
sql -At -c "SELECT format('%s tenants, %s orders since %s', (SELECT count(*) FROM rota_examples.tenants), count(*),
                          min(created_at)::date) FROM rota_examples.orders" | sed 's/^/    /'

# Temporary objects: old ones (3 hours) must go, new ones (10 minutes) must stay, and
# nothing outside tmp/ is ever touched.
rm -rf "$STORAGE"
make_files() { # make_files FOLDER COUNT AGE NAME
    local n
    mkdir -p "$STORAGE/$1"
    for n in $(seq 1 "$2"); do
        head -c $((512 * n)) /dev/zero >"$STORAGE/$1/$4-$n.bin"
        touch -d "$3" "$STORAGE/$1/$4-$n.bin"
    done
}
for bucket in uploads exports thumbnails imports; do
    make_files "tmp/$bucket" 6 "$OLD_AGE" old
    make_files "tmp/$bucket" 4 "$NEW_AGE" new
done
make_files "tmp/uploads/2026/batch-7" 5 "$OLD_AGE" old-nested
# many small folders, so each cleanup fire fans out more tasks than the queue may start per second
for n in $(seq -w 1 40); do
    make_files "tmp/session-$n" 1 "$OLD_AGE" old
    make_files "tmp/session-$n" 1 "$NEW_AGE" new
done
make_files "keep/archive" 3 "$OLD_AGE" old-but-not-temporary
count_files() { find "$STORAGE/$1" -type f "${@:2}" 2>/dev/null | wc -l | tr -d ' '; }
OLD_SEEDED=$(count_files tmp -name 'old*')
NEW_SEEDED=$(count_files tmp -name 'new*')
KEEP_SEEDED=$(count_files keep)
note "$STORAGE: $OLD_SEEDED old and $NEW_SEEDED new objects in $(ls "$STORAGE/tmp" | wc -l) folders under tmp/,"\
     "$KEEP_SEEDED old ones under keep/"

# ---------------------------------------------------------------- replicas
# --concurrency 2: each process runs at most 2 tasks per queue; the queue definitions cap
# reports at 4 running and cleanup at 20 starts per second across all of them.
step "Starting $REPLICAS replicas (rota-examples worker, accelerated schedules)"
mkdir -p "$DEMO_DIR"
for i in $(seq 1 "$REPLICAS"); do
    DATABASE_URL="$DB_URL" ROTA_EXECUTOR_ID="replica-$i" ROTA_EXAMPLES_ACCELERATED=1 \
        ROTA_EXAMPLES_STORAGE_DIR="$STORAGE" \
        "$ROTA_EXAMPLES" worker --queues reports,cleanup --concurrency 2 --grace 10 \
        >"$DEMO_DIR/replica-$i.log" 2>&1 &
    WORKER_PIDS+=($!)
    note "replica-$i: pid $!, log .rota/demo/replica-$i.log"
done

check_workers_alive() {
    for i in "${!WORKER_PIDS[@]}"; do
        if ! kill -0 "${WORKER_PIDS[$i]}" 2>/dev/null; then
            echo "demo: replica-$((i + 1)) exited early; its log:" >&2
            tail -n 20 "$DEMO_DIR/replica-$((i + 1)).log" >&2
            exit 1
        fi
    done
}

for _ in $(seq 1 300); do
    check_workers_alive
    [ "$(sql_value "SELECT count(*) FROM rota.executors WHERE id LIKE 'replica-%'")" = "$REPLICAS" ] && break
    sleep 0.1
done
[ "$(sql_value "SELECT count(*) FROM rota.executors WHERE id LIKE 'replica-%'")" = "$REPLICAS" ] \
    || { echo "demo: the replicas did not register within 30 s" >&2; exit 1; }
# every replica applied the same definitions document at start; the database took it once
grep -ho '"status": "[a-z]*"' "$DEMO_DIR"/replica-*.log | sort | uniq -c | sed 's/^ */    definitions: /'
sql -c "SELECT name, cron, queue, task, next_fire_at FROM rota.schedule_status ORDER BY name" | sed 's/^/    /'

# ---------------------------------------------------------------- progress
PROGRESS_SQL=$(cat <<'SQL'
WITH q AS (SELECT * FROM rota.queue_stats),
     f AS (SELECT schedule, count(*) AS n FROM rota.schedule_fires GROUP BY schedule),
     e AS (SELECT executor, count(*) AS n FROM rota.tasks WHERE state = 'succeeded' AND executor IS NOT NULL
           GROUP BY executor)
SELECT format('reports: %s waiting %s running %s done %s failed | cleanup: %s waiting %s running %s done %s failed | fires: reports %s, cleanup %s | done by %s',
    (SELECT ready + delayed FROM q WHERE queue = 'reports'), (SELECT running FROM q WHERE queue = 'reports'),
    (SELECT succeeded FROM q WHERE queue = 'reports'), (SELECT failed FROM q WHERE queue = 'reports'),
    (SELECT ready + delayed FROM q WHERE queue = 'cleanup'), (SELECT running FROM q WHERE queue = 'cleanup'),
    (SELECT succeeded FROM q WHERE queue = 'cleanup'), (SELECT failed FROM q WHERE queue = 'cleanup'),
    coalesce((SELECT n FROM f WHERE schedule = 'monthly-reports'), 0),
    coalesce((SELECT n FROM f WHERE schedule = 'storage-cleanup'), 0),
    coalesce((SELECT string_agg(executor || ' ' || n, ', ' ORDER BY executor) FROM e), 'nobody yet'))
SQL
)

step "Running for ${RUN_SECONDS} s (progress every 5 s)"
START=$SECONDS
LATE_DROPPED=0
while [ $((SECONDS - START)) -lt "$RUN_SECONDS" ]; do
    sleep 5
    check_workers_alive
    # a failed sample (say, the database restarting) is shown, not fatal: the workers reconnect
    printf '    t+%3ss  %s\n' "$((SECONDS - START))" "$( { sql_value "$PROGRESS_SQL" 2>&1 || true; } | head -n 1)"
    if [ "$LATE_DROPPED" = 0 ] && [ $((SECONDS - START)) -ge $((RUN_SECONDS / 2)) ]; then
        # more stale objects, one folder of them new: a later cleanup fire must find them
        make_files "tmp/uploads" 3 "2 hours ago" old-late
        make_files "tmp/late-drops" 4 "2 hours ago" old-late
        make_files "tmp/late-drops" 2 "$NEW_AGE" new-late
        LATE_DROPPED=1
        OLD_SEEDED=$((OLD_SEEDED + 7))
        NEW_SEEDED=$((NEW_SEEDED + 2))
        note "dropped 7 more old objects (3 in tmp/uploads/, 4 in the new folder tmp/late-drops/) and 2 new ones"
    fi
done

# ---------------------------------------------------------------- drain and stop
step "Pausing the schedules and letting the queues drain"
sql -c "SELECT rota.pause_schedule('monthly-reports'), rota.pause_schedule('storage-cleanup')" >/dev/null
DRAINED=0
for _ in $(seq 1 300); do
    check_workers_alive
    if [ "$(sql_value "SELECT count(*) FROM rota.tasks WHERE state IN ('queued', 'running')")" = 0 ]; then
        DRAINED=1
        break
    fi
    sleep 0.1
done
note "queues drained: $([ "$DRAINED" = 1 ] && echo yes || echo "NO (30 s timeout)")"
printf '    final    %s\n' "$(sql_value "$PROGRESS_SQL")"

step "Stopping the replicas with SIGTERM (graceful)"
kill -TERM "${WORKER_PIDS[@]}"
WORKER_STATUS=()
for i in "${!WORKER_PIDS[@]}"; do
    status=0
    wait "${WORKER_PIDS[$i]}" || status=$?
    WORKER_STATUS+=("$status")
    note "replica-$((i + 1)) exited with status $status"
done
WORKER_PIDS=()

# ---------------------------------------------------------------- summary
step "Summary"
FAILURES=0
check() { # check DESCRIPTION CONDITION-EXIT-STATUS
    if [ "$2" = 0 ]; then
        printf '    %sPASS%s %s\n' "$GREEN" "$PLAIN" "$1"
    else
        printf '    %sFAIL%s %s\n' "$RED" "$PLAIN" "$1"
        FAILURES=$((FAILURES + 1))
    fi
}
is() { [ "$1" = "$2" ] && echo 0 || echo 1; }
at_least() { [ "$1" -ge "$2" ] && echo 0 || echo 1; }

echo "    Fires per schedule (each (schedule, fire_at) is one row; who fired it, who ran its task):"
sql -c "
    SELECT f.schedule, count(*) AS fires, max(per.n) AS max_fires_per_instant,
           min(f.fire_at) AS first_fire, max(f.fire_at) AS last_fire,
           string_agg(DISTINCT f.fired_by, ', ') AS fired_by,
           count(*) FILTER (WHERE t.state = 'succeeded') AS tasks_succeeded
    FROM rota.schedule_fire_status f
    JOIN rota.tasks t ON t.id = f.task_id
    JOIN (SELECT schedule, fire_at, count(*) AS n FROM rota.schedule_fires GROUP BY 1, 2) per USING (schedule, fire_at)
    GROUP BY f.schedule ORDER BY f.schedule" | sed 's/^/    /'

REPORT_FIRES=$(sql_value "SELECT count(*) FROM rota.schedule_fires WHERE schedule = 'monthly-reports'")
CLEANUP_FIRES=$(sql_value "SELECT count(*) FROM rota.schedule_fires WHERE schedule = 'storage-cleanup'")
check "the reports schedule fired on every 10 s tick of the run ($REPORT_FIRES fires)" \
    "$(at_least "$REPORT_FIRES" $((RUN_SECONDS / 10 - 1)))"
check "the cleanup schedule fired on every 15 s tick of the run ($CLEANUP_FIRES fires)" \
    "$(at_least "$CLEANUP_FIRES" $((RUN_SECONDS / 15 - 1)))"
# exactly once per interval: consecutive fires are one period apart, no gap and no repeat
GAPS=$(sql_value "
    SELECT count(*) FROM (
        SELECT schedule, fire_at - lag(fire_at) OVER (PARTITION BY schedule ORDER BY fire_at) AS step
        FROM rota.schedule_fires) s
    WHERE step IS NOT NULL
      AND step <> CASE schedule WHEN 'monthly-reports' THEN interval '10 seconds' ELSE interval '15 seconds' END")
check "each interval fired exactly once: consecutive fires are one period apart ($GAPS irregular)" "$(is "$GAPS" 0)"
NOT_BY_REPLICAS=$(sql_value "SELECT count(*) FROM rota.schedule_fires WHERE executor IS NULL OR executor NOT LIKE 'replica-%'")
check "every fire was made by a replica's schedule ticker (rota.fire_due; $NOT_BY_REPLICAS otherwise)" "$(is "$NOT_BY_REPLICAS" 0)"
DUP_FIRE_TASKS=$(sql_value "SELECT count(*) FROM (SELECT key FROM rota.tasks WHERE key LIKE 'schedule:%' GROUP BY key HAVING count(*) > 1) d")
FIRES_WITHOUT_TASK=$(sql_value "SELECT count(*) FROM rota.schedule_fires f LEFT JOIN rota.tasks t ON t.id = f.task_id WHERE t.id IS NULL")
check "every fire enqueued exactly one task ($FIRES_WITHOUT_TASK without, $DUP_FIRE_TASKS keys twice)" \
    "$(is "$((FIRES_WITHOUT_TASK + DUP_FIRE_TASKS))" 0)"
DUP_KEYS=$(sql_value "SELECT count(*) FROM (SELECT queue, key FROM rota.tasks WHERE key IS NOT NULL GROUP BY 1, 2 HAVING count(*) > 1) d")
check "no task key appears twice in a queue ($DUP_KEYS duplicates)" "$(is "$DUP_KEYS" 0)"

echo
echo "    Tasks by queue, task and state (and how many ran on each replica):"
sql -c "
    SELECT queue, task, state, count(*) AS tasks,
           string_agg(DISTINCT executor, ', ') AS executors, max(attempts) AS max_attempts
    FROM rota.tasks GROUP BY 1, 2, 3 ORDER BY 1, 2, 3" | sed 's/^/    /'
sql -c "SELECT executor, count(*) AS tasks_run FROM rota.tasks WHERE state = 'succeeded' GROUP BY 1 ORDER BY 1" \
    | sed 's/^/    /'
NOT_DONE=$(sql_value "SELECT count(*) FROM rota.tasks WHERE state <> 'succeeded'")
ALL_TASKS=$(sql_value "SELECT count(*) FROM rota.tasks")
check "every report and cleanup task succeeded ($((ALL_TASKS - NOT_DONE)) of $ALL_TASKS)" "$(is "$NOT_DONE" 0)"

echo
echo "    Reports per month (one per tenant and month, however many fires asked for it):"
sql -c "
    SELECT to_char(month, 'YYYY-MM') AS month, count(*) AS reports, sum(order_count) AS orders, sum(revenue) AS revenue
    FROM rota_examples.reports GROUP BY month ORDER BY month" | sed 's/^/    /'
GENERATE_TASKS=$(sql_value "SELECT count(*) FROM rota.tasks WHERE task = 'reports.generate'")
REPORT_ROWS=$(sql_value "SELECT count(*) FROM rota_examples.reports")
EXPECTED_REPORTS=$((TENANTS * MONTHS))
check "$EXPECTED_REPORTS reports.generate tasks for $TENANTS tenants x $MONTHS months, across $REPORT_FIRES fires ($GENERATE_TASKS)" \
    "$(is "$GENERATE_TASKS" "$EXPECTED_REPORTS")"
check "$EXPECTED_REPORTS report rows ($REPORT_ROWS)" "$(is "$REPORT_ROWS" "$EXPECTED_REPORTS")"
WRONG_REPORTS=$(sql_value "
    SELECT count(*) FROM rota_examples.reports r
    CROSS JOIN LATERAL (
        SELECT count(*) AS n, coalesce(sum(o.amount), 0) AS total FROM rota_examples.orders o
        WHERE o.tenant_id = r.tenant_id
          AND o.created_at >= r.month::timestamp AT TIME ZONE 'UTC'
          AND o.created_at < (r.month + interval '1 month')::timestamp AT TIME ZONE 'UTC') c
    WHERE (r.order_count, r.revenue) IS DISTINCT FROM (c.n, c.total)")
check "every report matches its orders recounted now ($WRONG_REPORTS differ)" "$(is "$WRONG_REPORTS" 0)"

echo
echo "    Storage cleanup (cutoff = fire time - 1 hour):"
sql -c "
    SELECT regexp_replace(payload->>'prefix', 'session-[0-9]+', 'session-NN') AS prefix,
           count(DISTINCT payload->>'prefix') AS folders, count(*) AS tasks,
           sum((result->>'deleted')::int) AS deleted, count(DISTINCT parent_id) AS fires
    FROM rota.tasks WHERE task = 'cleanup.prefix' GROUP BY 1 ORDER BY 1" | sed 's/^/    /'
OLD_LEFT=$(count_files tmp -name 'old*')
NEW_LEFT=$(count_files tmp -name 'new*')
KEEP_LEFT=$(count_files keep)
check "every old temporary object was deleted ($((OLD_SEEDED - OLD_LEFT)) of $OLD_SEEDED, $OLD_LEFT left)" "$(is "$OLD_LEFT" 0)"
check "every new temporary object was kept ($NEW_LEFT of $NEW_SEEDED)" "$(is "$NEW_LEFT" "$NEW_SEEDED")"
check "nothing outside tmp/ was touched ($KEEP_LEFT of $KEEP_SEEDED old objects under keep/ remain)" \
    "$(is "$KEEP_LEFT" "$KEEP_SEEDED")"
PREFIX_TASKS_PER_FIRE=$(sql_value "
    SELECT count(*) FROM (SELECT parent_id, payload->>'prefix' FROM rota.tasks WHERE task = 'cleanup.prefix'
                          GROUP BY 1, 2 HAVING count(*) > 1) d")
check "one cleanup.prefix task per folder per fire ($PREFIX_TASKS_PER_FIRE repeats)" "$(is "$PREFIX_TASKS_PER_FIRE" 0)"

echo
echo "    Queue limits, enforced by the database across the replicas:"
# a task counts as running from its start to its finish (a slot changes hands within a few ms)
MAX_REPORTS_AT_ONCE=$(sql_value "
    SELECT coalesce(max(n), 0) FROM (
        SELECT (SELECT count(*) FROM rota.tasks u
                WHERE u.queue = 'reports' AND u.started_at <= t.started_at
                  AND u.finished_at > t.started_at + interval '5 milliseconds') AS n
        FROM rota.tasks t WHERE t.queue = 'reports') x")
MAX_CLEANUP_STARTS=$(sql_value "
    SELECT coalesce(max(n), 0) FROM (
        SELECT (SELECT count(*) FROM rota.tasks u
                WHERE u.queue = 'cleanup' AND u.started_at > t.started_at - interval '1 second'
                  AND u.started_at <= t.started_at) AS n
        FROM rota.tasks t WHERE t.queue = 'cleanup') x")
REPORT_EXECUTORS=$(sql_value "SELECT count(DISTINCT executor) FROM rota.tasks WHERE task = 'reports.generate'")
check "reports: at most 4 running at once across all replicas (max $MAX_REPORTS_AT_ONCE; generated on $REPORT_EXECUTORS replicas)" \
    "$( [ "$MAX_REPORTS_AT_ONCE" -le 4 ] && echo 0 || echo 1 )"
check "cleanup: at most 20 task starts in any 1 s (max $MAX_CLEANUP_STARTS)" \
    "$( [ "$MAX_CLEANUP_STARTS" -le 20 ] && echo 0 || echo 1 )"

echo
STOPPED=$(sql_value "SELECT count(*) FROM rota.executor_status WHERE executor LIKE 'replica-%' AND stopped")
BAD_EXITS=0
for status in "${WORKER_STATUS[@]}"; do [ "$status" = 0 ] || BAD_EXITS=$((BAD_EXITS + 1)); done
check "the replicas shut down gracefully on SIGTERM ($STOPPED of $REPLICAS stopped, $BAD_EXITS bad exits)" \
    "$(is "$STOPPED:$BAD_EXITS" "$REPLICAS:0")"

echo
if [ "$FAILURES" = 0 ]; then
    printf '%sdemo passed%s: logs in .rota/demo/, database %s is left for a look (psql "%s")\n' "$GREEN" "$PLAIN" "$DB_NAME" "$DB_URL"
    [ -n "${DATABASE_URL:-}" ] || echo "stop the project-local PostgreSQL with: make db-stop"
else
    printf '%sdemo FAILED%s: %s check(s); logs in .rota/demo/\n' "$RED" "$PLAIN" "$FAILURES"
    exit 1
fi
