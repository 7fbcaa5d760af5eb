#!/usr/bin/env bash
# `make test-containers`: builds the image from the Dockerfile and runs docker-compose.yml,
# unmodified, with podman and podman-compose: PostgreSQL and 3 worker replicas on the
# examples' accelerated schedules. Then, through SQL on the port the compose file publishes
# on 127.0.0.1, it checks that
#   - the one-off `setup` (as the superuser) migrates, applies the definitions and grants the
#     replicas' role, and exits 0 before any replica starts;
#   - the replicas log in as that application role (rota_app), which is no superuser, holds
#     rota_worker, rota_producer and rota_reader only, and cannot read rota.tasks;
#   - each schedule fires exactly once per interval, and the work is spread over the replicas;
#   - `podman kill -s KILL` of a replica loses nothing: its tasks are recovered within lease + heartbeat;
#   - scaling to 5 replicas and back to 2 changes nothing about the fires;
#   - a restart of the postgres container loses nothing, and the replicas reconnect;
#   - the health checks report healthy;
#   - bad input (a wrong DATABASE_URL, a database that is not up, an unknown queue) is named
#     in one log line, and the worker exits non-zero or retries;
#   - `podman-compose stop worker` + `down` stop every replica gracefully within
#     stop_grace_period (status 0, tasks handed back) and leave nothing behind;
# and prints a table of what it saw (exit status 1 if a check fails).
#
# The public base images cannot be pulled here: scripts/container-images.sh builds local
# stand-ins under the same names from Debian packages (and this machine's Swift toolchain).
# Test-only settings live in tests/containers/compose.test.yml (accelerated schedules, an
# internal network for the replicas) and tests/containers/containers.conf (lower rlimits).
# Everything it starts is stopped when it exits; the images stay (cached for the next run).
#
# Needs root (podman, debootstrap); installs podman, debootstrap and podman-compose (PyPI,
# in a virtualenv under .rota/containers) when missing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"

PROJECT=rota-containers-test
CACHE="${ROTA_CONTAINERS_CACHE:-$ROOT/.rota/containers}"
RUN_DIR="$ROOT/.rota/test-containers"
PODMAN_COMPOSE_VERSION=1.6.0
COMPOSE_FILES=(-f docker-compose.yml -f tests/containers/compose.test.yml)
PG_PORT=5432                 # as docker-compose.yml publishes it
TENANTS=20
LEASE_SECONDS=60             # the example queues' lease (RotaExamples.definitions)
HEARTBEAT_SECONDS=20         # the worker's default heartbeat: a third of the lease
STOP_GRACE_SECONDS=30        # docker-compose.yml: stop_grace_period
CLAIM_SLACK_SECONDS=5        # from a reap to the next claim of the task (a NOTIFY wakes the workers)
# The executable docker-compose.yml's worker runs (`rota`, or `rota-examples`), for the
# bad-input case that starts it with an unknown queue.
WORKER_BINARY=$(awk -F'"' '/^  [a-z]/ { service = $0 } service ~ /^  worker:/ && $1 ~ /^ *command: \[/ { print $2; exit }' docker-compose.yml)
# The replicas' login role (docker-compose.yml's worker DATABASE_URL; examples/compose/initdb creates it)
APP_ROLE=rota_app

export CONTAINERS_CONF="$ROOT/tests/containers/containers.conf"
export PGPASSWORD=rota PGCONNECT_TIMEOUT=3

log() { printf '%s  %s\n' "$(date -u +%H:%M:%S)" "$*"; }
die() { log "test-containers: $*" >&2; exit 1; }

# ---------------------------------------------------------------- what it needs
install_missing() {
    local packages=()
    command -v podman >/dev/null || packages+=(podman)
    command -v runc >/dev/null || packages+=(runc)
    command -v debootstrap >/dev/null || packages+=(debootstrap)
    command -v psql >/dev/null || packages+=(postgresql-client)
    python3 -c 'import venv, ensurepip' 2>/dev/null || packages+=(python3-venv)
    if [ "${#packages[@]}" -gt 0 ]; then
        log "installing ${packages[*]}"
        DEBIAN_FRONTEND=noninteractive apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
    fi
    if ! "$CACHE/venv/bin/podman-compose" --version 2>/dev/null | grep -q "$PODMAN_COMPOSE_VERSION"; then
        log "installing podman-compose $PODMAN_COMPOSE_VERSION (PyPI) in $CACHE/venv"
        python3 -m venv "$CACHE/venv"
        "$CACHE/venv/bin/pip" install -q "podman-compose==$PODMAN_COMPOSE_VERSION"
    fi
}

