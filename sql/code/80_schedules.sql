SELECT rota._apply_code('schedules', $code$

-- the signature before the alert threshold (migration 0008)
DROP FUNCTION IF EXISTS rota.define_schedule(text, text, text, text, jsonb, text, text, boolean, integer);
-- the signature before the bound on fires per call
DROP FUNCTION IF EXISTS rota.fire_due(text);

-- rota.drop_queue of a queue that schedules still use: a clear RO030 naming them instead
-- of the raw foreign-key violation. drop_queue deletes the queue row before anything else
-- and has it locked, so no schedule can start using it meanwhile.
CREATE OR REPLACE FUNCTION rota._queue_used_by_schedules()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_names text;
BEGIN
    SELECT string_agg(s.name, ', ' ORDER BY s.name) INTO v_names FROM rota.schedules s WHERE s.queue = OLD.name;
    IF v_names IS NOT NULL THEN
        RAISE EXCEPTION 'rota.drop_queue: queue "%" is used by schedules %; drop them first', OLD.name, rota._echo(v_names, 256)
            USING ERRCODE = 'RO030', HINT = 'rota.drop_schedule(name) each of them, then drop the queue.';
    END IF;
    RETURN OLD;
END;
$fn$;

CREATE OR REPLACE TRIGGER queues_used_by_schedules
    BEFORE DELETE ON rota.queues
    FOR EACH ROW EXECUTE FUNCTION rota._queue_used_by_schedules();

-- A fire instant in ISO 8601 UTC; milliseconds appear only when the instant has them
-- (manual fires), so cron fires read 2026-01-01T00:00:00Z. This and the two below are
-- STABLE like to_char and jsonb_build_object in them: a SQL function declared stricter than
-- its body is never inlined, and fire_due's set-based pass calls them per fire.
CREATE OR REPLACE FUNCTION rota._iso_utc(p_at timestamptz)
RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT CASE WHEN date_trunc('second', p_at) = p_at
                THEN to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
                ELSE to_char(p_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') END;
$fn$;

-- The key of the task a fire enqueues: schedule:<name>:<fire_at in ISO 8601 UTC>.
CREATE OR REPLACE FUNCTION rota._fire_key(p_schedule text, p_fire_at timestamptz)
RETURNS text
LANGUAGE sql STABLE
AS $fn$
    SELECT 'schedule:' || p_schedule || ':' || rota._iso_utc(p_fire_at);
$fn$;

-- The payload of a fire's task: the schedule's, with the schedule and the fire instant.
CREATE OR REPLACE FUNCTION rota._fire_payload(p_payload jsonb, p_schedule text, p_fire_at timestamptz)
RETURNS jsonb
LANGUAGE sql STABLE
AS $fn$
    SELECT p_payload || jsonb_build_object('schedule', p_schedule, 'scheduled_at', rota._iso_utc(p_fire_at));
$fn$;

-- Records one fire and enqueues its task; returns NULL when (schedule, fire_at) already fired.
-- The task goes in through the scheduler's own path (users may not enqueue schedule: keys).
-- A task that already holds the fire's key is adopted only when it is this fire's (task
-- and payload as the schedule defines them: e.g. fired before the schedule was dropped and
-- defined again); any other is a conflict, recorded on the fire and the schedule, and the
-- fire enqueues nothing rather than let that task run as the schedule's.
CREATE OR REPLACE FUNCTION rota._fire(p_schedule rota.schedules, p_fire_at timestamptz, p_executor text, p_manual boolean)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_payload jsonb := rota._fire_payload(p_schedule.payload, p_schedule.name, p_fire_at);
    v_key text := rota._fire_key(p_schedule.name, p_fire_at);
    v_task_id bigint;
    v_ours boolean;
    v_conflict text;
BEGIN
    INSERT INTO rota.schedule_fires (schedule, fire_at, executor, manual)
    VALUES (p_schedule.name, p_fire_at, p_executor, p_manual)
    ON CONFLICT DO NOTHING;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    SELECT e INTO v_task_id
    FROM rota._enqueue(CASE WHEN p_manual THEN 'rota.trigger_schedule' ELSE 'rota.fire_due' END,
                       p_schedule.queue, p_schedule.task, ARRAY[v_payload], ARRAY[v_key],
                       NULL, 0, NULL, NULL, NULL) AS e;
    SELECT t.task = p_schedule.task AND t.payload = v_payload INTO v_ours FROM rota.tasks t WHERE t.id = v_task_id;
    IF NOT v_ours THEN
        v_conflict := format('key %s is held by task %s, which this schedule did not enqueue', v_key, v_task_id);
        UPDATE rota.schedule_fires SET error = v_conflict
        WHERE schedule = p_schedule.name AND fire_at = p_fire_at;
        UPDATE rota.schedules SET last_error = v_conflict, failed_at = now() WHERE name = p_schedule.name;
        RETURN NULL;
    END IF;
    UPDATE rota.schedule_fires SET task_id = v_task_id
    WHERE schedule = p_schedule.name AND fire_at = p_fire_at;
    RETURN v_task_id;
END;
$fn$;

-- Creates or updates a schedule; a changed cron or time zone recomputes its next fire.
CREATE OR REPLACE FUNCTION rota.define_schedule(
    name         text,
    cron         text,
    queue        text,
    task         text,
    payload      jsonb DEFAULT '{}',
    timezone     text DEFAULT 'UTC',
    catch_up     text DEFAULT 'latest',
    enabled      boolean DEFAULT true,
    catch_up_max integer DEFAULT 100,
    alert_late_after interval DEFAULT interval '1 minute')
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_old rota.schedules;
    v_next timestamptz;
BEGIN
    IF name IS NULL OR NOT rota._is_name(name) THEN
        RAISE EXCEPTION 'rota.define_schedule: invalid schedule name "%"', rota._echo(name)
            USING ERRCODE = 'RO010',
                  HINT = 'Names start with a letter or digit and hold letters, digits, _ . : - (at most 128).';
    END IF;
    PERFORM rota.validate_cron(cron);
    IF timezone IS NULL OR timezone = '' THEN
        RAISE EXCEPTION 'rota.define_schedule: timezone must not be empty' USING ERRCODE = 'RO013';
    END IF;
    PERFORM rota._check_timezone('rota.define_schedule', timezone);
    IF NOT EXISTS (SELECT 1 FROM rota.queues q WHERE q.name = define_schedule.queue) THEN
        RAISE EXCEPTION 'rota.define_schedule: unknown queue "%"', rota._echo(queue) USING ERRCODE = 'RO001';
    END IF;
    IF task IS NULL OR NOT rota._is_name(task) THEN
        RAISE EXCEPTION 'rota.define_schedule: invalid task name "%"', rota._echo(task) USING ERRCODE = 'RO010';
    END IF;
    IF payload IS NULL OR jsonb_typeof(payload) <> 'object' THEN
        -- only its type: a payload is never echoed (it may hold secrets)
        RAISE EXCEPTION 'rota.define_schedule: payload must be a JSON object (got %)',
            coalesce('a JSON ' || jsonb_typeof(payload), 'NULL')
            USING ERRCODE = 'RO010';
    END IF;
    -- the payload of its fires must fit in a task, or every fire would fail
    PERFORM rota._check_size('rota.define_schedule', 'payload',
                             rota._fire_payload(payload, name, timestamptz '2000-01-01 00:00:00.001+00'));
    IF catch_up IS NULL OR catch_up NOT IN ('none', 'latest', 'all') THEN
        RAISE EXCEPTION 'rota.define_schedule: catch_up must be none, latest or all (got "%")', rota._echo(catch_up)
            USING ERRCODE = 'RO010';
    END IF;
    IF catch_up_max IS NULL OR catch_up_max < 1 OR catch_up_max > 1000 THEN
        RAISE EXCEPTION 'rota.define_schedule: catch_up_max must be between 1 and 1000 (got %)', coalesce(catch_up_max::text, 'NULL')
            USING ERRCODE = 'RO010';
    END IF;
    IF enabled IS NULL THEN
        RAISE EXCEPTION 'rota.define_schedule: enabled must not be NULL' USING ERRCODE = 'RO010';
    END IF;
    IF alert_late_after IS NULL OR alert_late_after <= interval '0' THEN
        PERFORM rota._invalid('rota.define_schedule', 'alert_late_after', 'must be > 0', alert_late_after::text);
    END IF;

    SELECT * INTO v_old FROM rota.schedules s WHERE s.name = define_schedule.name FOR UPDATE;
    IF FOUND AND v_old.cron = define_schedule.cron AND v_old.timezone = define_schedule.timezone
       AND v_old.enabled AND v_old.next_fire_at IS NOT NULL THEN
        -- same timing: keep the persisted next fire so a redefinition never skips or repeats one
        v_next := v_old.next_fire_at;
    ELSE
        v_next := rota.cron_next(cron, now(), timezone);
    END IF;

    INSERT INTO rota.schedules AS s (name, cron, timezone, queue, task, payload, catch_up, catch_up_max,
                                     enabled, next_fire_at, alert_late_after)
    VALUES (name, cron, timezone, queue, task, payload, catch_up, catch_up_max, enabled, v_next, alert_late_after)
    ON CONFLICT ON CONSTRAINT schedules_pkey DO UPDATE
        SET cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, queue = EXCLUDED.queue,
            task = EXCLUDED.task, payload = EXCLUDED.payload, catch_up = EXCLUDED.catch_up,
            catch_up_max = EXCLUDED.catch_up_max, enabled = EXCLUDED.enabled,
            next_fire_at = EXCLUDED.next_fire_at, alert_late_after = EXCLUDED.alert_late_after, updated_at = now()
        WHERE (s.cron, s.timezone, s.queue, s.task, s.payload, s.catch_up, s.catch_up_max, s.enabled, s.next_fire_at,
               s.alert_late_after)
              IS DISTINCT FROM
              (EXCLUDED.cron, EXCLUDED.timezone, EXCLUDED.queue, EXCLUDED.task, EXCLUDED.payload,
               EXCLUDED.catch_up, EXCLUDED.catch_up_max, EXCLUDED.enabled, EXCLUDED.next_fire_at,
               EXCLUDED.alert_late_after);
    IF FOUND THEN
        PERFORM pg_notify('rota_schedules', name);
    END IF;
END;
$fn$;
COMMENT ON FUNCTION rota.define_schedule(text, text, text, text, jsonb, text, text, boolean, integer, interval) IS
    'Creates or updates a schedule (idempotent); a changed cron or time zone recomputes next_fire_at.';

-- Locks and returns one schedule, or raises RO003 naming it.
CREATE OR REPLACE FUNCTION rota._lock_schedule(p_caller text, p_name text)
RETURNS rota.schedules
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_schedule rota.schedules;
BEGIN
    SELECT * INTO v_schedule FROM rota.schedules WHERE name = p_name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: unknown schedule "%"', p_caller, rota._echo(p_name) USING ERRCODE = 'RO003';
    END IF;
    RETURN v_schedule;
END;
$fn$;

-- Deletes a schedule and its fire history; tasks it enqueued stay.
CREATE OR REPLACE FUNCTION rota.drop_schedule(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    PERFORM rota._lock_schedule('rota.drop_schedule', name);
    DELETE FROM rota.schedules s WHERE s.name = drop_schedule.name;
    PERFORM pg_notify('rota_schedules', name);
END;
$fn$;
COMMENT ON FUNCTION rota.drop_schedule(text) IS 'Deletes a schedule and its fire history; the tasks it enqueued stay.';

-- Stops a schedule from firing until it is resumed.
CREATE OR REPLACE FUNCTION rota.pause_schedule(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    PERFORM rota._lock_schedule('rota.pause_schedule', name);
    UPDATE rota.schedules s SET enabled = false, updated_at = now()
    WHERE s.name = pause_schedule.name AND s.enabled;
    PERFORM pg_notify('rota_schedules', name);
END;
$fn$;
COMMENT ON FUNCTION rota.pause_schedule(text) IS 'Stops a schedule from firing until rota.resume_schedule.';

-- Lets a paused schedule fire again from now on; fires missed while paused are skipped.
CREATE OR REPLACE FUNCTION rota.resume_schedule(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_schedule rota.schedules := rota._lock_schedule('rota.resume_schedule', name);
BEGIN
    IF NOT v_schedule.enabled THEN
        UPDATE rota.schedules s
        SET enabled = true, updated_at = now(),
            next_fire_at = rota.cron_next(v_schedule.cron, now(), v_schedule.timezone)
        WHERE s.name = resume_schedule.name;
        PERFORM pg_notify('rota_schedules', name);
    END IF;
END;
$fn$;
COMMENT ON FUNCTION rota.resume_schedule(text) IS
    'Lets a paused schedule fire again from now on; fires missed while it was paused are skipped.';

-- Fires a schedule now, outside its cron, and returns the task it enqueued.
CREATE OR REPLACE FUNCTION rota.trigger_schedule(name text)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_schedule rota.schedules := rota._lock_schedule('rota.trigger_schedule', name);
    v_fire_at timestamptz := date_trunc('milliseconds', clock_timestamp());
    v_task_id bigint;
BEGIN
    v_task_id := rota._fire(v_schedule, v_fire_at, NULL, true);
    UPDATE rota.schedules s SET last_fire_at = greatest(s.last_fire_at, v_fire_at)
    WHERE s.name = trigger_schedule.name;
    RETURN v_task_id;
END;
$fn$;
COMMENT ON FUNCTION rota.trigger_schedule(text) IS
    'Fires a schedule now, outside its cron (a manual fire), and returns the id of the task it enqueued.';

-- The cron claim: fires due schedules, oldest next_fire_at first, once per due instant as
-- its catch_up policy says, until max_fires is spent; the rest stay due for the next call.
-- Each schedule fires in a subtransaction of its own: one whose fire fails (an enqueue that
-- raises) is rolled back alone, recorded (last_error, failed_at, failures) and tried again
-- after a backoff, while the others fire.
CREATE OR REPLACE FUNCTION rota.fire_due(executor text, max_fires integer DEFAULT 200)
RETURNS TABLE (schedule text, fire_at timestamptz, task_id bigint)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    -- a fire this late still counts as on time under catch_up 'none'
    c_on_time_grace CONSTANT interval := interval '1 minute';
    c_max_fires_cap CONSTANT integer := 10000;
    -- what this call has spent of max_fires: each schedule taken costs its fires, at least one
    v_spent integer := 0;
    v_schedule rota.schedules;
    v_now timestamptz := clock_timestamp();
    v_due timestamptz[];
    v_fired timestamptz[];
    v_task_ids bigint[];
    v_at timestamptz;
    v_task_id bigint;
    v_ticked text[];
    v_ticked_at timestamptz[];
    v_ticked_next timestamptz[];
    v_group record;
    v_group_ids bigint[];
    v_out_names text[] := '{}';
    v_out_at timestamptz[] := '{}';
    v_out_ids bigint[] := '{}';
BEGIN
    PERFORM rota._check_name('rota.fire_due', 'executor', executor);
    IF max_fires IS NULL OR max_fires < 1 OR max_fires > c_max_fires_cap THEN
        PERFORM rota._invalid('rota.fire_due', 'max_fires', 'must be between 1 and ' || c_max_fires_cap, max_fires::text);
    END IF;
    -- A tick, set-based: every due schedule whose one due instant is next_fire_at (the one
    -- after it is still ahead) fires in one pass. Next instants are computed once per
    -- distinct (cron, time zone, instant), so a thousand every-minute schedules cost a few
    -- cron computations, and the tasks go in with one rota._enqueue per (queue, task). Any
    -- error, or a fire key held by a task the fire did not make, rolls the pass back and
    -- leaves those schedules to the loop below (one subtransaction each, which records it).
    BEGIN
        WITH due AS MATERIALIZED (
            SELECT s.name, s.cron, s.timezone, s.next_fire_at, s.catch_up FROM rota.schedules s
            WHERE s.enabled AND s.next_fire_at <= v_now AND (s.retry_at IS NULL OR s.retry_at <= v_now)
            ORDER BY s.next_fire_at, s.name
            LIMIT max_fires
            FOR UPDATE SKIP LOCKED),
        following AS MATERIALIZED (
            SELECT d.cron, d.timezone, d.next_fire_at, rota.cron_next(d.cron, d.next_fire_at, d.timezone) AS at
            FROM (SELECT DISTINCT x.cron, x.timezone, x.next_fire_at FROM due x) AS d)
        SELECT array_agg(d.name ORDER BY d.next_fire_at, d.name), array_agg(d.next_fire_at ORDER BY d.next_fire_at, d.name),
               array_agg(f.at ORDER BY d.next_fire_at, d.name)
        INTO v_ticked, v_ticked_at, v_ticked_next
        FROM due d
        JOIN following f ON f.cron = d.cron AND f.timezone = d.timezone AND f.next_fire_at = d.next_fire_at
        WHERE f.at > v_now AND (d.catch_up <> 'none' OR d.next_fire_at >= v_now - c_on_time_grace);
        IF v_ticked IS NOT NULL THEN
            -- a (schedule, instant) already recorded fires nothing, as in rota._fire (the
            -- schedule rows are locked, so no other fire_due records one meanwhile)
            FOR v_group IN
                SELECT s.queue, s.task, array_agg(u.name ORDER BY u.name) AS names, array_agg(u.at ORDER BY u.name) AS ats,
                       array_agg(rota._fire_payload(s.payload, s.name, u.at) ORDER BY u.name) AS payloads,
                       array_agg(rota._fire_key(s.name, u.at) ORDER BY u.name) AS keys
                FROM unnest(v_ticked, v_ticked_at) AS u(name, at)
                JOIN rota.schedules s ON s.name = u.name
                WHERE NOT EXISTS (SELECT 1 FROM rota.schedule_fires f WHERE f.schedule = u.name AND f.fire_at = u.at)
                GROUP BY s.queue, s.task
            LOOP
                v_group_ids := ARRAY(SELECT e FROM rota._enqueue('rota.fire_due', v_group.queue, v_group.task, v_group.payloads,
                                                                 v_group.keys, NULL, 0, NULL, NULL, NULL) AS e);
                IF EXISTS (SELECT 1 FROM unnest(v_group_ids, v_group.payloads) AS x(id, payload)
                           JOIN rota.tasks t ON t.id = x.id
                           WHERE t.task <> v_group.task OR t.payload <> x.payload) THEN
                    RAISE EXCEPTION 'a fire key is held by a task its fire did not make';
                END IF;
                v_out_names := v_out_names || v_group.names;
                v_out_at := v_out_at || v_group.ats;
                v_out_ids := v_out_ids || v_group_ids;
            END LOOP;
            INSERT INTO rota.schedule_fires (schedule, fire_at, executor, manual, task_id)
            SELECT x.name, x.at, fire_due.executor, false, x.id
            FROM unnest(v_out_names, v_out_at, v_out_ids) AS x(name, at, id);
            UPDATE rota.schedules s
            SET next_fire_at = u.next, last_fire_at = greatest(s.last_fire_at, u.at), failures = 0, retry_at = NULL
            FROM unnest(v_ticked, v_ticked_at, v_ticked_next) AS u(name, at, next)
            WHERE s.name = u.name;
        END IF;
        v_spent := coalesce(cardinality(v_ticked), 0);
    EXCEPTION WHEN OTHERS THEN
        v_out_names := '{}';
    END;
    -- rows only once the pass committed with its subtransaction
    FOR v_i IN 1 .. cardinality(v_out_names) LOOP
        schedule := v_out_names[v_i];
        fire_at := v_out_at[v_i];
        task_id := v_out_ids[v_i];
        RETURN NEXT;
    END LOOP;
    -- The rest one by one while the bound allows: a schedule is never split, so its catch-up
    -- fires (at most catch_up_max) all go in one call and may pass the bound by that many.
    FOR v_schedule IN
        SELECT * FROM rota.schedules s
        WHERE s.enabled AND s.next_fire_at <= v_now AND (s.retry_at IS NULL OR s.retry_at <= v_now)
        ORDER BY s.next_fire_at, s.name
        LIMIT max_fires - v_spent
        FOR UPDATE SKIP LOCKED
    LOOP
        EXIT WHEN v_spent >= max_fires;
        v_spent := v_spent + 1;
        v_fired := ARRAY[]::timestamptz[];
        v_task_ids := ARRAY[]::bigint[];
        BEGIN
            -- the newest due instants (at most catch_up_max; one for latest), found without
            -- walking the missed ones
            v_due := rota._cron_fires_before(v_schedule.cron, v_schedule.timezone, v_schedule.next_fire_at,
                                             v_now + interval '1 microsecond',
                                             CASE WHEN v_schedule.catch_up = 'latest' THEN 1 ELSE v_schedule.catch_up_max END);
            v_at := rota.cron_next(v_schedule.cron, v_due[cardinality(v_due)], v_schedule.timezone);
            IF v_schedule.catch_up = 'none' THEN
                v_due := ARRAY(SELECT d FROM unnest(v_due) d WHERE d >= v_now - c_on_time_grace ORDER BY d);
            END IF;

            FOREACH fire_at IN ARRAY v_due LOOP
                v_task_id := rota._fire(v_schedule, fire_at, executor, false);
                IF v_task_id IS NOT NULL THEN
                    v_fired := v_fired || fire_at;
                    v_task_ids := v_task_ids || v_task_id;
                END IF;
            END LOOP;

            UPDATE rota.schedules s
            SET next_fire_at = v_at,
                last_fire_at = coalesce(greatest(s.last_fire_at, v_due[cardinality(v_due)]), s.last_fire_at),
                failures = 0, retry_at = NULL
            WHERE s.name = v_schedule.name;
        EXCEPTION WHEN OTHERS THEN
            -- this schedule's fires are rolled back; back off 15 s, 30 s, ... up to 1 hour
            UPDATE rota.schedules s
            SET last_error = left(SQLERRM, 1000), failed_at = v_now, failures = s.failures + 1,
                retry_at = v_now + least(interval '15 seconds' * power(2, least(s.failures, 20)), interval '1 hour')
            WHERE s.name = v_schedule.name;
            CONTINUE;
        END;
        v_spent := v_spent + greatest(cardinality(v_fired) - 1, 0);
        -- rows only for fires that committed with their subtransaction
        schedule := v_schedule.name;
        FOR v_i IN 1 .. cardinality(v_fired) LOOP
            fire_at := v_fired[v_i];
            task_id := v_task_ids[v_i];
            RETURN NEXT;
        END LOOP;
    END LOOP;
END;
$fn$;
COMMENT ON FUNCTION rota.fire_due(text, integer) IS
    'The cron claim: fires due schedules (oldest next_fire_at first, up to about max_fires fires per call) once per due instant (per its catch_up policy), enqueuing one task per fire with key schedule:<name>:<fire_at>; a schedule whose fire fails is recorded and backed off while the others fire.';

-- The earliest instant a ticker should call rota.fire_due: the next fire of any enabled
-- schedule (a failing one not before its retry).
CREATE OR REPLACE FUNCTION rota.next_fire_at()
RETURNS timestamptz
LANGUAGE sql STABLE
AS $fn$
    SELECT min(greatest(next_fire_at, retry_at)) FROM rota.schedules WHERE enabled;
$fn$;
COMMENT ON FUNCTION rota.next_fire_at() IS 'The earliest next fire of any enabled schedule, not before the retry of a failing one (NULL when none).';

$code$);
