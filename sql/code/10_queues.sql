SELECT rota._apply_code('queues', $code$

-- the signature before the alert thresholds (migration 0008)
DROP FUNCTION IF EXISTS rota.define_queue(text, integer, integer, interval, integer, interval, integer, interval, interval, interval);

-- Checks a queue's alert thresholds (the alerts of rota.alerts); RO010 naming the bad one.
CREATE OR REPLACE FUNCTION rota._check_queue_thresholds(p_fn text, p_stuck_after interval, p_failures_per_minute numeric,
                                                        p_failure_ratio numeric, p_failure_window interval,
                                                        p_dead_per_hour integer, p_unreaped_after interval)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $fn$
BEGIN
    IF p_stuck_after IS NULL OR p_stuck_after <= interval '0' THEN
        PERFORM rota._invalid(p_fn, 'alert_stuck_after', 'must be > 0', p_stuck_after::text);
    END IF;
    IF p_failures_per_minute IS NULL OR p_failures_per_minute <= 0 THEN
        PERFORM rota._invalid(p_fn, 'alert_failures_per_minute', 'must be > 0', p_failures_per_minute::text);
    END IF;
    IF p_failure_ratio IS NULL OR p_failure_ratio <= 0 OR p_failure_ratio > 1 THEN
        PERFORM rota._invalid(p_fn, 'alert_failure_ratio', 'must be > 0 and <= 1', p_failure_ratio::text);
    END IF;
    IF p_failure_window IS NULL OR p_failure_window < interval '1 minute' OR p_failure_window > interval '1 hour' THEN
        PERFORM rota._invalid(p_fn, 'alert_failure_window', 'must be between 1 minute and 1 hour', p_failure_window::text);
    END IF;
    IF p_dead_per_hour IS NULL OR p_dead_per_hour <= 0 THEN
        PERFORM rota._invalid(p_fn, 'alert_dead_per_hour', 'must be > 0', p_dead_per_hour::text);
    END IF;
    IF p_unreaped_after IS NULL OR p_unreaped_after < interval '0' THEN
        PERFORM rota._invalid(p_fn, 'alert_unreaped_after', 'must be >= 0', p_unreaped_after::text);
    END IF;
END;
$fn$;

-- Moves the version of the queue catalog on, so that what claims know of their queues
-- (rota._subscription) is read again; once per transaction (a claim later in the same
-- transaction keeps nothing: see there), so that defining 1,000 queues leaves one row
-- version, not 2,000 for every claim to step over. Called by the trigger below on every
-- change of rota.queues, and first of all by the functions that change a queue: its row
-- lock, taken before any queue row, keeps two of them from waiting on each other.
CREATE OR REPLACE FUNCTION rota._touch_queue_catalog()
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    UPDATE rota._queue_catalog c SET version = c.version + 1 WHERE c.xmin <> pg_current_xact_id()::xid;
END;
$fn$;

-- Trigger: any statement that changes rota.queues changes the catalog's version.
CREATE OR REPLACE FUNCTION rota._queues_changed()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    PERFORM rota._touch_queue_catalog();
    RETURN NULL;
END;
$fn$;

CREATE OR REPLACE TRIGGER queues_catalog_version
    BEFORE INSERT OR UPDATE OR DELETE ON rota.queues
    FOR EACH STATEMENT EXECUTE FUNCTION rota._queues_changed();

-- Raises RO001 naming the first of p_queues that is not a queue; nothing when all are.
CREATE OR REPLACE FUNCTION rota._check_queues_exist(p_fn text, p_queues text[])
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_unknown_queue text;
BEGIN
    SELECT x INTO v_unknown_queue FROM unnest(p_queues) AS x
    WHERE NOT EXISTS (SELECT 1 FROM rota.queues q WHERE q.name = x) LIMIT 1;
    IF FOUND THEN
        PERFORM rota._raise_unknown(p_fn, 'queue', v_unknown_queue, 'RO001');
    END IF;
END;
$fn$;

-- Creates or updates a queue and its limit rows.
CREATE OR REPLACE FUNCTION rota.define_queue(
    name text,
    concurrency integer DEFAULT NULL,
    rate_limit integer DEFAULT NULL,
    rate_period interval DEFAULT NULL,
    max_attempts integer DEFAULT 5,
    lease interval DEFAULT interval '30 seconds',
    concurrency_key_limit integer DEFAULT NULL,
    backoff_base interval DEFAULT interval '1 second',
    backoff_max interval DEFAULT interval '1 hour',
    retention interval DEFAULT interval '7 days',
    alert_stuck_after interval DEFAULT interval '5 minutes',
    alert_failures_per_minute numeric DEFAULT 60,
    alert_failure_ratio numeric DEFAULT 0.5,
    alert_failure_window interval DEFAULT interval '5 minutes',
    alert_dead_per_hour integer DEFAULT 10,
    alert_unreaped_after interval DEFAULT interval '1 minute')
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    c_fn constant text := 'rota.define_queue';
    v_old_concurrency integer;
    v_unslotted_ids bigint[];
    v_free_slots integer[];
    v_top_slot integer;
    v_assigned_slots integer[];
    v_old_key_limit integer;
    v_uncounted_ids bigint[];
BEGIN
    PERFORM rota._check_name(c_fn, 'name', define_queue.name);
    IF define_queue.concurrency <= 0 THEN
        PERFORM rota._invalid(c_fn, 'concurrency', 'must be > 0', define_queue.concurrency::text);
    END IF;
    IF define_queue.rate_limit <= 0 THEN
        PERFORM rota._invalid(c_fn, 'rate_limit', 'must be > 0', define_queue.rate_limit::text);
    END IF;
    IF define_queue.rate_period <= interval '0' THEN
        PERFORM rota._invalid(c_fn, 'rate_period', 'must be > 0', define_queue.rate_period::text);
    END IF;
    IF (define_queue.rate_limit IS NULL) <> (define_queue.rate_period IS NULL) THEN
        PERFORM rota._invalid(c_fn, 'rate_limit/rate_period', 'must be given together',
            coalesce(define_queue.rate_limit::text, 'NULL') || '/' || coalesce(define_queue.rate_period::text, 'NULL'));
    END IF;
    IF define_queue.rate_limit > 100000 THEN
        PERFORM rota._invalid(c_fn, 'rate_limit', 'must be <= 100000', define_queue.rate_limit::text);
    END IF;
    IF define_queue.concurrency > 100000 THEN
        PERFORM rota._invalid(c_fn, 'concurrency', 'must be <= 100000', define_queue.concurrency::text);
    END IF;
    IF define_queue.max_attempts IS NULL OR define_queue.max_attempts < 1 THEN
        PERFORM rota._invalid(c_fn, 'max_attempts', 'must be >= 1', define_queue.max_attempts::text);
    END IF;
    IF define_queue.lease IS NULL OR define_queue.lease <= interval '0' THEN
        PERFORM rota._invalid(c_fn, 'lease', 'must be > 0', define_queue.lease::text);
    END IF;
    IF define_queue.concurrency_key_limit <= 0 OR define_queue.concurrency_key_limit > 10000 THEN
        PERFORM rota._invalid(c_fn, 'concurrency_key_limit', 'must be between 1 and 10000',
            define_queue.concurrency_key_limit::text);
    END IF;
    IF define_queue.backoff_base IS NULL OR define_queue.backoff_base <= interval '0' THEN
        PERFORM rota._invalid(c_fn, 'backoff_base', 'must be > 0', define_queue.backoff_base::text);
    END IF;
    IF define_queue.backoff_max IS NULL OR define_queue.backoff_max < define_queue.backoff_base THEN
        PERFORM rota._invalid(c_fn, 'backoff_max', 'must be >= backoff_base (' || define_queue.backoff_base || ')',
            define_queue.backoff_max::text);
    END IF;
    IF define_queue.retention IS NULL OR define_queue.retention <= interval '0' THEN
        PERFORM rota._invalid(c_fn, 'retention', 'must be > 0', define_queue.retention::text);
    END IF;
    -- upper bounds, so that no timestamp arithmetic with them can overflow (also CHECK
    -- constraints of rota.queues)
    PERFORM rota._check_at_most(c_fn, 'lease', define_queue.lease, interval '1 day');
    PERFORM rota._check_at_most(c_fn, 'rate_period', define_queue.rate_period, interval '30 days');
    PERFORM rota._check_at_most(c_fn, 'backoff_base', define_queue.backoff_base, interval '30 days');
    PERFORM rota._check_at_most(c_fn, 'backoff_max', define_queue.backoff_max, interval '30 days');
    PERFORM rota._check_at_most(c_fn, 'retention', define_queue.retention, interval '10 years');
    PERFORM rota._check_queue_thresholds(c_fn, define_queue.alert_stuck_after, define_queue.alert_failures_per_minute,
        define_queue.alert_failure_ratio, define_queue.alert_failure_window, define_queue.alert_dead_per_hour,
        define_queue.alert_unreaped_after);

    -- Lock order: queue catalog, queue row, running tasks, slot rows (complete holds a
    -- task row, then its slot row; claimers never wait on the queue row or on running tasks).
    PERFORM rota._touch_queue_catalog();
    SELECT q.concurrency, q.concurrency_key_limit INTO v_old_concurrency, v_old_key_limit
    FROM rota.queues q WHERE q.name = define_queue.name FOR NO KEY UPDATE;

    INSERT INTO rota.queues AS q (name, concurrency, rate_limit, rate_period, max_attempts, lease,
                                  concurrency_key_limit, backoff_base, backoff_max, retention,
                                  alert_stuck_after, alert_failures_per_minute, alert_failure_ratio,
                                  alert_failure_window, alert_dead_per_hour, alert_unreaped_after)
    VALUES (define_queue.name, define_queue.concurrency, define_queue.rate_limit, define_queue.rate_period,
            define_queue.max_attempts, define_queue.lease, define_queue.concurrency_key_limit,
            define_queue.backoff_base, define_queue.backoff_max, define_queue.retention,
            define_queue.alert_stuck_after, define_queue.alert_failures_per_minute, define_queue.alert_failure_ratio,
            define_queue.alert_failure_window, define_queue.alert_dead_per_hour, define_queue.alert_unreaped_after)
    ON CONFLICT (name) DO UPDATE
    SET concurrency = EXCLUDED.concurrency, rate_limit = EXCLUDED.rate_limit,
        rate_period = EXCLUDED.rate_period, max_attempts = EXCLUDED.max_attempts,
        lease = EXCLUDED.lease, concurrency_key_limit = EXCLUDED.concurrency_key_limit,
        backoff_base = EXCLUDED.backoff_base, backoff_max = EXCLUDED.backoff_max,
        retention = EXCLUDED.retention,
        alert_stuck_after = EXCLUDED.alert_stuck_after, alert_failures_per_minute = EXCLUDED.alert_failures_per_minute,
        alert_failure_ratio = EXCLUDED.alert_failure_ratio, alert_failure_window = EXCLUDED.alert_failure_window,
        alert_dead_per_hour = EXCLUDED.alert_dead_per_hour, alert_unreaped_after = EXCLUDED.alert_unreaped_after,
        updated_at = now()
    WHERE (q.concurrency, q.rate_limit, q.rate_period, q.max_attempts, q.lease, q.concurrency_key_limit,
           q.backoff_base, q.backoff_max, q.retention, q.alert_stuck_after, q.alert_failures_per_minute,
           q.alert_failure_ratio, q.alert_failure_window, q.alert_dead_per_hour, q.alert_unreaped_after)
          IS DISTINCT FROM
          (EXCLUDED.concurrency, EXCLUDED.rate_limit, EXCLUDED.rate_period, EXCLUDED.max_attempts,
           EXCLUDED.lease, EXCLUDED.concurrency_key_limit, EXCLUDED.backoff_base, EXCLUDED.backoff_max,
           EXCLUDED.retention, EXCLUDED.alert_stuck_after, EXCLUDED.alert_failures_per_minute,
           EXCLUDED.alert_failure_ratio, EXCLUDED.alert_failure_window, EXCLUDED.alert_dead_per_hour,
           EXCLUDED.alert_unreaped_after);

    IF define_queue.concurrency IS NULL THEN
        -- No limit, no slot rows. Running tasks keep their slot number as a record; their
        -- frees match on task_id and find nothing.
        DELETE FROM rota._queue_slots s WHERE s.queue = define_queue.name;
    ELSE
        -- Running tasks that hold no slot (started while the queue had no limit, or held
        -- one that a removed limit took away). A claim still in flight that read the old
        -- definition is not seen here: its tasks run without a slot until they end.
        SELECT array_agg(r.id ORDER BY r.id) INTO v_unslotted_ids
        FROM (SELECT t.id FROM rota.tasks t
              WHERE t.queue = define_queue.name AND t.state = 'running'
                AND NOT EXISTS (SELECT 1 FROM rota._queue_slots s
                                WHERE s.queue = t.queue AND s.slot = t.slot AND s.task_id = t.id)
              ORDER BY t.id
              FOR UPDATE OF t) AS r;
        -- Every slot row above the lower of the old and new limits, locked: this waits
        -- for claimers that hold rows above the limit and for frees of those rows, and
        -- makes claimers in the over-limit state wait for this definition.
        PERFORM 1 FROM rota._queue_slots s
        WHERE s.queue = define_queue.name
          AND s.slot > least(coalesce(v_old_concurrency, define_queue.concurrency), define_queue.concurrency)
        ORDER BY s.slot
        FOR UPDATE;
        -- Above the new limit: free rows go, busy ones stay marked over_limit until freed.
        DELETE FROM rota._queue_slots s
        WHERE s.queue = define_queue.name AND s.slot > define_queue.concurrency AND s.task_id IS NULL;
        UPDATE rota._queue_slots s SET over_limit = (s.slot > define_queue.concurrency)
        WHERE s.queue = define_queue.name
          AND s.slot > least(coalesce(v_old_concurrency, define_queue.concurrency), define_queue.concurrency)
          AND s.over_limit <> (s.slot > define_queue.concurrency);
        INSERT INTO rota._queue_slots (queue, slot)
        SELECT define_queue.name, g FROM generate_series(1, define_queue.concurrency) AS g
        ON CONFLICT DO NOTHING;
        IF v_unslotted_ids IS NOT NULL THEN
            -- Free slots first (as claim takes them: SKIP LOCKED, a locked one is being
            -- taken), then new busy rows above the limit for the rest, so that running
            -- never exceeds max(K, what already runs) and converges to K.
            SELECT array_agg(f.slot ORDER BY f.slot) INTO v_free_slots
            FROM (SELECT s.slot FROM rota._queue_slots s
                  WHERE s.queue = define_queue.name AND s.task_id IS NULL AND s.slot <= define_queue.concurrency
                  ORDER BY s.slot
                  LIMIT cardinality(v_unslotted_ids)
                  FOR UPDATE SKIP LOCKED) AS f;
            v_free_slots := coalesce(v_free_slots, '{}');
            SELECT greatest(max(s.slot), define_queue.concurrency) INTO v_top_slot
            FROM rota._queue_slots s WHERE s.queue = define_queue.name;
            v_assigned_slots := v_free_slots || ARRAY(SELECT v_top_slot + g
                                        FROM generate_series(1, cardinality(v_unslotted_ids) - cardinality(v_free_slots)) AS g);
            UPDATE rota._queue_slots s SET task_id = v_unslotted_ids[array_position(v_free_slots, s.slot)]
            WHERE s.queue = define_queue.name AND s.slot = ANY (v_free_slots);
            INSERT INTO rota._queue_slots (queue, slot, task_id, over_limit)
            SELECT define_queue.name, a.slot, a.id, true
            FROM unnest(v_assigned_slots, v_unslotted_ids) WITH ORDINALITY AS a(slot, id, ord)
            WHERE a.ord > cardinality(v_free_slots);
            UPDATE rota.tasks t SET slot = v_assigned_slots[array_position(v_unslotted_ids, t.id)]
            WHERE t.id = ANY (v_unslotted_ids);
        END IF;
    END IF;

    IF define_queue.concurrency_key_limit IS NOT NULL THEN
        -- Running keyed tasks that hold no key count (started while the queue had no key
        -- limit) are counted now, so a limit introduced under load drains like a lowered
        -- one. Lock order as in complete: task rows (id order), then count rows (key order).
        -- A removed limit leaves the counts alone: tasks that hold one still release it,
        -- and prune deletes the rows once they are idle.
        SELECT array_agg(r.id ORDER BY r.id) INTO v_uncounted_ids
        FROM (SELECT t.id FROM rota.tasks t
              WHERE t.queue = define_queue.name AND t.state = 'running'
                AND t.concurrency_key IS NOT NULL AND t.key_slot IS NULL
              ORDER BY t.id
              FOR UPDATE OF t) AS r;
        IF v_uncounted_ids IS NOT NULL THEN
            WITH counted AS (
                INSERT INTO rota._key_counts AS k (queue, concurrency_key, running)
                SELECT define_queue.name, t.concurrency_key, count(*) FROM rota.tasks t
                WHERE t.id = ANY (v_uncounted_ids)
                GROUP BY t.concurrency_key
                ORDER BY t.concurrency_key
                ON CONFLICT (queue, concurrency_key) DO UPDATE SET running = k.running + EXCLUDED.running
                RETURNING k.concurrency_key, k.running)
            UPDATE rota.tasks t SET key_slot = c.running
            FROM counted c
            WHERE t.id = ANY (v_uncounted_ids) AND t.concurrency_key = c.concurrency_key;
        END IF;
        IF v_old_key_limit IS NULL THEN
            -- a limit introduced: the keys of queued tasks get their row (claims would
            -- create a missing one, one at a time)
            INSERT INTO rota._key_counts (queue, concurrency_key)
            SELECT DISTINCT t.queue, t.concurrency_key FROM rota.tasks t
            WHERE t.queue = define_queue.name AND t.state = 'queued' AND t.concurrency_key IS NOT NULL
            ORDER BY 1, 2
            ON CONFLICT DO NOTHING;
        END IF;
    END IF;

    IF define_queue.rate_limit IS NOT NULL THEN
        INSERT INTO rota._queue_rate_tokens (queue, token)
        SELECT define_queue.name, g FROM generate_series(1, define_queue.rate_limit) AS g
        ON CONFLICT DO NOTHING;
    END IF;
    DELETE FROM rota._queue_rate_tokens r
    WHERE r.queue = define_queue.name
      AND (define_queue.rate_limit IS NULL OR r.token > define_queue.rate_limit);
END;
$fn$;
COMMENT ON FUNCTION rota.define_queue(text, integer, integer, interval, integer, interval, integer, interval, interval, interval,
                                      interval, numeric, numeric, interval, integer, interval)
    IS 'Creates or updates a queue (idempotent); keeps its paused flag.';

-- Deletes tasks with their attempts, steps, keys and links to their parents, which no
-- foreign key cascades (migration 0017: that ran two queries per task); the caller holds
-- the tasks' row locks or ends them itself. Returns how many tasks it deleted.
CREATE OR REPLACE FUNCTION rota._delete_tasks(p_ids bigint[])
RETURNS integer
LANGUAGE plpgsql VOLATILE
-- Each deleted task is one probe of each table by index, whatever the statistics say: a
-- hash join would read every key of every queue to delete a batch's few.
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $fn$
DECLARE
    v_deleted integer;
BEGIN
    IF coalesce(cardinality(p_ids), 0) = 0 THEN
        RETURN 0;
    END IF;
    DELETE FROM rota.task_attempts a WHERE a.task_id = ANY (p_ids);
    DELETE FROM rota.task_steps s WHERE s.task_id = ANY (p_ids);
    WITH deleted AS (
        DELETE FROM rota.tasks t WHERE t.id = ANY (p_ids)
        RETURNING t.id, t.queue, t.key, t.parent_id),
    keys_freed AS (
        DELETE FROM rota._task_keys k USING deleted d
        WHERE k.queue = d.queue AND k.key = d.key AND k.task_id = d.id),
    links_removed AS (
        DELETE FROM rota._task_children l USING deleted d
        WHERE l.parent_id = d.parent_id AND l.task_id = d.id)
    SELECT count(*) INTO v_deleted FROM deleted;
    RETURN v_deleted;
END;
$fn$;

-- Deletes a queue; with force also its tasks, else only when nothing is queued or running.
CREATE OR REPLACE FUNCTION rota.drop_queue(name text, force boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_unfinished bigint;
    v_ended_ids bigint[];
    v_ended_parent_ids bigint[];
BEGIN
    PERFORM rota._check_name('rota.drop_queue', 'name', drop_queue.name);
    PERFORM rota._touch_queue_catalog();
    PERFORM 1 FROM rota.queues q WHERE q.name = drop_queue.name FOR UPDATE;
    IF NOT FOUND THEN
        PERFORM rota._raise_unknown('rota.drop_queue', 'queue', drop_queue.name, 'RO001');
    END IF;
    IF NOT coalesce(drop_queue.force, false) THEN
        SELECT count(*) INTO v_unfinished FROM rota.tasks t
        WHERE t.queue = drop_queue.name AND t.state IN ('queued', 'running', 'waiting');
        IF v_unfinished > 0 THEN
            RAISE EXCEPTION 'rota.drop_queue: queue % is not empty (% queued, running or waiting tasks)', quote_literal(drop_queue.name), v_unfinished
                USING ERRCODE = 'RO030', HINT = 'Pass force => true to delete its tasks too.';
        END IF;
    END IF;
    -- The queue row first: a BEFORE DELETE guard (80_schedules.sql) then fails
    -- before any task is deleted.
    DELETE FROM rota.queues q WHERE q.name = drop_queue.name;
    -- Unfinished tasks end cancelled before they go, as if cancelled: a parent in another
    -- queue waiting for them is counted off, and whoever awaits them is told.
    WITH ended AS (
        UPDATE rota.tasks t
        SET state = 'cancelled', finished_at = now(), lease_expires_at = NULL, lease_token = NULL,
            children_open = NULL, cancel_requested = false
        WHERE t.queue = drop_queue.name AND t.state IN ('queued', 'running', 'waiting')
        RETURNING t.id, t.parent_id)
    SELECT array_agg(ended.id ORDER BY ended.id), array_agg(ended.parent_id) FILTER (WHERE ended.parent_id IS NOT NULL)
    INTO v_ended_ids, v_ended_parent_ids FROM ended;
    PERFORM rota._wake_parents(v_ended_parent_ids);
    PERFORM rota._notify_finished(v_ended_ids);
    PERFORM rota._delete_tasks(ARRAY(SELECT t.id FROM rota.tasks t WHERE t.queue = drop_queue.name));
    DELETE FROM rota._queue_slots s WHERE s.queue = drop_queue.name;
    DELETE FROM rota._queue_rate_tokens r WHERE r.queue = drop_queue.name;
    DELETE FROM rota._key_counts k WHERE k.queue = drop_queue.name;
END;
$fn$;
COMMENT ON FUNCTION rota.drop_queue(text, boolean) IS 'Deletes a queue (RO030 if it has queued, running or waiting tasks, unless force; with force they end cancelled first, so waiting parents and awaiting callers hear of it).';

-- Sets a queue's paused flag (pause_queue, resume_queue); RO001 when there is no such queue.
CREATE OR REPLACE FUNCTION rota._set_queue_paused(p_fn text, p_name text, p_paused boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    PERFORM rota._touch_queue_catalog();
    UPDATE rota.queues q SET paused = p_paused, updated_at = now() WHERE q.name = p_name;
    IF NOT FOUND THEN
        PERFORM rota._raise_unknown(p_fn, 'queue', p_name, 'RO001');
    END IF;
END;
$fn$;

-- Stops claims from a queue; running tasks continue.
CREATE OR REPLACE FUNCTION rota.pause_queue(name text)
RETURNS void
LANGUAGE sql VOLATILE
AS $fn$
    SELECT rota._set_queue_paused('rota.pause_queue', $1, true);
$fn$;
COMMENT ON FUNCTION rota.pause_queue(text) IS 'Pauses a queue: claim skips it until resume_queue.';

-- Lets claims take tasks of a paused queue again.
CREATE OR REPLACE FUNCTION rota.resume_queue(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM rota._set_queue_paused('rota.resume_queue', resume_queue.name, false);
    PERFORM pg_notify('rota_enqueue', resume_queue.name);
END;
$fn$;
COMMENT ON FUNCTION rota.resume_queue(text) IS 'Resumes a paused queue and wakes its workers.';

$code$);