[ "$(id -u)" = 0 ] || die "needs root (podman with the host's network stack, debootstrap)"
mkdir -p "$CACHE" "$RUN_DIR"
rm -f "$RUN_DIR"/*.log "$RUN_DIR"/*.raw "$RUN_DIR"/*.exit
install_missing
compose() { "$CACHE/venv/bin/podman-compose" -p "$PROJECT" "${COMPOSE_FILES[@]}" "$@"; }

# ---------------------------------------------------------------- results
CHECKS=()
FAILED=0
record() { # record PASS|FAIL|GAP|NOTE WHAT SEEN
    CHECKS+=("$1|$2|$3")
    [ "$1" = FAIL ] && FAILED=$((FAILED + 1))
    log "$1 $2: $3"
}
expect() { # expect WHAT SEEN CONDITION...
    local what="$1" seen="$2"; shift 2
    if "$@"; then record PASS "$what" "$seen"; else record FAIL "$what" "$seen"; fi
}
print_table() {
    local row
    printf '\n%-4s  %-58s  %s\n' "" "CHECK" "SEEN"
    for row in "${CHECKS[@]}"; do
        IFS='|' read -r result what seen <<<"$row"
        printf '%-4s  %-58s  %s\n' "$result" "$what" "$seen"
    done
    printf '\n'
}

# ---------------------------------------------------------------- cleanup
teardown() { # every container, volume and network of the project, also replicas beyond the file's 3
    {
        compose down -v --remove-orphans -t 10
        podman ps -aq --filter "label=io.podman.compose.project=$PROJECT" | xargs -r podman rm -f -t 0
        podman pod rm -f "pod_$PROJECT"
        podman volume ls -q | grep "^${PROJECT}_" | xargs -r podman volume rm -f
        podman network ls --format '{{.Name}}' | grep "^${PROJECT}_" | xargs -r podman network rm -f
    } >>"$RUN_DIR/compose.log" 2>&1 || true
}
FOLLOWERS=()
cleanup() {
    local status=$?
    set +e
    [ "${#FOLLOWERS[@]}" -gt 0 ] && kill "${FOLLOWERS[@]}" 2>/dev/null
    podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}' >"$RUN_DIR/left.txt" 2>/dev/null
    if [ -s "$RUN_DIR/left.txt" ] || podman volume ls -q | grep -q "^${PROJECT}_"; then
        for name in $(cat "$RUN_DIR/left.txt"); do podman logs "$name" >"$RUN_DIR/$name.log" 2>&1; done
        teardown
    fi
    [ "${#CHECKS[@]}" -gt 0 ] && print_table
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---------------------------------------------------------------- helpers
sql() { psql -X -qAt -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U rota -d rota -c "$1"; }

# await DESCRIPTION SECONDS COMMAND...: runs COMMAND every half second until it succeeds.
await() {
    local what="$1" deadline=$((SECONDS + $2)); shift 2
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || { log "timed out waiting for: $what"; return 1; }
        sleep 0.5
    done
}
sql_is() { [ "$(sql "$1" 2>/dev/null)" = "$2" ]; }
sql_true() { sql_is "$1" t; }

containers() { # containers SERVICE [all]: the service's container names
    podman ps ${2:+-a} --filter "label=io.podman.compose.project=$PROJECT" \
        --filter "label=com.docker.compose.service=$1" --format '{{.Names}}' | sort
}
executor_of() { # the executor id of the worker in container $1 (its host name is the container's)
    sql "SELECT executor FROM rota.executor_status WHERE host = '$(podman inspect --format '{{.Config.Hostname}}' "$1")'
         AND NOT stopped ORDER BY last_heartbeat_at DESC LIMIT 1"
}
healthy() { podman healthcheck run "$1" >/dev/null 2>&1; }
# live: registered, not stopped, and a heartbeat within 1.5 heartbeat intervals (the view's
# `alive` waits twice the longest lease, too long to see a killed replica go)
LIVE="NOT stopped AND last_heartbeat_at > now() - interval '$((HEARTBEAT_SECONDS * 3 / 2)) seconds'"
live_executors() { sql "SELECT count(*) FROM rota.executor_status WHERE $LIVE"; }
# more_work N MS: N more reports.generate tasks, copies of real ones that pretend to work MS each
more_work() {
    sql "SELECT count(rota.enqueue('reports', 'reports.generate', payload || jsonb_build_object('simulate_work_ms', $2)))
         FROM (SELECT payload FROM rota.tasks WHERE task = 'reports.generate' ORDER BY id LIMIT $1) p" >/dev/null
}
# fires: the schedules' fire counts, "monthly-reports=N storage-cleanup=M"
fires() { sql "SELECT string_agg(schedule || '=' || n, ' ' ORDER BY schedule) FROM
               (SELECT schedule, count(*) AS n FROM rota.schedule_fires GROUP BY 1) f"; }
fire_count() { sql "SELECT count(*) FROM rota.schedule_fires WHERE schedule = '$1'"; }
is() { [ "$1" = "$2" ]; }
contains() { [[ "$1" == *"$2"* ]]; }

# ---------------------------------------------------------------- images
if podman ps -a --format '{{.Names}}' | grep -q "^${PROJECT}"; then
    log "removing containers left by an earlier run"
    teardown
fi
python3 -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', $PG_PORT))" 2>/dev/null \
    || die "127.0.0.1:$PG_PORT is in use: docker-compose.yml publishes PostgreSQL there"

started=$SECONDS
log "stand-in base images (scripts/container-images.sh)"
scripts/container-images.sh
STANDINS_SECONDS=$((SECONDS - started))

started=$SECONDS
log "building the image from the Dockerfile (podman build --network none; log: $RUN_DIR/build.log)"
# What `podman-compose build` runs for `build: .`, offline: the stand-ins have what it installs.
if ! podman build --network none --pull=never -t rota . >"$RUN_DIR/build.log" 2>&1; then
    tail -n 30 "$RUN_DIR/build.log" >&2
    die "the image does not build (log: $RUN_DIR/build.log)"
fi
BUILD_SECONDS=$((SECONDS - started))
BINARIES=$(podman run --rm --entrypoint sh rota -c 'ls /usr/local/bin' | tr '\n' ' ')
record PASS "image builds from the Dockerfile" "stand-ins ${STANDINS_SECONDS}s, build ${BUILD_SECONDS}s; binaries: $BINARIES"
IMAGE_SIZE=$(podman image inspect --format '{{.Size}}' rota)
record NOTE "runtime image size" "$((IMAGE_SIZE / 1000000)) MB"

# ---------------------------------------------------------------- up
log "podman-compose up: postgres, then setup, then 3 worker replicas (log: $RUN_DIR/compose.log)"
# podman < 4.6 cannot wait for `condition: service_healthy` (podman-compose skips it with a
# warning), so the test does that wait itself. Nor can podman 4.3 start a replica that
# `--requires` the exited setup container ("generating dependency graph ... not found in input
# list": it would start setup again, but not setup's own dependency, the running postgres), and
# podman-compose would not look at setup's exit status anyway: so the test runs setup, waits
# for it and checks its status itself, then starts the replicas with --no-deps. The replicas
# then start together, as they do under Docker.
compose up -d postgres >>"$RUN_DIR/compose.log" 2>&1
PG=$(containers postgres)
await "postgres healthy (its healthcheck: pg_isready)" 120 healthy "$PG" || die "postgres never became healthy"
# pg_isready uses the socket, which also answers while the entrypoint initialises the database
await "postgres on 127.0.0.1:$PG_PORT" 60 sql "SELECT 1" || die "postgres is not reachable on 127.0.0.1:$PG_PORT"
compose up -d --no-deps setup >>"$RUN_DIR/compose.log" 2>&1
SETUP=$(containers setup all)
SETUP_EXIT=$(timeout 120 podman wait "$SETUP" || true)
podman logs "$SETUP" >"$RUN_DIR/setup.log" 2>&1
compose up -d --no-deps worker >>"$RUN_DIR/compose.log" 2>&1
await "3 replicas registered" 90 sql_is "SELECT count(*) FROM rota.executor_status WHERE $LIVE" 3 \
    || { podman logs "$(containers worker | head -n 1)" | tail -n 20; die "the replicas did not start"; }
mapfile -t WORKERS < <(containers worker)
expect "3 worker replicas up" "${#WORKERS[@]} containers, $(live_executors) executors live" is "${#WORKERS[@]}" 3

# seed the reports example (into the tables the replicas created at start)
psql -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PG_PORT" -U rota -d rota -v tenants="$TENANTS" \
    -f examples/monthly-reports/seed.sql >/dev/null
# and temporary objects for the cleanup example, 3 hours old, in the shared storage volume
podman exec "${WORKERS[0]}" sh -c 'for d in a b c d; do mkdir -p /data/storage/tmp/$d;
    for n in 1 2 3; do echo x >/data/storage/tmp/$d/old-$n; touch -d "3 hours ago" /data/storage/tmp/$d/old-$n; done;
    echo y >/data/storage/tmp/$d/new; done'

# setup: the schema installed, the definitions applied, rota_app granted, exit status 0
outcome=$(grep 'applied the example definitions' "$RUN_DIR/setup.log" | grep -o '"status": "[a-z]*"' | cut -d'"' -f4)
granted=$(grep -c "granted the example worker's privileges" "$RUN_DIR/setup.log" || true)
expect "setup (superuser): migrate, apply, grant, exit 0" \
    "exit ${SETUP_EXIT}; schema $(sql "SELECT count(*) FROM rota._migrations") migrations; definitions ${outcome:-not applied}; grants to $APP_ROLE: $granted" \
    test "$SETUP_EXIT" = 0 -a "$outcome" = applied -a "$granted" = 1

# Errors other than "cannot connect" (podman 4.3's DNS can lag behind new containers for a
# while; the replicas then retry and, after 10 s, exit and are restarted: counted apart).
errors=0 applied=0 restarts=0
for w in "${WORKERS[@]}"; do
    podman logs "$w" >"$RUN_DIR/$w.start.log" 2>&1
    errors=$((errors + $(grep -iE ' (error|critical) |^rota(-examples)?: error' "$RUN_DIR/$w.start.log" | grep -vc 'cannot connect to PostgreSQL' || true)))
    applied=$((applied + $(grep -c 'applied the example definitions' "$RUN_DIR/$w.start.log" || true)))
    restarts=$((restarts + $(podman inspect --format '{{.RestartCount}}' "$w")))
done
expect "replicas start without error (setup applied, not they)" \
    "$errors error lines, $applied applies by replicas" is "$errors:$applied" "0:0"

# Who the replicas are: every connection of the rota driver (application_name rota or
# rota-listener: the executors, their listeners and the handlers' clients, and the
# `rota status` health checks) logs in as rota_app, a role with the three worker roles only.
CONNECTIONS=$(sql "SELECT coalesce(string_agg(usename || ' x' || n, ', ' ORDER BY usename), 'none') FROM
                   (SELECT usename, count(*) AS n FROM pg_stat_activity
                    WHERE datname = 'rota' AND application_name IN ('rota', 'rota-listener') GROUP BY 1) c")
ROLE_ATTRIBUTES=$(sql "SELECT concat_ws(' ', CASE WHEN rolsuper THEN 'SUPERUSER' END, CASE WHEN rolcreaterole THEN 'CREATEROLE' END,
                                        CASE WHEN rolcreatedb THEN 'CREATEDB' END, CASE WHEN rolbypassrls THEN 'BYPASSRLS' END)
                       FROM pg_roles WHERE rolname = '$APP_ROLE'")
MEMBER_OF=$(sql "SELECT string_agg(r.rolname, ',' ORDER BY r.rolname) FROM pg_auth_members m
                 JOIN pg_roles r ON r.oid = m.roleid WHERE m.member = '$APP_ROLE'::regrole")
# and, logged in as rota_app itself (its demo password), the tables stay closed
TASKS_READ=$(PGPASSWORD=rota_app psql -X -qAt -h 127.0.0.1 -p "$PG_PORT" -U "$APP_ROLE" -d rota \
             -c "SELECT count(*) FROM rota.tasks" 2>&1 | head -n 1 || true)
expect "replicas log in as $APP_ROLE, no superuser" \
    "connections: $CONNECTIONS; $APP_ROLE attributes: ${ROLE_ATTRIBUTES:-none}; member of $MEMBER_OF" \
    is "${CONNECTIONS%% x*}:${CONNECTIONS//[^,]/}:$ROLE_ATTRIBUTES:$MEMBER_OF" "$APP_ROLE:::rota_producer,rota_reader,rota_worker"
expect "$APP_ROLE cannot read rota.tasks" "${TASKS_READ}" contains "$TASKS_READ" 'permission denied for table tasks'
record NOTE "replica restarts at start" "$restarts ($(cat "$RUN_DIR"/*.start.log | grep -c 'cannot connect to PostgreSQL' || true) 'cannot connect' lines)"

# ---------------------------------------------------------------- fires and spread
log "waiting for 4 report fires (every 10 s)"
at_least_fires() { [ "$(fire_count "$1")" -ge "$2" ]; }
await "4 report fires" 90 at_least_fires monthly-reports 4 || die "the schedules do not fire"
await "every seeded report generated" 90 sql_true \
    "SELECT count(*) >= $((TENANTS * 3)) FROM rota.tasks WHERE task = 'reports.generate' AND state = 'succeeded'" || true
await "the seeded files cleaned up" 60 sql_true \
    "SELECT count(*) > 0 FROM rota.tasks WHERE task = 'cleanup.prefix' AND state = 'succeeded'" || true
# Every replica runs tasks. Not necessarily reports.generate: the 60 reports come from one
# fan-out burst through the queue's 4 global slots, and a replica that frees a slot tends to
# win it again, so one replica (often the one that ran the fan-out) may get none of them.
# Awaited, as the fires go on every 10 s: a replica whose connections failed at start (the
# container network's DNS once failed to resolve the database's name for 20 s) reconnects
# with backoff and then takes its share.
await "every replica ran tasks" 60 sql_true \
    "SELECT count(DISTINCT executor) >= 3 FROM rota.tasks WHERE state = 'succeeded'" || true
spread() { sql "SELECT string_agg(n::text, '/' ORDER BY n DESC) FROM (SELECT count(*) AS n FROM rota.tasks
                WHERE state = 'succeeded' ${1:-} GROUP BY executor) e"; }
expect "work spread over the 3 replicas" "tasks per replica: $(spread); of them reports.generate: $(spread "AND task = 'reports.generate'")" \
    is "$(sql "SELECT count(DISTINCT executor) FROM rota.tasks WHERE state = 'succeeded'")" 3

# ---------------------------------------------------------------- SIGKILL of a replica
holds_tasks() { # a worker container whose executor runs tasks right now, else fails
    local w ex
    for w in $(containers worker); do
        ex=$(executor_of "$w")
        if sql_true "SELECT count(*) > 0 FROM rota.tasks WHERE state = 'running' AND executor = '$ex'"; then
            VICTIM=$w VICTIM_EXECUTOR=$ex
            return 0
        fi
    done
    return 1
}
VICTIM=
# as many as the reports queue runs at once (4), so a recovered task never waits for a slot
more_work 4 4000
await "a replica running tasks" 60 holds_tasks || die "no replica ran a task to kill it during"
podman kill -s KILL "$VICTIM" >>"$RUN_DIR/podman.log" 2>&1
T_KILL=$(sql "SELECT now()")
ORPHANS=$(sql "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM rota.tasks
               WHERE executor = '$VICTIM_EXECUTOR' AND state = 'running'")
log "killed $VICTIM (executor $VICTIM_EXECUTOR) running tasks $ORPHANS"
recovered() { sql_is "SELECT count(*) FROM rota.tasks WHERE id IN ($ORPHANS) AND state <> 'succeeded'" 0; }
if [ -z "$ORPHANS" ]; then
    record FAIL "SIGKILL of a replica loses nothing" "the killed replica held no running task"
elif await "the killed replica's tasks recovered" $((LEASE_SECONDS + HEARTBEAT_SECONDS + 60)) recovered; then
    # claimed again (started_at is stamped by each claim) how long after the kill
    took=$(sql "SELECT round(extract(epoch FROM max(started_at) - '$T_KILL'::timestamptz))
                FROM rota.tasks WHERE id IN ($ORPHANS)")
    by=$(sql "SELECT string_agg(DISTINCT executor, ',') FROM rota.tasks WHERE id IN ($ORPHANS)")
    expect "SIGKILL of a replica loses nothing" \
        "$(tr ',' '\n' <<<"$ORPHANS" | wc -l) running tasks claimed again ${took}s after the kill (lease + heartbeat $((LEASE_SECONDS + HEARTBEAT_SECONDS))s, + ${CLAIM_SLACK_SECONDS}s to claim) and done by $by" \
        test "$took" -le $((LEASE_SECONDS + HEARTBEAT_SECONDS + CLAIM_SLACK_SECONDS)) -a "$by" != "$VICTIM_EXECUTOR"
else
    record FAIL "SIGKILL of a replica loses nothing" \
        "$(sql "SELECT string_agg(id || ':' || state, ' ') FROM rota.tasks WHERE id IN ($ORPHANS)")"
fi
KILLED_STATE=$(podman inspect --format '{{.State.Status}} (restarts {{.RestartCount}})' "$VICTIM")
record NOTE "the killed container afterwards" "$KILLED_STATE"

# ---------------------------------------------------------------- scale 5 -> 2
log "scaling the workers to 5, then to 2"
FIRES_BEFORE_SCALE=$(fires)
compose up -d --no-recreate --no-deps --scale worker=5 worker >>"$RUN_DIR/compose.log" 2>&1
running_workers() { [ "$(containers worker | wc -l)" -eq "$1" ]; }
await "5 worker containers" 60 running_workers 5
await "5 executors live" 60 sql_is "SELECT count(*) FROM rota.executor_status WHERE $LIVE" 5
at5=$(live_executors)
# two fires of the reports schedule while 5 replicas run
n=$(fire_count monthly-reports); await "2 fires with 5 replicas" 40 at_least_fires monthly-reports $((n + 2))
# podman-compose only scales up; scaling down is what `docker compose up --scale worker=2`
# does: stop the highest-numbered replicas (SIGTERM, then stop_grace_period), remove them.
EXTRA=$(containers worker | sort -t_ -k3 -n | tail -n +3)
podman stop -t "$STOP_GRACE_SECONDS" $EXTRA >>"$RUN_DIR/podman.log" 2>&1
SCALED_EXITS=$(for c in $EXTRA; do podman inspect --format '{{.State.ExitCode}}' "$c"; done | sort | uniq -c | awk '{printf "%sstatus %s x%s", sep, $2, $1; sep=", "}')
podman rm $EXTRA >>"$RUN_DIR/podman.log" 2>&1
await "2 worker containers" 90 running_workers 2
await "2 executors live" 90 sql_is "SELECT count(*) FROM rota.executor_status WHERE $LIVE" 2
n=$(fire_count monthly-reports); await "2 fires with 2 replicas" 40 at_least_fires monthly-reports $((n + 2))
# (the fires themselves are checked once, over the whole run, below)
expect "scale to 5 and back to 2" \
    "live executors $at5 -> $(live_executors); stopped replicas: $SCALED_EXITS; fires $FIRES_BEFORE_SCALE -> $(fires)" \
    is "$at5:$(live_executors):$SCALED_EXITS" "5:2:status 0 x3"

# ---------------------------------------------------------------- restart postgres
log "restarting the postgres container"
more_work 12 3000
worker_restarts() {
    local w total=0
    for w in $(containers worker); do total=$((total + $(podman inspect --format '{{.RestartCount}}' "$w"))); done
    echo "$total"
}
RESTARTS_BEFORE=$(worker_restarts)
IN_FLIGHT=$(sql "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '') FROM rota.tasks WHERE state IN ('queued', 'running')")
podman restart -t 10 "$PG" >>"$RUN_DIR/podman.log" 2>&1
T_RESTART=$(date +%s)
await "postgres back" 60 sql "SELECT 1" || die "postgres did not come back"
T_BACK=$(sql "SELECT now()")
reconnected() { sql_is "SELECT count(*) FROM rota.executor_status WHERE NOT stopped AND last_heartbeat_at > '$T_BACK'" \
                       "$(containers worker | wc -l)"; }
await "every replica heartbeats again" $((HEARTBEAT_SECONDS + 30)) reconnected && reconnect_ok=yes || reconnect_ok=no
n=$(fire_count monthly-reports); await "2 fires after the restart" 40 at_least_fires monthly-reports $((n + 2))
done_after_restart() { [ -z "$IN_FLIGHT" ] || sql_is "SELECT count(*) FROM rota.tasks WHERE id IN ($IN_FLIGHT) AND state <> 'succeeded'" 0; }
await "the tasks in flight at the restart done" $((LEASE_SECONDS + HEARTBEAT_SECONDS + 30)) done_after_restart \
    && flight_ok=yes || flight_ok=no
worker_restarts=$(( $(worker_restarts) - RESTARTS_BEFORE ))
expect "postgres restart: replicas reconnect, nothing lost" \
    "down+up $(( $(date +%s) - T_RESTART ))s ago; heartbeats again: $reconnect_ok; $(tr ',' '\n' <<<"$IN_FLIGHT" | grep -c . || true) tasks in flight all done: $flight_ok; replicas restarted: $worker_restarts" \
    is "$reconnect_ok:$flight_ok:$worker_restarts" "yes:yes:0"

# ---------------------------------------------------------------- health
health=()
for c in "$PG" $(containers worker); do
    if healthy "$c"; then health+=(healthy); else health+=(unhealthy); fi
done
expect "health checks (pg_isready, worker /readyz)" "$(printf '%s\n' "${health[@]}" | sort | uniq -c | awk '{printf "%s%s x%s", sep, $2, $1; sep=", "}')" \
    is "$(printf '%s\n' "${health[@]}" | grep -vc '^healthy$' || true)" 0

# ---------------------------------------------------------------- bad input
# Each case runs one worker container of the compose project (its network, image and
# settings) with one thing wrong; `run --rm` returns the container's exit status. Wanted: one
# log line that names the problem, then a non-zero exit (the restart policy retries) or, for
# what waiting may fix, retries with a warning at once and then every 30 s. A worker that
# keeps running and repeats its error at the poll rate is reported as GAP (it does not fail
# the run).
bad_input() { # bad_input NAME PATTERN TIMEOUT RUN-ARGS...
    local name="$1" pattern="$2" limit="$3" status=0 started=$SECONDS seconds own lines named; shift 3
    own="$RUN_DIR/bad-${name//[^a-zA-Z0-9]/-}.log"
    timeout "$limit" "$CACHE/venv/bin/podman-compose" -p "$PROJECT" "${COMPOSE_FILES[@]}" run --rm --no-deps "$@" \
        >"$own.raw" 2>&1 || status=$?
    seconds=$((SECONDS - started))
    # the container's own output, without podman's and podman-compose's messages
    grep -vE '^time=|podman_compose|^[0-9a-f]{64}$|^$' "$own.raw" >"$own" || true
    lines=$(wc -l <"$own")
    named=$(grep -ciE "$pattern" "$own" || true)
    if [ "$status" = 124 ]; then
        podman ps -aq --filter "label=io.podman.compose.project=$PROJECT" --filter name=_tmp \
            | xargs -r podman rm -f -t 0 >>"$RUN_DIR/podman.log" 2>&1
        # a worker that waits for something that may still come (a host that does not resolve
        # yet, a database that does not listen yet) warns at once, then every 30 s
        if [ "$named" -gt 0 ] && [ "$named" -le $((limit / 30 + 2)) ]; then
            record PASS "bad input: $name" "retries: still running after ${limit}s, warned $named times: $(grep -iE "$pattern" "$own" | head -n 1 | grep -oE 'error=[^[]*' | cut -c1-70)"
        elif [ "$named" -gt 0 ]; then
            record GAP "bad input: $name" "still running after ${limit}s, logged $named times: $(grep -iE "$pattern" "$own" | head -n 1 | grep -oE 'error=[^[]*' | cut -c1-70)"
        else
            record FAIL "bad input: $name" "still running after ${limit}s; no log line names the problem"
        fi
    else
        expect "bad input: $name" "exit $status after ${seconds}s, $lines line: $(head -n 1 "$own" | cut -c1-100)" \
            test "$status" != 0 -a "$lines" = 1 -a "$named" = 1
    fi
}
log "bad input: wrong DATABASE_URLs, a database that is not up, an unknown queue"
bad_input "DATABASE_URL: wrong password" "password authentication failed" 60 \
    -e DATABASE_URL=postgresql://rota:wrong@postgres:5432/rota worker
bad_input "DATABASE_URL: unknown host" 'could not translate host name "no-such-host"' 60 \
    -e DATABASE_URL=postgresql://rota:rota@no-such-host:5432/rota worker
bad_input "DATABASE_URL: malformed" "invalid" 60 \
    -e DATABASE_URL=postgresql://rota:rota@postgres:port/rota worker
bad_input "database not up (nothing listens)" "Connection refused" 60 \
    -e DATABASE_URL=postgresql://rota:rota@postgres:5433/rota worker
bad_input "unknown queue" "unknown queue 'no-such-queue'" 15 worker "$WORKER_BINARY" worker --queues no-such-queue

# ---------------------------------------------------------------- exactly once, all done
log "pausing the schedules and letting the queues drain"
sql "SELECT rota.pause_schedule('monthly-reports'), rota.pause_schedule('storage-cleanup')" >/dev/null
await "queues drained" 120 sql_is "SELECT count(*) FROM rota.tasks WHERE state IN ('queued', 'running')" 0 || true
IRREGULAR=$(sql "SELECT count(*) FROM (SELECT schedule, fire_at - lag(fire_at) OVER (PARTITION BY schedule ORDER BY fire_at) AS step
                 FROM rota.schedule_fires) s
                 WHERE step IS NOT NULL AND step <> CASE schedule WHEN 'monthly-reports' THEN interval '10 seconds'
                                                                  ELSE interval '15 seconds' END")
BAD_FIRES=$(sql "SELECT count(*) FROM rota.schedule_fires f LEFT JOIN rota.tasks t ON t.id = f.task_id WHERE t.id IS NULL")
DUP_KEYS=$(sql "SELECT count(*) FROM (SELECT key FROM rota.tasks WHERE key LIKE 'schedule:%' GROUP BY key HAVING count(*) > 1) d")
expect "each schedule fired exactly once per interval" \
    "fires: $(fires) over $(sql "SELECT round(extract(epoch FROM max(fire_at) - min(fire_at))) FROM rota.schedule_fires")s; $IRREGULAR gaps/repeats, $BAD_FIRES fires without a task, $DUP_KEYS keys twice" \
    is "$IRREGULAR:$BAD_FIRES:$DUP_KEYS" "0:0:0"
STATES=$(sql "SELECT string_agg(state || ' ' || n, ', ' ORDER BY state) FROM (SELECT state, count(*) AS n FROM rota.tasks GROUP BY 1) s")
expect "every task succeeded (nothing lost or failed)" "$STATES" \
    is "$(sql "SELECT count(*) FROM rota.tasks WHERE state <> 'succeeded'")" 0
REPORTS=$(sql "SELECT count(*) FROM rota_examples.reports")
expect "one report per tenant and month" "$REPORTS rows for $TENANTS tenants x 3 months" is "$REPORTS" $((TENANTS * 3))
OLD_LEFT=$(podman exec "$(containers worker | head -n 1)" sh -c 'ls /data/storage/tmp/*/old-* 2>/dev/null | wc -l')
NEW_LEFT=$(podman exec "$(containers worker | head -n 1)" sh -c 'ls /data/storage/tmp/*/new 2>/dev/null | wc -l')
expect "cleanup: old objects deleted, new ones kept" "$OLD_LEFT of 12 old and $NEW_LEFT of 4 new left" is "$OLD_LEFT:$NEW_LEFT" "0:4"

# ---------------------------------------------------------------- down
# `podman-compose down` (1.6) stops every container at once, PostgreSQL included, so a
# replica may find the database gone while it hands back its tasks; `docker compose down`
# stops the replicas first. The test does that order explicitly (as the README tells podman
# users): `stop worker`, then `down`.
log "podman-compose stop worker, then down (graceful: SIGTERM, then up to stop_grace_period)"
LIVE_EXECUTORS=$(sql "SELECT string_agg(quote_literal(executor), ',') FROM rota.executor_status WHERE $LIVE")
# each replica's log to its end and its exit status, followed from before the stop
FOLLOWERS=()
for w in $(containers worker); do
    podman logs -f "$w" >"$RUN_DIR/$w.log" 2>&1 &
    FOLLOWERS+=($!)
    podman wait "$w" >"$RUN_DIR/$w.exit" 2>&1 &
    FOLLOWERS+=($!)
done
started=$SECONDS
compose stop worker >>"$RUN_DIR/compose.log" 2>&1
STOP_SECONDS=$((SECONDS - started))
wait "${FOLLOWERS[@]}" 2>/dev/null || true
FOLLOWERS=()
EXITS=$(cat "$RUN_DIR"/*_worker_*.exit | sort | uniq -c | awk '{printf "%sstatus %s x%s", sep, $2, $1; sep=", "}')
NONZERO=$(cat "$RUN_DIR"/*_worker_*.exit | grep -vcx 0 || true)
DRAINED=$(grep -l 'worker stopped' "$RUN_DIR"/*_worker_*.log 2>/dev/null | wc -l)
STOPPED=$(sql "SELECT count(*) FILTER (WHERE stopped) || ' of ' || count(*) FROM rota.executor_status WHERE executor IN ($LIVE_EXECUTORS)")
started=$SECONDS
compose down >>"$RUN_DIR/compose.log" 2>&1
DOWN_SECONDS=$((SECONDS - started))
LEFT=$(podman ps -a --filter "label=io.podman.compose.project=$PROJECT" --format '{{.Names}}' | wc -l)
expect "replicas stop gracefully, then down" \
    "stop took ${STOP_SECONDS}s (grace ${STOP_GRACE_SECONDS}s): exits ${EXITS:-none seen}, 'worker stopped' in $DRAINED logs, deregistered $STOPPED; down ${DOWN_SECONDS}s, $LEFT containers left" \
    test -n "$EXITS" -a "$NONZERO" = 0 -a "$STOP_SECONDS" -lt "$STOP_GRACE_SECONDS" \
         -a "${STOPPED%% *}" = "${STOPPED##* }" -a "$LEFT" = 0
teardown

if [ "$FAILED" = 0 ]; then
    log "test-containers passed (logs in $RUN_DIR)"
else
    log "test-containers FAILED: $FAILED check(s) (logs in $RUN_DIR)"
    exit 1
fi
