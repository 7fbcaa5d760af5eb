-- Migration 1: the durable queue and its executors.
--
-- Hot path design (claim + complete):
--   * a ready task is found through a partial index over state = 'queued', so finished
--     rows cost nothing to the claim scan;
--   * claim takes up to `max` tasks in one UPDATE over a `FOR UPDATE SKIP LOCKED` pick,
--     so replicas never wait on each other and never hit serialization failures;
--   * limits are rows, not counts: a concurrency slot row per allowed running task, a
--     rate token row per allowed start in a window, key slot rows per concurrency key;
--     claimers lock free rows with SKIP LOCKED and frees are HOT updates (the mutated
--     column is not indexed and the tables keep free space per page);
--   * queues without limits skip all of that;
--   * success writes only the task row; task_attempts gets rows for failures, expired
--     leases and releases.
-- Every name is qualified with `rota.` so callers' search_path cannot redirect them
-- (functions do not SET search_path: that would cost a GUC save/restore on each call).
SELECT rota._migrate(1, 'queue', $migration$

-- ---------------------------------------------------------------------------------
-- Tables
-- ---------------------------------------------------------------------------------

CREATE TABLE rota.queues (
    name                  text PRIMARY KEY
        CONSTRAINT queues_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    concurrency           integer CONSTRAINT queues_concurrency_positive CHECK (concurrency > 0),
    rate_limit            integer CONSTRAINT queues_rate_limit_positive CHECK (rate_limit > 0),
    rate_period           interval CONSTRAINT queues_rate_period_positive CHECK (rate_period > interval '0'),
    max_attempts          integer NOT NULL DEFAULT 5 CONSTRAINT queues_max_attempts_positive CHECK (max_attempts >= 1),
    lease                 interval NOT NULL DEFAULT interval '30 seconds'
        CONSTRAINT queues_lease_positive CHECK (lease > interval '0'),
    concurrency_key_limit integer CONSTRAINT queues_key_limit_positive CHECK (concurrency_key_limit > 0),
    backoff_base          interval NOT NULL DEFAULT interval '1 second'
        CONSTRAINT queues_backoff_base_positive CHECK (backoff_base > interval '0'),
    backoff_max           interval NOT NULL DEFAULT interval '1 hour',
    retention             interval NOT NULL DEFAULT interval '7 days'
        CONSTRAINT queues_retention_positive CHECK (retention > interval '0'),
    paused                boolean NOT NULL DEFAULT false,
    created_at            timestamptz NOT NULL DEFAULT now(),
    updated_at            timestamptz NOT NULL DEFAULT now(),
    -- a rate limit needs both halves: N starts per period
    CONSTRAINT queues_rate_pair CHECK ((rate_limit IS NULL) = (rate_period IS NULL)),
    CONSTRAINT queues_backoff_order CHECK (backoff_max >= backoff_base)
);
COMMENT ON TABLE rota.queues IS 'Named work queues and their limits; written by rota.define_queue.';

-- fillfactor leaves room on each page so that heartbeats (lease renewals) stay HOT
-- updates and claim/complete keep the new row version on the same page.
CREATE TABLE rota.tasks (
    id                bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    queue             text NOT NULL,
    task              text NOT NULL,
    payload           jsonb NOT NULL DEFAULT '{}',
    key               text,
    state             text NOT NULL DEFAULT 'queued',
    priority          integer NOT NULL DEFAULT 0,
    run_at            timestamptz NOT NULL DEFAULT now(),
    -- the fence: every claim increments it, and only the latest claim may finish the task
    attempts          integer NOT NULL DEFAULT 0,
    -- attempts not charged to the budget (released by stop_executor, or before a retry);
    -- attempts itself never goes down, so an old attempt number can never become valid again
    attempts_refunded integer NOT NULL DEFAULT 0,
    max_attempts      integer NOT NULL,
    concurrency_key   text,
    parent_id         bigint,
    executor          text,
    lease_expires_at  timestamptz,
    -- the queue_slots / key_slots rows held while running (left as a record afterwards;
    -- frees match on task_id, so a stale value never frees another task's slot)
    slot              integer,
    key_slot          integer,
    cancel_requested  boolean NOT NULL DEFAULT false,
    result            jsonb,
    last_error        text,
    enqueued_at       timestamptz NOT NULL DEFAULT now(),
    started_at        timestamptz,
    finished_at       timestamptz,
    CONSTRAINT tasks_state_valid
        CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
    CONSTRAINT tasks_running_owned
        CHECK (state <> 'running' OR (executor IS NOT NULL AND lease_expires_at IS NOT NULL
                                      AND started_at IS NOT NULL AND attempts >= 1)),
    CONSTRAINT tasks_lease_only_when_running
        CHECK (state = 'running' OR lease_expires_at IS NULL),
    CONSTRAINT tasks_finished_iff_final
        CHECK ((state IN ('succeeded', 'failed', 'cancelled')) = (finished_at IS NOT NULL)),
    CONSTRAINT tasks_cancel_requested_state
        CHECK (NOT cancel_requested OR state IN ('running', 'cancelled')),
    CONSTRAINT tasks_attempts_range
        CHECK (attempts >= 0 AND attempts_refunded >= 0 AND attempts_refunded <= attempts),
    CONSTRAINT tasks_max_attempts_positive CHECK (max_attempts >= 1),
    CONSTRAINT tasks_task_format CHECK (task ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    CONSTRAINT tasks_key_length CHECK (char_length(key) BETWEEN 1 AND 512),
    CONSTRAINT tasks_concurrency_key_length CHECK (char_length(concurrency_key) BETWEEN 1 AND 512)
) WITH (fillfactor = 70,
        -- Claimed and finished rows leave dead entries at the head of the ready index;
        -- vacuum them often rather than at the default 20% of a large table.
        autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
        autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02,
        autovacuum_vacuum_cost_delay = 1);
COMMENT ON TABLE rota.tasks IS 'Tasks: queued -> running -> succeeded | failed | cancelled (failed/cancelled may be retried).';

-- The claim scan: only ready rows, in claim order.
CREATE INDEX tasks_ready_idx ON rota.tasks (queue, priority, run_at, id) WHERE state = 'queued';
-- next_run_at: the earliest queued run_at whatever the priority.
CREATE INDEX tasks_queued_run_at_idx ON rota.tasks (queue, run_at) WHERE state = 'queued';
-- Idempotency keys, per queue, for the whole life of a task (until pruned).
CREATE UNIQUE INDEX tasks_queue_key_idx ON rota.tasks (queue, key) WHERE key IS NOT NULL;
-- Heartbeat, stop_executor and reap look at running tasks only; lease_expires_at is
-- deliberately not indexed so that lease renewals are HOT updates.
-- Lookups of one running task by id test `lease_expires_at IS NOT NULL` (equivalent to
-- state = 'running' by the CHECK constraints) rather than the state, so that the planner
-- does not walk this small-looking partial index instead of the primary key.
CREATE INDEX tasks_running_idx ON rota.tasks (executor) WHERE state = 'running';

CREATE TABLE rota.task_attempts (
    task_id     bigint NOT NULL REFERENCES rota.tasks (id) ON DELETE CASCADE,
    attempt     integer NOT NULL,
    executor    text,
    started_at  timestamptz,
    finished_at timestamptz NOT NULL DEFAULT now(),
    outcome     text NOT NULL CONSTRAINT task_attempts_outcome_valid
        CHECK (outcome IN ('failed', 'lease_expired', 'released')),
    error       text,
    PRIMARY KEY (task_id, attempt)
);
COMMENT ON TABLE rota.task_attempts IS 'Attempts that did not succeed (failed, lease expired, released); success lives on the task row.';

CREATE TABLE rota.task_steps (
    task_id     bigint NOT NULL REFERENCES rota.tasks (id) ON DELETE CASCADE,
    name        text NOT NULL,
    output      jsonb,
    attempt     integer NOT NULL,
    recorded_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (task_id, name)
);
COMMENT ON TABLE rota.task_steps IS 'Durable step checkpoints of a task (rota.step / rota.record_step).';

CREATE TABLE rota.executors (
    id                text PRIMARY KEY
        CONSTRAINT executors_id_format CHECK (id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    host              text,
    pid               integer,
    queues            text[],
    meta              jsonb NOT NULL DEFAULT '{}',
    started_at        timestamptz NOT NULL DEFAULT now(),
    last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
    stopped_at        timestamptz
) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
COMMENT ON TABLE rota.executors IS 'Worker processes; liveness is judged from last_heartbeat_at (rota.executor_status).';

-- One row per allowed running task of a queue with a concurrency limit. task_id is not
-- indexed and pages keep half their space free, so freeing a slot is a HOT update.
-- Rows 1..K always exist. Rows above K (over_limit) exist only while busy: they are left
-- by a lowered limit, or made by define_queue for tasks already running when a limit was
-- introduced; they count against K in claim and are deleted when their task frees them.
CREATE TABLE rota.queue_slots (
    queue      text NOT NULL,
    slot       integer NOT NULL,
    task_id    bigint,
    over_limit boolean NOT NULL DEFAULT false,
    PRIMARY KEY (queue, slot)
) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

-- One row per allowed start in a rate window. A claim may only take a token unused for
-- at least rate_period and stamps it, so any window of rate_period holds at most
-- rate_limit starts, exactly, with SKIP LOCKED instead of serialization.
CREATE TABLE rota.queue_rate_tokens (
    queue   text NOT NULL,
    token   integer NOT NULL,
    used_at timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (queue, token)
) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

-- concurrency_key_limit rows per (queue, concurrency key), created on first use by a
-- claim, deleted by prune once all are free. Rows above a lowered limit are never taken
-- again; while busy they count against the limit (rota._take_key_slot).
CREATE TABLE rota.key_slots (
    queue           text NOT NULL,
    concurrency_key text NOT NULL,
    slot            integer NOT NULL,
    task_id         bigint,
    PRIMARY KEY (queue, concurrency_key, slot)
) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

-- ---------------------------------------------------------------------------------
-- Private helpers
-- ---------------------------------------------------------------------------------

-- Raises the invalid-argument error in the one format every function uses.
CREATE FUNCTION rota._invalid(p_fn text, p_arg text, p_problem text, p_value text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    RAISE EXCEPTION '%: % % (got %)', p_fn, p_arg, p_problem, coalesce(p_value, 'NULL')
        USING ERRCODE = 'RO010';
END;
$fn$;

-- Names of queues, tasks and executors share one pattern so they are safe in keys,
-- NOTIFY payloads and logs.
CREATE FUNCTION rota._check_name(p_fn text, p_arg text, p_value text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
    IF p_value IS NULL OR p_value !~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' THEN
        PERFORM rota._invalid(p_fn, p_arg, 'must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$', quote_nullable(p_value));
    END IF;
END;
$fn$;

-- Rejects JSON documents over 1 MiB of text. The binary size bounds the text size
-- (at most 6 text bytes per stored byte, for \u escapes), so small documents are never
-- rendered to text.
CREATE FUNCTION rota._check_size(p_fn text, p_arg text, p_value jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_bytes bigint;
BEGIN
    IF p_value IS NOT NULL AND pg_column_size(p_value) * 6 > 1048576 THEN
        v_bytes := octet_length(p_value::text);
        IF v_bytes > 1048576 THEN
            RAISE EXCEPTION '%: % is larger than 1 MiB (got % bytes)', p_fn, p_arg, v_bytes
                USING ERRCODE = 'RO011';
        END IF;
    END IF;
END;
$fn$;

-- Retry delay for the n-th counted attempt: base * 2^(n-1) with +-25% jitter, capped.
CREATE FUNCTION rota._backoff(p_base interval, p_cap interval, p_attempt integer)
RETURNS interval
LANGUAGE sql VOLATILE
AS $fn$
    SELECT make_interval(secs => least(
        extract(epoch FROM p_cap)::double precision,
        extract(epoch FROM p_base)::double precision
            * power(2::double precision, least(greatest(p_attempt, 1) - 1, 60))
            * (0.75 + random() * 0.5)));
$fn$;

-- Raises RO002/RO021 for the first (id, attempt) pair that names no task or an attempt
-- that never existed; used only after a fenced write missed, off the success path.
CREATE FUNCTION rota._check_attempts(p_fn text, p_ids bigint[], p_attempts integer[])
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_id bigint;
    v_attempt integer;
    v_have integer;
    v_found boolean;
BEGIN
    FOR v_id, v_attempt, v_have, v_found IN
        SELECT i.id, i.attempt, t.attempts, t.id IS NOT NULL
        FROM unnest(p_ids, p_attempts) AS i(id, attempt)
        LEFT JOIN rota.tasks t ON t.id = i.id
        WHERE t.id IS NULL OR i.attempt IS NULL OR i.attempt < 1 OR i.attempt > t.attempts
        LIMIT 1
    LOOP
        IF NOT v_found THEN
            RAISE EXCEPTION '%: unknown task id %', p_fn, coalesce(v_id::text, 'NULL')
                USING ERRCODE = 'RO002';
        END IF;
        RAISE EXCEPTION '%: attempt % of task % was never claimed (it has % attempts)',
            p_fn, coalesce(v_attempt::text, 'NULL'), v_id, v_have
            USING ERRCODE = 'RO021';
    END LOOP;
END;
$fn$;

-- Locks a free key slot of (queue, key), creating the key's slots on first use; NULL
-- when the key is at its limit. Creation runs under a try-lock so that a claim never
-- waits on another claim's uncommitted rows (which could deadlock two claimers). Busy
-- slots above a lowered limit count against it: then a start needs one more free slot
-- than there are such rows, all locked here (SKIP LOCKED: slots locked by others count
-- as being taken) and kept locked until commit, so concurrent claims cannot overshoot.
CREATE FUNCTION rota._take_key_slot(p_queue text, p_key text, p_limit integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_slot integer;
    v_busy_above integer;
    v_free integer[];
BEGIN
    SELECT count(*) INTO v_busy_above
    FROM rota.key_slots k
    WHERE k.queue = p_queue AND k.concurrency_key = p_key AND k.slot > p_limit AND k.task_id IS NOT NULL;
    IF v_busy_above > 0 THEN
        -- transitional, after a lowered limit (rows above it exist, so 1..p_limit do too)
        SELECT array_agg(f.slot ORDER BY f.slot) INTO v_free
        FROM (SELECT k.slot FROM rota.key_slots k
              WHERE k.queue = p_queue AND k.concurrency_key = p_key AND k.slot <= p_limit AND k.task_id IS NULL
              ORDER BY k.slot
              LIMIT v_busy_above + 1
              FOR UPDATE SKIP LOCKED) AS f;
        IF coalesce(cardinality(v_free), 0) > v_busy_above THEN
            RETURN v_free[1];
        END IF;
        RETURN NULL;
    END IF;
    SELECT k.slot INTO v_slot
    FROM rota.key_slots k
    WHERE k.queue = p_queue AND k.concurrency_key = p_key AND k.slot <= p_limit AND k.task_id IS NULL
    ORDER BY k.slot
    LIMIT 1
    FOR UPDATE SKIP LOCKED;
    IF FOUND THEN
        RETURN v_slot;
    END IF;
    IF (SELECT count(*) FROM rota.key_slots k WHERE k.queue = p_queue AND k.concurrency_key = p_key
                                                 AND k.slot <= p_limit) >= p_limit THEN
        RETURN NULL;
    END IF;
    IF NOT pg_try_advisory_xact_lock(hashtext('rota.key_slots'), hashtext(p_queue || ':' || p_key)) THEN
        RETURN NULL;
    END IF;
    INSERT INTO rota.key_slots (queue, concurrency_key, slot)
    SELECT p_queue, p_key, g FROM generate_series(1, p_limit) AS g
    ON CONFLICT DO NOTHING;
    SELECT k.slot INTO v_slot
    FROM rota.key_slots k
    WHERE k.queue = p_queue AND k.concurrency_key = p_key AND k.slot <= p_limit AND k.task_id IS NULL
    ORDER BY k.slot
    LIMIT 1
    FOR UPDATE SKIP LOCKED;
    RETURN v_slot;
END;
$fn$;

-- Takes up to p_n free slots of a queue whose limit p_k has busy slot rows above it
-- (after a lowered limit): locks those rows (waiting when p_wait, so that claimers
-- serialize in this transitional state only), checks in a fresh snapshot that they are
-- all the rows above the current limit, and allows at most
-- (free slots it could lock) - (busy slots above K) new starts. Slots locked by others
-- count as being taken. NULL or empty: no start (the caller tries again later).
CREATE FUNCTION rota._take_slots_over_limit(p_queue text, p_k integer, p_n integer, p_wait boolean)
RETURNS integer[]
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_k integer := p_k;
    v_locked integer[];
    v_busy integer;
    v_k_now integer;
    v_above integer[];
    v_free integer[];
BEGIN
    FOR i IN 1..5 LOOP
        IF p_wait THEN
            SELECT array_agg(o.slot ORDER BY o.slot), count(*) FILTER (WHERE o.task_id IS NOT NULL)
            INTO v_locked, v_busy
            FROM (SELECT s.slot, s.task_id FROM rota.queue_slots s
                  WHERE s.queue = p_queue AND s.slot > v_k
                  ORDER BY s.slot
                  FOR UPDATE) AS o;
        ELSE
            -- this claim already holds another queue's over-limit rows: waiting here could
            -- deadlock with a claimer that takes the queues in the other order
            SELECT array_agg(o.slot ORDER BY o.slot), count(*) FILTER (WHERE o.task_id IS NOT NULL)
            INTO v_locked, v_busy
            FROM (SELECT s.slot, s.task_id FROM rota.queue_slots s
                  WHERE s.queue = p_queue AND s.slot > v_k
                  ORDER BY s.slot
                  FOR UPDATE SKIP LOCKED) AS o;
        END IF;
        -- a fresh snapshot: the limit now, and every row above it
        SELECT q.concurrency,
               ARRAY(SELECT o.slot FROM rota.queue_slots o
                     WHERE o.queue = q.name AND o.slot > q.concurrency ORDER BY o.slot)
        INTO v_k_now, v_above
        FROM rota.queues q WHERE q.name = p_queue;
        IF v_k_now IS NULL THEN
            RETURN NULL;
        END IF;
        IF v_k_now = v_k AND v_above = coalesce(v_locked, '{}') THEN
            IF cardinality(v_above) = 0 THEN
                -- the rows above K went away meanwhile; the next claim takes the plain path
                RETURN NULL;
            END IF;
            -- We hold every row above K, so define_queue cannot change the limit or add
            -- such rows before we commit (it locks them first).
            SELECT array_agg(f.slot ORDER BY f.slot) INTO v_free
            FROM (SELECT s.slot FROM rota.queue_slots s
                  WHERE s.queue = p_queue AND s.task_id IS NULL AND s.slot <= v_k
                  ORDER BY s.slot
                  LIMIT p_n + v_busy
                  FOR UPDATE SKIP LOCKED) AS f;
            RETURN v_free[1:least(p_n, coalesce(cardinality(v_free), 0) - v_busy)];
        END IF;
        IF NOT p_wait THEN
            RETURN NULL;
        END IF;
        v_k := v_k_now;
    END LOOP;
    RETURN NULL;
END;
$fn$;

-- Statement-level NOTIFY for inserted tasks: one per queue per statement, ready rows only.
CREATE FUNCTION rota._notify_enqueue()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    PERFORM pg_notify('rota_enqueue', s.queue)
    FROM (SELECT DISTINCT n.queue FROM rota_new_tasks n
          WHERE n.state = 'queued' AND n.run_at <= now()) AS s;
    RETURN NULL;
END;
$fn$;

CREATE TRIGGER tasks_notify_enqueue
    AFTER INSERT ON rota.tasks
    REFERENCING NEW TABLE AS rota_new_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION rota._notify_enqueue();

-- ---------------------------------------------------------------------------------
-- Queues
-- ---------------------------------------------------------------------------------

-- Creates or updates a queue and its limit rows.
CREATE FUNCTION rota.define_queue(
    name text,
    concurrency integer DEFAULT NULL,
    rate_limit integer DEFAULT NULL,
    rate_period interval DEFAULT NULL,
    max_attempts integer DEFAULT 5,
    lease interval DEFAULT interval '30 seconds',
    concurrency_key_limit integer DEFAULT NULL,
    backoff_base interval DEFAULT interval '1 second',
    backoff_max interval DEFAULT interval '1 hour',
    retention interval DEFAULT interval '7 days')
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    c_fn constant text := 'rota.define_queue';
    v_old integer;
    v_unslotted bigint[];
    v_free integer[];
    v_top integer;
    v_assign integer[];
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

    -- Lock order: queue row, running tasks, slot rows (complete holds a task row, then
    -- its slot row; claimers never wait on the queue row or on running tasks).
    SELECT q.concurrency INTO v_old FROM rota.queues q WHERE q.name = define_queue.name FOR NO KEY UPDATE;

    INSERT INTO rota.queues AS q (name, concurrency, rate_limit, rate_period, max_attempts, lease,
                                  concurrency_key_limit, backoff_base, backoff_max, retention)
    VALUES (define_queue.name, define_queue.concurrency, define_queue.rate_limit, define_queue.rate_period,
            define_queue.max_attempts, define_queue.lease, define_queue.concurrency_key_limit,
            define_queue.backoff_base, define_queue.backoff_max, define_queue.retention)
    ON CONFLICT (name) DO UPDATE
    SET concurrency = EXCLUDED.concurrency, rate_limit = EXCLUDED.rate_limit,
        rate_period = EXCLUDED.rate_period, max_attempts = EXCLUDED.max_attempts,
        lease = EXCLUDED.lease, concurrency_key_limit = EXCLUDED.concurrency_key_limit,
        backoff_base = EXCLUDED.backoff_base, backoff_max = EXCLUDED.backoff_max,
        retention = EXCLUDED.retention, updated_at = now()
    WHERE (q.concurrency, q.rate_limit, q.rate_period, q.max_attempts, q.lease, q.concurrency_key_limit,
           q.backoff_base, q.backoff_max, q.retention)
          IS DISTINCT FROM
          (EXCLUDED.concurrency, EXCLUDED.rate_limit, EXCLUDED.rate_period, EXCLUDED.max_attempts,
           EXCLUDED.lease, EXCLUDED.concurrency_key_limit, EXCLUDED.backoff_base, EXCLUDED.backoff_max,
           EXCLUDED.retention);

    IF define_queue.concurrency IS NULL THEN
        -- No limit, no slot rows. Running tasks keep their slot number as a record; their
        -- frees match on task_id and find nothing.
        DELETE FROM rota.queue_slots s WHERE s.queue = define_queue.name;
    ELSE
        -- Running tasks that hold no slot (started while the queue had no limit, or held
        -- one that a removed limit took away). A claim still in flight that read the old
        -- definition is not seen here: its tasks run without a slot until they end.
        SELECT array_agg(r.id ORDER BY r.id) INTO v_unslotted
        FROM (SELECT t.id FROM rota.tasks t
              WHERE t.queue = define_queue.name AND t.state = 'running'
                AND NOT EXISTS (SELECT 1 FROM rota.queue_slots s
                                WHERE s.queue = t.queue AND s.slot = t.slot AND s.task_id = t.id)
              ORDER BY t.id
              FOR UPDATE OF t) AS r;
        -- Every slot row above the lower of the old and new limits, locked: this waits
        -- for claimers that hold rows above the limit and for frees of those rows, and
        -- makes claimers in the over-limit state wait for this definition.
        PERFORM 1 FROM rota.queue_slots s
        WHERE s.queue = define_queue.name
          AND s.slot > least(coalesce(v_old, define_queue.concurrency), define_queue.concurrency)
        ORDER BY s.slot
        FOR UPDATE;
        -- Above the new limit: free rows go, busy ones stay marked over_limit until freed.
        DELETE FROM rota.queue_slots s
        WHERE s.queue = define_queue.name AND s.slot > define_queue.concurrency AND s.task_id IS NULL;
        UPDATE rota.queue_slots s SET over_limit = (s.slot > define_queue.concurrency)
        WHERE s.queue = define_queue.name
          AND s.slot > least(coalesce(v_old, define_queue.concurrency), define_queue.concurrency)
          AND s.over_limit <> (s.slot > define_queue.concurrency);
        INSERT INTO rota.queue_slots (queue, slot)
        SELECT define_queue.name, g FROM generate_series(1, define_queue.concurrency) AS g
        ON CONFLICT DO NOTHING;
        IF v_unslotted IS NOT NULL THEN
            -- Free slots first (as claim takes them: SKIP LOCKED, a locked one is being
            -- taken), then new busy rows above the limit for the rest, so that running
            -- never exceeds max(K, what already runs) and converges to K.
            SELECT array_agg(f.slot ORDER BY f.slot) INTO v_free
            FROM (SELECT s.slot FROM rota.queue_slots s
                  WHERE s.queue = define_queue.name AND s.task_id IS NULL AND s.slot <= define_queue.concurrency
                  ORDER BY s.slot
                  LIMIT cardinality(v_unslotted)
                  FOR UPDATE SKIP LOCKED) AS f;
            v_free := coalesce(v_free, '{}');
            SELECT greatest(max(s.slot), define_queue.concurrency) INTO v_top
            FROM rota.queue_slots s WHERE s.queue = define_queue.name;
            v_assign := v_free || ARRAY(SELECT v_top + g
                                        FROM generate_series(1, cardinality(v_unslotted) - cardinality(v_free)) AS g);
            UPDATE rota.queue_slots s SET task_id = v_unslotted[array_position(v_free, s.slot)]
            WHERE s.queue = define_queue.name AND s.slot = ANY (v_free);
            INSERT INTO rota.queue_slots (queue, slot, task_id, over_limit)
            SELECT define_queue.name, a.slot, a.id, true
            FROM unnest(v_assign, v_unslotted) WITH ORDINALITY AS a(slot, id, ord)
            WHERE a.ord > cardinality(v_free);
            UPDATE rota.tasks t SET slot = v_assign[array_position(v_unslotted, t.id)]
            WHERE t.id = ANY (v_unslotted);
        END IF;
    END IF;

    IF define_queue.rate_limit IS NOT NULL THEN
        INSERT INTO rota.queue_rate_tokens (queue, token)
        SELECT define_queue.name, g FROM generate_series(1, define_queue.rate_limit) AS g
        ON CONFLICT DO NOTHING;
    END IF;
    DELETE FROM rota.queue_rate_tokens r
    WHERE r.queue = define_queue.name
      AND (define_queue.rate_limit IS NULL OR r.token > define_queue.rate_limit);
END;
$fn$;
COMMENT ON FUNCTION rota.define_queue(text, integer, integer, interval, integer, interval, integer, interval, interval, interval)
    IS 'Creates or updates a queue (idempotent); keeps its paused flag.';

-- Deletes a queue; with force also its tasks, else only when nothing is queued or running.
CREATE FUNCTION rota.drop_queue(name text, force boolean DEFAULT false)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_busy bigint;
BEGIN
    PERFORM rota._check_name('rota.drop_queue', 'name', drop_queue.name);
    PERFORM 1 FROM rota.queues q WHERE q.name = drop_queue.name FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'rota.drop_queue: unknown queue %', quote_literal(drop_queue.name) USING ERRCODE = 'RO001';
    END IF;
    IF NOT coalesce(drop_queue.force, false) THEN
        SELECT count(*) INTO v_busy FROM rota.tasks t
        WHERE t.queue = drop_queue.name AND t.state IN ('queued', 'running');
        IF v_busy > 0 THEN
            RAISE EXCEPTION 'rota.drop_queue: queue % is not empty (% queued or running tasks)', quote_literal(drop_queue.name), v_busy
                USING ERRCODE = 'RO030', HINT = 'Pass force => true to delete its tasks too.';
        END IF;
    END IF;
    -- The queue row first: a BEFORE DELETE guard (schedules, migration 3) then fails
    -- before any task is deleted.
    DELETE FROM rota.queues q WHERE q.name = drop_queue.name;
    DELETE FROM rota.tasks t WHERE t.queue = drop_queue.name;
    DELETE FROM rota.queue_slots s WHERE s.queue = drop_queue.name;
    DELETE FROM rota.queue_rate_tokens r WHERE r.queue = drop_queue.name;
    DELETE FROM rota.key_slots k WHERE k.queue = drop_queue.name;
END;
$fn$;
COMMENT ON FUNCTION rota.drop_queue(text, boolean) IS 'Deletes a queue (RO030 if it has queued or running tasks, unless force).';

-- Stops claims from a queue; running tasks continue.
CREATE FUNCTION rota.pause_queue(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
BEGIN
    UPDATE rota.queues q SET paused = true, updated_at = now() WHERE q.name = pause_queue.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'rota.pause_queue: unknown queue %', coalesce(quote_literal(pause_queue.name), 'NULL') USING ERRCODE = 'RO001';
    END IF;
END;
$fn$;
COMMENT ON FUNCTION rota.pause_queue(text) IS 'Pauses a queue: claim skips it until resume_queue.';

-- Lets claims take tasks of a paused queue again.
CREATE FUNCTION rota.resume_queue(name text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
BEGIN
    UPDATE rota.queues q SET paused = false, updated_at = now() WHERE q.name = resume_queue.name;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'rota.resume_queue: unknown queue %', coalesce(quote_literal(resume_queue.name), 'NULL') USING ERRCODE = 'RO001';
    END IF;
    PERFORM pg_notify('rota_enqueue', resume_queue.name);
END;
$fn$;
COMMENT ON FUNCTION rota.resume_queue(text) IS 'Resumes a paused queue and wakes its workers.';

-- ---------------------------------------------------------------------------------
-- Enqueue
-- ---------------------------------------------------------------------------------

-- Adds tasks; shared by enqueue and enqueue_many. Returns ids in input order; an
-- existing (queue, key) returns the existing id, also when two sessions race.
CREATE FUNCTION rota._enqueue(p_fn text, p_queue text, p_task text, p_payloads jsonb[], p_keys text[],
                              p_run_at timestamptz, p_priority integer, p_max_attempts integer,
                              p_concurrency_key text, p_parent_id bigint)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_max_attempts integer;
    v_n integer := coalesce(cardinality(p_payloads), 0);
    v_i integer;
    v_ids bigint[];
    v_missing integer[];
    v_loops integer := 0;
BEGIN
    SELECT q.max_attempts INTO v_max_attempts FROM rota.queues q WHERE q.name = p_queue;
    IF NOT FOUND THEN
        RAISE EXCEPTION '%: unknown queue %', p_fn, coalesce(quote_literal(p_queue), 'NULL') USING ERRCODE = 'RO001';
    END IF;
    PERFORM rota._check_name(p_fn, 'task', p_task);
    IF p_max_attempts < 1 THEN
        PERFORM rota._invalid(p_fn, 'max_attempts', 'must be >= 1', p_max_attempts::text);
    END IF;
    IF char_length(p_concurrency_key) NOT BETWEEN 1 AND 512 THEN
        PERFORM rota._invalid(p_fn, 'concurrency_key', 'must be 1 to 512 characters', quote_literal(left(p_concurrency_key, 40)));
    END IF;
    IF p_parent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rota.tasks t WHERE t.id = p_parent_id) THEN
        RAISE EXCEPTION '%: unknown task id % (parent_id)', p_fn, p_parent_id USING ERRCODE = 'RO002';
    END IF;
    IF p_keys IS NOT NULL AND cardinality(p_keys) <> v_n THEN
        PERFORM rota._invalid(p_fn, 'keys', 'must have as many elements as payloads (' || v_n || ')',
            cardinality(p_keys)::text);
    END IF;
    -- one set-based pass per check, so big batches do not pay a function call per element
    SELECT u.ord INTO v_i FROM unnest(p_payloads) WITH ORDINALITY AS u(p, ord)
    WHERE pg_column_size(u.p) * 6 > 1048576 AND octet_length(u.p::text) > 1048576
    ORDER BY u.ord LIMIT 1;
    IF FOUND THEN
        PERFORM rota._check_size(p_fn, CASE WHEN p_fn = 'rota.enqueue' THEN 'payload' ELSE 'payloads[' || v_i || ']' END,
                                 p_payloads[v_i]);
    END IF;
    SELECT u.ord INTO v_i FROM unnest(p_keys) WITH ORDINALITY AS u(k, ord)
    WHERE char_length(u.k) NOT BETWEEN 1 AND 512
    ORDER BY u.ord LIMIT 1;
    IF FOUND THEN
        PERFORM rota._invalid(p_fn, CASE WHEN p_fn = 'rota.enqueue' THEN 'key' ELSE 'keys[' || v_i || ']' END,
            'must be 1 to 512 characters', quote_literal(left(p_keys[v_i], 40)));
    END IF;

    IF p_keys IS NULL THEN
        -- No keys: a plain insert, ids come back in input order (identity values are
        -- assigned in the order rows are produced by the ordered unnest).
        RETURN QUERY
        WITH ins AS (
            INSERT INTO rota.tasks (queue, task, payload, run_at, priority, max_attempts, concurrency_key, parent_id)
            SELECT p_queue, p_task, coalesce(u.payload, '{}'), coalesce(p_run_at, now()), coalesce(p_priority, 0),
                   coalesce(p_max_attempts, v_max_attempts), p_concurrency_key, p_parent_id
            FROM unnest(p_payloads) WITH ORDINALITY AS u(payload, ord)
            ORDER BY u.ord
            RETURNING rota.tasks.id)
        SELECT ins.id FROM ins ORDER BY ins.id;
        RETURN;
    END IF;

    -- With keys: insert what is new, then read back every key. A key whose row is
    -- invisible to us (inserted by a session that has since committed after our
    -- snapshot, or deleted meanwhile) is retried with a fresh statement.
    v_ids := array_fill(NULL::bigint, ARRAY[v_n]);
    LOOP
        v_loops := v_loops + 1;
        WITH ins AS (
            INSERT INTO rota.tasks (queue, task, payload, key, run_at, priority, max_attempts, concurrency_key, parent_id)
            SELECT p_queue, p_task, coalesce(u.payload, '{}'), u.key, coalesce(p_run_at, now()), coalesce(p_priority, 0),
                   coalesce(p_max_attempts, v_max_attempts), p_concurrency_key, p_parent_id
            FROM unnest(p_payloads, p_keys) WITH ORDINALITY AS u(payload, key, ord)
            WHERE v_ids[u.ord] IS NULL
            -- key order, so that two batches sharing keys wait on each other in the same
            -- order instead of deadlocking (keyless rows last, in input order)
            ORDER BY u.key, u.ord
            ON CONFLICT (queue, key) WHERE key IS NOT NULL DO NOTHING
            RETURNING rota.tasks.id, rota.tasks.key),
        -- rows without a key never conflict: match them to their inputs by position
        -- (ids are drawn in input order)
        ins_nokey AS (
            SELECT ins.id, row_number() OVER (ORDER BY ins.id) AS rn FROM ins WHERE ins.key IS NULL),
        inp AS (
            SELECT u.key, u.ord,
                   row_number() OVER (PARTITION BY (u.key IS NULL AND v_ids[u.ord] IS NULL) ORDER BY u.ord) AS rn
            FROM unnest(p_keys) WITH ORDINALITY AS u(key, ord))
        SELECT array_agg(coalesce(v_ids[u.ord], ins.id, n.id, t.id) ORDER BY u.ord)
        INTO v_ids
        FROM inp u
        LEFT JOIN ins ON u.key IS NOT NULL AND ins.key = u.key
        LEFT JOIN ins_nokey n ON u.key IS NULL AND v_ids[u.ord] IS NULL AND n.rn = u.rn
        LEFT JOIN rota.tasks t ON v_ids[u.ord] IS NULL AND ins.id IS NULL AND u.key IS NOT NULL
                              AND t.queue = p_queue AND t.key = u.key;
        -- NULL keys with duplicates in the input never collide; duplicated non-NULL
        -- keys within one call map to the one row inserted.
        SELECT array_agg(ord) INTO v_missing FROM unnest(v_ids) WITH ORDINALITY AS x(id, ord) WHERE x.id IS NULL;
        EXIT WHEN v_missing IS NULL;
        IF v_loops >= 5 THEN
            RAISE EXCEPTION '%: could not insert or find the task with key % (concurrent deletes?)', p_fn,
                quote_literal(p_keys[v_missing[1]]) USING ERRCODE = '40001';
        END IF;
    END LOOP;
    RETURN QUERY SELECT x FROM unnest(v_ids) AS x;
END;
$fn$;

-- Adds one task and returns its id (the existing id when its key is already in the queue).
CREATE FUNCTION rota.enqueue(
    queue text,
    task text,
    payload jsonb DEFAULT '{}',
    key text DEFAULT NULL,
    run_at timestamptz DEFAULT NULL,
    priority integer DEFAULT 0,
    max_attempts integer DEFAULT NULL,
    concurrency_key text DEFAULT NULL,
    parent_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
AS $fn$
    SELECT rota._enqueue('rota.enqueue', $1, $2, ARRAY[$3], CASE WHEN $4 IS NULL THEN NULL ELSE ARRAY[$4] END,
                         $5, $6, $7, $8, $9);
$fn$;
COMMENT ON FUNCTION rota.enqueue(text, text, jsonb, text, timestamptz, integer, integer, text, bigint)
    IS 'Adds a task; with a key, returns the existing task of that key in the queue instead of a new one.';

-- Adds one task per payload in one statement and returns their ids in input order.
CREATE FUNCTION rota.enqueue_many(
    queue text,
    task text,
    payloads jsonb[],
    keys text[] DEFAULT NULL,
    run_at timestamptz DEFAULT NULL,
    priority integer DEFAULT 0,
    max_attempts integer DEFAULT NULL,
    concurrency_key text DEFAULT NULL,
    parent_id bigint DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    IF payloads IS NULL THEN
        PERFORM rota._invalid('rota.enqueue_many', 'payloads', 'must not be NULL', NULL);
    END IF;
    IF array_ndims(payloads) > 1 THEN
        PERFORM rota._invalid('rota.enqueue_many', 'payloads', 'must be one-dimensional', array_ndims(payloads)::text);
    END IF;
    RETURN QUERY SELECT * FROM rota._enqueue('rota.enqueue_many', $1, $2, $3, $4, $5, $6, $7, $8, $9);
END;
$fn$;
COMMENT ON FUNCTION rota.enqueue_many(text, text, jsonb[], text[], timestamptz, integer, integer, text, bigint)
    IS 'Adds many tasks of one kind in one statement; returns one id per payload, in input order.';

-- ---------------------------------------------------------------------------------
-- Claim
-- ---------------------------------------------------------------------------------

-- Takes up to max ready tasks of the given queues for an executor and starts their leases.
CREATE FUNCTION rota.claim(executor text, queues text[], max integer DEFAULT 1)
RETURNS TABLE(id bigint, queue text, task text, payload jsonb, attempt integer, key text, parent_id bigint,
              enqueued_at timestamptz, run_at timestamptz, max_attempts integer, concurrency_key text,
              lease_expires_at timestamptz)
LANGUAGE plpgsql VOLATILE
-- `LIMIT max` makes every custom plan look cheaper than the generic one, so without this
-- each call would be planned afresh; the generic plans below are built not to depend on
-- row estimates (ids are passed as arrays to primary-key lookups).
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
DECLARE
    c_fn constant text := 'rota.claim';
    v_stopped timestamptz;
    v_open text[];
    v_found integer;
    v_limited boolean;
    v_missing text;
    v_q rota.queues;
    v_left integer;
    v_n integer;
    v_got integer;
    v_slots integer[];
    v_tokens integer[];
    v_c record;
    v_kslot integer;
    v_over integer;
    v_lease interval;
    v_ids bigint[];
    v_k integer;
    v_above boolean;
    v_hold_over boolean := false;
BEGIN
    IF claim.max IS NULL OR claim.max < 1 OR claim.max > 10000 THEN
        PERFORM rota._invalid(c_fn, 'max', 'must be between 1 and 10000', claim.max::text);
    END IF;
    SELECT e.stopped_at INTO v_stopped FROM rota.executors e WHERE e.id = claim.executor;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'rota.claim: unknown executor % (call rota.register_executor first)',
            coalesce(quote_literal(claim.executor), 'NULL') USING ERRCODE = 'RO004';
    END IF;
    IF claim.queues IS NULL OR cardinality(claim.queues) = 0 THEN
        PERFORM rota._invalid(c_fn, 'queues', 'must name at least one queue', quote_nullable(claim.queues::text));
    END IF;
    SELECT array_agg(q.name ORDER BY q.name) FILTER (WHERE NOT q.paused),
           count(*),
           min(q.lease) FILTER (WHERE NOT q.paused),
           coalesce(bool_or(NOT q.paused AND (q.concurrency IS NOT NULL OR q.rate_limit IS NOT NULL
                                              OR q.concurrency_key_limit IS NOT NULL)), false)
    INTO v_open, v_found, v_lease, v_limited
    FROM rota.queues q WHERE q.name = ANY (claim.queues);
    IF v_found < cardinality(claim.queues) THEN
        SELECT x INTO v_missing FROM unnest(claim.queues) AS x
        WHERE NOT EXISTS (SELECT 1 FROM rota.queues q WHERE q.name = x) LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'rota.claim: unknown queue %', coalesce(quote_literal(v_missing), 'NULL')
                USING ERRCODE = 'RO001';
        END IF;
    END IF;
    -- A stopped executor takes nothing until it registers again: its tasks were released.
    IF v_stopped IS NOT NULL OR v_open IS NULL THEN
        RETURN;
    END IF;

    IF NOT v_limited THEN
        IF cardinality(v_open) = 1 THEN
            -- The hot path: one ordered index scan over ready rows, one UPDATE.
            RETURN QUERY
            WITH cand AS (
                SELECT t.id FROM rota.tasks t
                WHERE t.state = 'queued' AND t.queue = v_open[1] AND t.run_at <= now()
                ORDER BY t.priority, t.run_at, t.id
                LIMIT claim.max
                FOR UPDATE SKIP LOCKED),
            upd AS (
                UPDATE rota.tasks t
                SET state = 'running', executor = claim.executor, attempts = t.attempts + 1,
                    started_at = clock_timestamp(), lease_expires_at = now() + v_lease, slot = NULL, key_slot = NULL
                WHERE t.id = ANY (ARRAY(SELECT cand.id FROM cand))
                RETURNING t.id, t.queue, t.task, t.payload, t.attempts, t.key, t.parent_id, t.enqueued_at,
                          t.run_at, t.max_attempts, t.concurrency_key, t.lease_expires_at,
                          t.priority AS o_priority)
            SELECT upd.id, upd.queue, upd.task, upd.payload, upd.attempts, upd.key, upd.parent_id, upd.enqueued_at,
                   upd.run_at, upd.max_attempts, upd.concurrency_key, upd.lease_expires_at
            FROM upd ORDER BY upd.o_priority, upd.run_at, upd.id;
            RETURN;
        END IF;
        -- Several queues: the best few candidates of each queue (ordered index scans),
        -- merged, then locked with SKIP LOCKED in claim order. Over-fetching leaves
        -- room for candidates that other claimers hold.
        v_over := claim.max * 2 + 8;
        RETURN QUERY
        WITH pick AS (
            SELECT c.id FROM unnest(v_open) AS qn(name)
            CROSS JOIN LATERAL (
                SELECT x.id, x.priority, x.run_at FROM rota.tasks x
                WHERE x.state = 'queued' AND x.queue = qn.name AND x.run_at <= now()
                ORDER BY x.priority, x.run_at, x.id
                LIMIT v_over) AS c
            ORDER BY c.priority, c.run_at, c.id
            LIMIT v_over),
        cand AS (
            SELECT t.id FROM rota.tasks t
            WHERE t.id = ANY (ARRAY(SELECT pick.id FROM pick)) AND t.state = 'queued' AND t.run_at <= now()
            ORDER BY t.priority, t.run_at, t.id
            LIMIT claim.max
            FOR UPDATE SKIP LOCKED),
        upd AS (
            UPDATE rota.tasks t
            SET state = 'running', executor = claim.executor, attempts = t.attempts + 1,
                started_at = clock_timestamp(),
                lease_expires_at = now() + (SELECT q.lease FROM rota.queues q WHERE q.name = t.queue),
                slot = NULL, key_slot = NULL
            WHERE t.id = ANY (ARRAY(SELECT cand.id FROM cand))
            RETURNING t.id, t.queue, t.task, t.payload, t.attempts, t.key, t.parent_id, t.enqueued_at,
                      t.run_at, t.max_attempts, t.concurrency_key, t.lease_expires_at, t.priority AS o_priority)
        SELECT upd.id, upd.queue, upd.task, upd.payload, upd.attempts, upd.key, upd.parent_id, upd.enqueued_at,
               upd.run_at, upd.max_attempts, upd.concurrency_key, upd.lease_expires_at
        FROM upd ORDER BY upd.o_priority, upd.run_at, upd.id;
        RETURN;
    END IF;

    -- Some queue has limits: serve the queues one at a time, in the order given.
    v_left := claim.max;
    FOR v_q IN
        SELECT q.* FROM unnest(claim.queues) WITH ORDINALITY AS x(name, ord)
        JOIN rota.queues q ON q.name = x.name
        WHERE NOT q.paused
        ORDER BY x.ord
    LOOP
        EXIT WHEN v_left <= 0;
        -- Cheap probe first, so that idle polls lock no slot or token rows.
        -- (ORDER BY + LIMIT 1 keeps the generic plan on the ready index.)
        PERFORM 1 FROM (SELECT t.id FROM rota.tasks t
                        WHERE t.state = 'queued' AND t.queue = v_q.name AND t.run_at <= now()
                        ORDER BY t.priority, t.run_at, t.id LIMIT 1) AS probe;
        CONTINUE WHEN NOT FOUND;
        v_n := v_left;
        v_slots := NULL;
        v_tokens := NULL;
        IF v_q.concurrency IS NOT NULL THEN
            -- One statement, so one snapshot for the limit, the probe for busy slot rows
            -- above it (an index range probe; none in the common case) and the free slots
            -- under it: a limit lowered meanwhile cannot be missed.
            WITH lim AS MATERIALIZED (
                SELECT q.concurrency AS k,
                       EXISTS (SELECT 1 FROM rota.queue_slots o
                               WHERE o.queue = q.name AND o.slot > q.concurrency) AS over
                FROM rota.queues q WHERE q.name = v_q.name),
            free AS (
                SELECT s.slot FROM rota.queue_slots s
                WHERE s.queue = v_q.name AND s.task_id IS NULL
                  AND s.slot <= (SELECT lim.k FROM lim) AND NOT (SELECT lim.over FROM lim)
                ORDER BY s.slot LIMIT v_n
                FOR UPDATE SKIP LOCKED)
            SELECT (SELECT lim.k FROM lim), (SELECT lim.over FROM lim),
                   (SELECT array_agg(free.slot ORDER BY free.slot) FROM free)
            INTO v_k, v_above, v_slots;
            IF v_above THEN
                -- Busy slots above the limit count against it (transitional, after a
                -- lowered limit).
                v_slots := rota._take_slots_over_limit(v_q.name, v_k, v_n, NOT v_hold_over);
                v_hold_over := true;
            END IF;
            v_n := coalesce(cardinality(v_slots), 0);
            CONTINUE WHEN v_n = 0;
        END IF;
        IF v_q.rate_limit IS NOT NULL THEN
            SELECT array_agg(r.token ORDER BY r.token) INTO v_tokens FROM (
                SELECT r.token FROM rota.queue_rate_tokens r
                WHERE r.queue = v_q.name AND r.used_at <= now() - v_q.rate_period AND r.token <= v_q.rate_limit
                ORDER BY r.token LIMIT v_n
                FOR UPDATE SKIP LOCKED) AS r;
            v_n := coalesce(cardinality(v_tokens), 0);
            CONTINUE WHEN v_n = 0;
        END IF;

        IF v_q.concurrency_key_limit IS NULL THEN
            SELECT array_agg(c.id) INTO v_ids FROM (
                SELECT t.id FROM rota.tasks t
                WHERE t.state = 'queued' AND t.queue = v_q.name AND t.run_at <= now()
                ORDER BY t.priority, t.run_at, t.id
                LIMIT v_n
                FOR UPDATE SKIP LOCKED) AS c;
            CONTINUE WHEN v_ids IS NULL;
            -- the i-th locked task takes the i-th locked slot and the i-th token
            RETURN QUERY
            WITH upd AS (
                UPDATE rota.tasks t
                SET state = 'running', executor = claim.executor, attempts = t.attempts + 1,
                    started_at = clock_timestamp(), lease_expires_at = now() + v_q.lease,
                    slot = v_slots[array_position(v_ids, t.id)], key_slot = NULL
                WHERE t.id = ANY (v_ids)
                RETURNING t.id, t.queue, t.task, t.payload, t.attempts, t.key, t.parent_id, t.enqueued_at,
                          t.run_at, t.max_attempts, t.concurrency_key, t.lease_expires_at,
                          t.priority AS o_priority)
            SELECT upd.id, upd.queue, upd.task, upd.payload, upd.attempts, upd.key, upd.parent_id, upd.enqueued_at,
                   upd.run_at, upd.max_attempts, upd.concurrency_key, upd.lease_expires_at
            FROM upd ORDER BY upd.o_priority, upd.run_at, upd.id;
            IF v_slots IS NOT NULL THEN
                UPDATE rota.queue_slots s SET task_id = v_ids[array_position(v_slots, s.slot)]
                WHERE s.queue = v_q.name AND s.slot = ANY (v_slots[1:cardinality(v_ids)]);
            END IF;
            IF v_tokens IS NOT NULL THEN
                UPDATE rota.queue_rate_tokens r SET used_at = now()
                WHERE r.queue = v_q.name AND r.token = ANY (v_tokens[1:cardinality(v_ids)]);
            END IF;
            v_left := v_left - cardinality(v_ids);
            CONTINUE;
        END IF;

        -- Key limits: walk the best candidates (without locking them), take a key slot
        -- for keyed ones, then lock the task itself. Saturated keys are passed over, so
        -- one busy key does not block the queue.
        v_got := 0;
        FOR v_c IN
            SELECT t.id, t.concurrency_key AS ckey FROM rota.tasks t
            WHERE t.state = 'queued' AND t.queue = v_q.name AND t.run_at <= now()
            ORDER BY t.priority, t.run_at, t.id
            LIMIT v_n * 4 + 32
        LOOP
            EXIT WHEN v_got >= v_n;
            v_kslot := NULL;
            IF v_c.ckey IS NOT NULL THEN
                v_kslot := rota._take_key_slot(v_q.name, v_c.ckey, v_q.concurrency_key_limit);
                CONTINUE WHEN v_kslot IS NULL;
            END IF;
            PERFORM 1 FROM rota.tasks t WHERE t.id = v_c.id AND t.state = 'queued' AND t.run_at <= now()
            FOR UPDATE SKIP LOCKED;
            CONTINUE WHEN NOT FOUND;
            v_got := v_got + 1;
            RETURN QUERY
            WITH upd AS (
                UPDATE rota.tasks t
                SET state = 'running', executor = claim.executor, attempts = t.attempts + 1,
                    started_at = clock_timestamp(), lease_expires_at = now() + v_q.lease,
                    slot = v_slots[v_got], key_slot = v_kslot
                WHERE t.id = v_c.id
                RETURNING t.id, t.queue, t.task, t.payload, t.attempts, t.key, t.parent_id, t.enqueued_at,
                          t.run_at, t.max_attempts, t.concurrency_key, t.lease_expires_at)
            SELECT upd.id, upd.queue, upd.task, upd.payload, upd.attempts, upd.key, upd.parent_id, upd.enqueued_at,
                   upd.run_at, upd.max_attempts, upd.concurrency_key, upd.lease_expires_at
            FROM upd;
            IF v_kslot IS NOT NULL THEN
                UPDATE rota.key_slots k SET task_id = v_c.id
                WHERE k.queue = v_q.name AND k.concurrency_key = v_c.ckey AND k.slot = v_kslot;
            END IF;
            IF v_slots IS NOT NULL THEN
                UPDATE rota.queue_slots s SET task_id = v_c.id WHERE s.queue = v_q.name AND s.slot = v_slots[v_got];
            END IF;
        END LOOP;
        IF v_tokens IS NOT NULL AND v_got > 0 THEN
            UPDATE rota.queue_rate_tokens r SET used_at = now()
            WHERE r.queue = v_q.name AND r.token = ANY (v_tokens[1:v_got]);
        END IF;
        v_left := v_left - v_got;
    END LOOP;
END;
$fn$;
COMMENT ON FUNCTION rota.claim(text, text[], integer)
    IS 'Claims up to max ready tasks (priority, run_at, id order) within concurrency, rate and key limits; attempt is the fence for complete/fail.';

-- ---------------------------------------------------------------------------------
-- Complete / fail
-- ---------------------------------------------------------------------------------

-- Frees the slots of tasks that stopped running (one call per batch, after their task rows) and wakes their queues.
CREATE FUNCTION rota._release_holds(p_ids bigint[], p_queues text[], p_slots integer[], p_key_slots integer[],
                                    p_keys text[], p_ready text[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_held_slots boolean := coalesce(array_remove(p_slots, NULL), '{}') <> '{}';
    v_held_keys boolean := coalesce(array_remove(p_key_slots, NULL), '{}') <> '{}';
    v_over_queues text[];
    v_over_slots integer[];
    v_freed text[];
BEGIN
    -- Parallel arrays from the updated task rows. Frees match on task_id, so a stale slot
    -- number frees nothing. Slot rows above a lowered limit go once free (the freeing
    -- UPDATE returns over_limit, so the common free stays a single HOT update).
    IF v_held_slots THEN
        WITH f AS (
            UPDATE rota.queue_slots s SET task_id = NULL
            FROM unnest(p_ids, p_queues, p_slots) AS d(id, queue, slot)
            WHERE d.slot IS NOT NULL AND s.queue = d.queue AND s.slot = d.slot AND s.task_id = d.id
            RETURNING s.queue, s.slot, s.over_limit)
        SELECT array_agg(f.queue), array_agg(f.slot) INTO v_over_queues, v_over_slots
        FROM f WHERE f.over_limit;
        IF v_over_queues IS NOT NULL THEN
            DELETE FROM rota.queue_slots s
            USING unnest(v_over_queues, v_over_slots) AS o(queue, slot)
            WHERE s.queue = o.queue AND s.slot = o.slot AND s.task_id IS NULL AND s.over_limit;
        END IF;
    END IF;
    IF v_held_keys THEN
        UPDATE rota.key_slots k SET task_id = NULL
        FROM unnest(p_ids, p_queues, p_keys, p_key_slots) AS d(id, queue, ckey, slot)
        WHERE d.slot IS NOT NULL AND k.queue = d.queue AND k.concurrency_key = d.ckey
          AND k.slot = d.slot AND k.task_id = d.id;
    END IF;
    -- p_ready: queues that got ready tasks. Queues with a freed slot and ready work are
    -- woken too: else only the process that freed it would claim again at once, and the
    -- others would wait for their poll, piling a limited queue's work onto one replica.
    PERFORM pg_notify('rota_enqueue', x) FROM unnest(p_ready) AS x;
    -- queues without limits hold nothing: their completions stop here
    IF NOT (v_held_slots OR v_held_keys) THEN
        RETURN;
    END IF;
    SELECT array_agg(DISTINCT d.queue) INTO v_freed
    FROM unnest(p_queues, p_slots, p_key_slots) AS d(queue, slot, kslot)
    WHERE (d.slot IS NOT NULL OR d.kslot IS NOT NULL) AND d.queue <> ALL (coalesce(p_ready, '{}'));
    PERFORM pg_notify('rota_enqueue', q.name)
    FROM unnest(v_freed) AS q(name)
    WHERE EXISTS (SELECT 1 FROM rota.tasks t WHERE t.state = 'queued' AND t.queue = q.name AND t.run_at <= now());
END;
$fn$;

-- Marks a running task succeeded (cancelled if a cancel was requested); false when fenced off.
CREATE FUNCTION rota.complete(id bigint, attempt integer, result jsonb DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_queue text;
    v_slot integer;
    v_kslot integer;
    v_ckey text;
BEGIN
    IF complete.result IS NOT NULL THEN
        PERFORM rota._check_size('rota.complete', 'result', complete.result);
    END IF;
    UPDATE rota.tasks t
    SET state = CASE WHEN t.cancel_requested THEN 'cancelled' ELSE 'succeeded' END,
        result = complete.result, finished_at = now(), lease_expires_at = NULL
    WHERE t.id = complete.id AND t.attempts = complete.attempt AND t.lease_expires_at IS NOT NULL
    RETURNING t.queue, t.slot, t.key_slot, t.concurrency_key INTO v_queue, v_slot, v_kslot, v_ckey;
    IF FOUND THEN
        IF v_slot IS NOT NULL OR v_kslot IS NOT NULL THEN
            PERFORM rota._release_holds(ARRAY[complete.id], ARRAY[v_queue], ARRAY[v_slot], ARRAY[v_kslot],
                                        ARRAY[v_ckey]);
        END IF;
        RETURN true;
    END IF;
    PERFORM rota._check_attempts('rota.complete', ARRAY[complete.id], ARRAY[complete.attempt]);
    RETURN false;
END;
$fn$;
COMMENT ON FUNCTION rota.complete(bigint, integer, jsonb)
    IS 'Completes a running task under its current attempt; false (nothing written) when that attempt is stale.';

-- Completes many tasks in one statement; returns the ids that completed.
CREATE FUNCTION rota.complete_many(ids bigint[], attempts integer[], results jsonb[] DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    c_fn constant text := 'rota.complete_many';
    v_n integer := cardinality(complete_many.ids);
    v_done bigint[];
    v_i integer;
    v_queues text[];
    v_slots integer[];
    v_kslots integer[];
    v_ckeys text[];
BEGIN
    IF complete_many.ids IS NULL OR complete_many.attempts IS NULL THEN
        PERFORM rota._invalid(c_fn, 'ids/attempts', 'must not be NULL', NULL);
    END IF;
    IF cardinality(complete_many.attempts) <> v_n THEN
        PERFORM rota._invalid(c_fn, 'attempts', 'must have as many elements as ids (' || v_n || ')',
            cardinality(complete_many.attempts)::text);
    END IF;
    IF complete_many.results IS NOT NULL THEN
        IF cardinality(complete_many.results) <> v_n THEN
            PERFORM rota._invalid(c_fn, 'results', 'must have as many elements as ids (' || v_n || ')',
                cardinality(complete_many.results)::text);
        END IF;
        SELECT u.ord INTO v_i FROM unnest(complete_many.results) WITH ORDINALITY AS u(r, ord)
        WHERE pg_column_size(u.r) * 6 > 1048576 AND octet_length(u.r::text) > 1048576
        ORDER BY u.ord LIMIT 1;
        IF FOUND THEN
            PERFORM rota._check_size(c_fn, 'results[' || v_i || ']', complete_many.results[v_i]);
        END IF;
    END IF;
    IF v_n = 0 THEN
        RETURN;
    END IF;
    -- Rows are locked in id order so that a concurrent stop_executor (also id order)
    -- cannot deadlock with a batch flush.
    -- an id given twice counts once, with its first attempt/result
    WITH input AS (
        SELECT DISTINCT ON (u.id) u.id, u.attempt, u.result
        FROM unnest(complete_many.ids, complete_many.attempts, complete_many.results) WITH ORDINALITY
             AS u(id, attempt, result, ord)
        ORDER BY u.id, u.ord),
    locked AS (
        SELECT t.id FROM rota.tasks t
        WHERE t.id IN (SELECT input.id FROM input) AND t.lease_expires_at IS NOT NULL
        ORDER BY t.id
        FOR UPDATE),
    done AS (
        UPDATE rota.tasks t
        SET state = CASE WHEN t.cancel_requested THEN 'cancelled' ELSE 'succeeded' END,
            result = i.result, finished_at = now(), lease_expires_at = NULL
        FROM input i, locked l
        WHERE t.id = i.id AND l.id = i.id AND t.attempts = i.attempt AND t.lease_expires_at IS NOT NULL
        RETURNING t.id, t.queue, t.slot, t.key_slot, t.concurrency_key)
    SELECT array_agg(done.id ORDER BY done.id), array_agg(done.queue ORDER BY done.id),
           array_agg(done.slot ORDER BY done.id), array_agg(done.key_slot ORDER BY done.id),
           array_agg(done.concurrency_key ORDER BY done.id)
    INTO v_done, v_queues, v_slots, v_kslots, v_ckeys
    FROM done;
    -- the slot rows after the task rows, in one call for the batch
    PERFORM rota._release_holds(v_done, v_queues, v_slots, v_kslots, v_ckeys);
    IF coalesce(cardinality(v_done), 0) < v_n THEN
        PERFORM rota._check_attempts(c_fn, complete_many.ids, complete_many.attempts);
    END IF;
    RETURN QUERY SELECT x FROM unnest(v_done) AS x;
END;
$fn$;
COMMENT ON FUNCTION rota.complete_many(bigint[], integer[], jsonb[])
    IS 'Completes many running tasks in one statement; returns the ids that completed (fenced ones are left out).';

-- Body of fail and fail_many: records failed attempts in one statement (retry with backoff,
-- or failed when out of attempts); p_fn names the caller in errors.
CREATE FUNCTION rota._fail(p_fn text, ids bigint[], attempts integer[], errors text[], retry_ins interval[],
                           retryables boolean[])
RETURNS TABLE(id bigint, state text)
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    c_fn constant text := p_fn;
    v_n integer := cardinality(_fail.ids);
    v_ids bigint[];
    v_states text[];
    v_notify text[];
    v_bad integer;
    v_queues text[];
    v_slots integer[];
    v_kslots integer[];
    v_ckeys text[];
BEGIN
    IF _fail.ids IS NULL OR _fail.attempts IS NULL OR _fail.errors IS NULL THEN
        PERFORM rota._invalid(c_fn, 'ids/attempts/errors', 'must not be NULL', NULL);
    END IF;
    IF cardinality(_fail.attempts) <> v_n THEN
        PERFORM rota._invalid(c_fn, 'attempts', 'must have as many elements as ids (' || v_n || ')',
            cardinality(_fail.attempts)::text);
    END IF;
    IF cardinality(_fail.errors) <> v_n THEN
        PERFORM rota._invalid(c_fn, 'errors', 'must have as many elements as ids (' || v_n || ')',
            cardinality(_fail.errors)::text);
    END IF;
    IF _fail.retry_ins IS NOT NULL AND cardinality(_fail.retry_ins) <> v_n THEN
        PERFORM rota._invalid(c_fn, 'retry_ins', 'must have as many elements as ids (' || v_n || ')',
            cardinality(_fail.retry_ins)::text);
    END IF;
    IF _fail.retryables IS NOT NULL AND cardinality(_fail.retryables) <> v_n THEN
        PERFORM rota._invalid(c_fn, 'retryables', 'must have as many elements as ids (' || v_n || ')',
            cardinality(_fail.retryables)::text);
    END IF;
    SELECT x.ord INTO v_bad FROM unnest(_fail.retry_ins) WITH ORDINALITY AS x(v, ord)
    WHERE x.v < interval '0' LIMIT 1;
    IF FOUND THEN
        PERFORM rota._invalid(c_fn, 'retry_in', 'must be >= 0', _fail.retry_ins[v_bad]::text);
    END IF;
    IF v_n = 0 THEN
        RETURN;
    END IF;

    WITH input AS (
        SELECT DISTINCT ON (u.id) u.id, u.attempt, u.error, u.retry_in, coalesce(u.retryable, true) AS retryable
        FROM unnest(_fail.ids, _fail.attempts, _fail.errors,
                    coalesce(_fail.retry_ins, array_fill(NULL::interval, ARRAY[v_n])),
                    coalesce(_fail.retryables, array_fill(true, ARRAY[v_n])))
             WITH ORDINALITY AS u(id, attempt, error, retry_in, retryable, ord)
        ORDER BY u.id, u.ord),
    cur AS (
        SELECT t.id, i.error,
               CASE WHEN t.cancel_requested THEN 'cancelled'
                    WHEN NOT i.retryable OR t.attempts - t.attempts_refunded >= t.max_attempts THEN 'failed'
                    ELSE 'queued' END AS new_state,
               now() + coalesce(i.retry_in,
                                rota._backoff(coalesce(q.backoff_base, interval '1 second'),
                                              coalesce(q.backoff_max, interval '1 hour'),
                                              t.attempts - t.attempts_refunded)) AS next_run
        FROM input i
        JOIN rota.tasks t ON t.id = i.id AND t.attempts = i.attempt AND t.lease_expires_at IS NOT NULL
        LEFT JOIN rota.queues q ON q.name = t.queue
        ORDER BY t.id
        FOR UPDATE OF t),
    upd AS (
        UPDATE rota.tasks t
        SET state = c.new_state,
            run_at = CASE WHEN c.new_state = 'queued' THEN c.next_run ELSE t.run_at END,
            finished_at = CASE WHEN c.new_state = 'queued' THEN NULL ELSE now() END,
            lease_expires_at = NULL,
            last_error = left(c.error, 65536)
        FROM cur c
        WHERE t.id = c.id AND t.lease_expires_at IS NOT NULL
        RETURNING t.id, t.queue, t.state, t.run_at, t.attempts, t.executor, t.started_at, t.slot, t.key_slot,
                  t.concurrency_key, t.last_error),
    history AS (
        INSERT INTO rota.task_attempts (task_id, attempt, executor, started_at, finished_at, outcome, error)
        SELECT upd.id, upd.attempts, upd.executor, upd.started_at, now(), 'failed', upd.last_error FROM upd)
    SELECT array_agg(upd.id ORDER BY upd.id), array_agg(upd.state ORDER BY upd.id),
           array_agg(DISTINCT upd.queue) FILTER (WHERE upd.state = 'queued' AND upd.run_at <= now()),
           array_agg(upd.queue ORDER BY upd.id), array_agg(upd.slot ORDER BY upd.id),
           array_agg(upd.key_slot ORDER BY upd.id), array_agg(upd.concurrency_key ORDER BY upd.id)
    INTO v_ids, v_states, v_notify, v_queues, v_slots, v_kslots, v_ckeys
    FROM upd;
    IF coalesce(cardinality(v_ids), 0) < v_n THEN
        PERFORM rota._check_attempts(c_fn, _fail.ids, _fail.attempts);
    END IF;
    -- the slot rows after the task rows, in one call for the batch
    PERFORM rota._release_holds(v_ids, v_queues, v_slots, v_kslots, v_ckeys, v_notify);
    RETURN QUERY SELECT u.i, u.s FROM unnest(v_ids, v_states) AS u(i, s);
END;
$fn$;
-- Records failed attempts in one statement: retry with backoff, or failed when out of attempts.
CREATE FUNCTION rota.fail_many(ids bigint[], attempts integer[], errors text[], retry_ins interval[] DEFAULT NULL,
                               retryables boolean[] DEFAULT NULL)
RETURNS TABLE(id bigint, state text)
LANGUAGE sql VOLATILE
AS $fn$
    SELECT f.id, f.state FROM rota._fail('rota.fail_many', $1, $2, $3, $4, $5) AS f;
$fn$;
COMMENT ON FUNCTION rota.fail_many(bigint[], integer[], text[], interval[], boolean[])
    IS 'Fails many running tasks in one statement; returns (id, new state) for those not fenced off.';

-- Records a failed attempt: back to queued with backoff, or failed; NULL when fenced off.
CREATE FUNCTION rota.fail(id bigint, attempt integer, error text, retry_in interval DEFAULT NULL,
                          retryable boolean DEFAULT true)
RETURNS text
LANGUAGE sql VOLATILE
AS $fn$
    SELECT f.state
    FROM rota._fail('rota.fail', ARRAY[$1], ARRAY[$2], ARRAY[$3], ARRAY[$4], ARRAY[coalesce($5, true)]) AS f;
$fn$;
COMMENT ON FUNCTION rota.fail(bigint, integer, text, interval, boolean)
    IS 'Fails a running task: queued again after backoff (or retry_in), or failed when out of attempts or not retryable; NULL when the attempt is stale.';

-- ---------------------------------------------------------------------------------
-- Cancel / retry
-- ---------------------------------------------------------------------------------

-- Cancels a queued task at once, or asks the executor of a running one to stop.
CREATE FUNCTION rota.cancel(id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_state text;
BEGIN
    UPDATE rota.tasks t
    SET state = CASE WHEN t.state = 'queued' THEN 'cancelled' ELSE t.state END,
        finished_at = CASE WHEN t.state = 'queued' THEN now() ELSE t.finished_at END,
        cancel_requested = (t.state = 'running')
    WHERE t.id = cancel.id AND t.state IN ('queued', 'running')
    RETURNING CASE WHEN t.state = 'running' THEN 'cancelling' ELSE t.state END INTO v_state;
    IF FOUND THEN
        RETURN v_state;
    END IF;
    SELECT t.state INTO v_state FROM rota.tasks t WHERE t.id = cancel.id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'rota.cancel: unknown task id %', coalesce(cancel.id::text, 'NULL') USING ERRCODE = 'RO002';
    END IF;
    RETURN v_state;
END;
$fn$;
COMMENT ON FUNCTION rota.cancel(bigint)
    IS 'Cancels a task: cancelled (was queued), cancelling (running; its executor learns at the next heartbeat), or the final state it already had.';

-- Puts a failed or cancelled task back in its queue with a fresh attempt budget.
CREATE FUNCTION rota.retry(id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_queue text;
    v_state text;
BEGIN
    UPDATE rota.tasks t
    SET state = 'queued', attempts_refunded = t.attempts, run_at = now(), finished_at = NULL,
        cancel_requested = false, result = NULL
    WHERE t.id = retry.id AND t.state IN ('failed', 'cancelled')
    RETURNING t.queue INTO v_queue;
    IF FOUND THEN
        PERFORM pg_notify('rota_enqueue', v_queue);
        RETURN;
    END IF;
    SELECT t.state INTO v_state FROM rota.tasks t WHERE t.id = retry.id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'rota.retry: unknown task id %', coalesce(retry.id::text, 'NULL') USING ERRCODE = 'RO002';
    END IF;
    RAISE EXCEPTION 'rota.retry: task % is %, only failed or cancelled tasks can be retried', retry.id, v_state
        USING ERRCODE = 'RO020';
END;
$fn$;
COMMENT ON FUNCTION rota.retry(bigint) IS 'Re-queues a failed or cancelled task with a fresh attempt budget (RO020 for other states).';

-- ---------------------------------------------------------------------------------
-- Scheduling helpers
-- ---------------------------------------------------------------------------------

-- Earliest run_at of a queued task in the given (unpaused) queues; a worker sleeps until then.
CREATE FUNCTION rota.next_run_at(queues text[])
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $fn$
#variable_conflict use_column
DECLARE
    v_missing text;
    v_next timestamptz;
BEGIN
    IF next_run_at.queues IS NULL OR cardinality(next_run_at.queues) = 0 THEN
        PERFORM rota._invalid('rota.next_run_at', 'queues', 'must name at least one queue', quote_nullable(next_run_at.queues::text));
    END IF;
    SELECT x INTO v_missing FROM unnest(next_run_at.queues) AS x
    WHERE NOT EXISTS (SELECT 1 FROM rota.queues q WHERE q.name = x) LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'rota.next_run_at: unknown queue %', coalesce(quote_literal(v_missing), 'NULL') USING ERRCODE = 'RO001';
    END IF;
    SELECT min(m.run_at) INTO v_next
    FROM rota.queues q
    CROSS JOIN LATERAL (SELECT t.run_at FROM rota.tasks t
                        WHERE t.state = 'queued' AND t.queue = q.name
                        ORDER BY t.run_at LIMIT 1) AS m
    WHERE q.name = ANY (next_run_at.queues) AND NOT q.paused;
    RETURN v_next;
END;
$fn$;
COMMENT ON FUNCTION rota.next_run_at(text[]) IS 'Earliest run_at of a queued task in these queues (paused ones excluded), or NULL.';

-- Deletes finished tasks older than their queue's retention, at most max_rows per call.
CREATE FUNCTION rota.prune(max_rows integer DEFAULT 10000)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_deleted integer;
BEGIN
    IF prune.max_rows IS NULL OR prune.max_rows < 1 THEN
        PERFORM rota._invalid('rota.prune', 'max_rows', 'must be >= 1', prune.max_rows::text);
    END IF;
    WITH victims AS (
        SELECT t.id FROM rota.tasks t
        JOIN rota.queues q ON q.name = t.queue
        WHERE t.state IN ('succeeded', 'failed', 'cancelled') AND t.finished_at < now() - q.retention
        LIMIT prune.max_rows
        FOR UPDATE OF t SKIP LOCKED)
    DELETE FROM rota.tasks t USING victims v WHERE t.id = v.id;
    GET DIAGNOSTICS v_deleted = ROW_COUNT;
    -- Key slot rows of keys with nothing running are recreated on demand by claim.
    DELETE FROM rota.key_slots k
    WHERE (k.queue, k.concurrency_key, k.slot) IN (
        SELECT f.queue, f.concurrency_key, f.slot FROM rota.key_slots f
        WHERE f.task_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM rota.key_slots b
                          WHERE b.queue = f.queue AND b.concurrency_key = f.concurrency_key
                            AND b.task_id IS NOT NULL)
        LIMIT prune.max_rows
        FOR UPDATE SKIP LOCKED);
    RETURN v_deleted;
END;
$fn$;
COMMENT ON FUNCTION rota.prune(integer) IS 'Deletes up to max_rows finished tasks older than their queue''s retention; returns how many.';

-- ---------------------------------------------------------------------------------
-- Steps
-- ---------------------------------------------------------------------------------

-- The recorded output of a step of a task, or NULL when it has not run yet.
CREATE FUNCTION rota.step(id bigint, attempt integer, name text)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $fn$
#variable_conflict use_column
DECLARE
    v_output jsonb;
BEGIN
    PERFORM rota._check_name('rota.step', 'name', step.name);
    PERFORM rota._check_attempts('rota.step', ARRAY[step.id], ARRAY[step.attempt]);
    SELECT s.output INTO v_output FROM rota.task_steps s WHERE s.task_id = step.id AND s.name = step.name;
    RETURN v_output;
END;
$fn$;
COMMENT ON FUNCTION rota.step(bigint, integer, text) IS 'Output recorded for a step of a task by an earlier attempt (or this one), NULL if none.';

-- Records a step's output under the current attempt; false (nothing written) when fenced off.
CREATE FUNCTION rota.record_step(id bigint, attempt integer, name text, output jsonb)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM rota._check_name('rota.record_step', 'name', record_step.name);
    PERFORM rota._check_size('rota.record_step', 'output', record_step.output);
    -- FOR SHARE conflicts with the UPDATE of a reap or stop, so the step lands only
    -- while this attempt still owns the task.
    PERFORM 1 FROM rota.tasks t
    WHERE t.id = record_step.id AND t.attempts = record_step.attempt AND t.lease_expires_at IS NOT NULL
    FOR SHARE;
    IF NOT FOUND THEN
        PERFORM rota._check_attempts('rota.record_step', ARRAY[record_step.id], ARRAY[record_step.attempt]);
        RETURN false;
    END IF;
    INSERT INTO rota.task_steps AS s (task_id, name, output, attempt)
    VALUES (record_step.id, record_step.name, record_step.output, record_step.attempt)
    ON CONFLICT (task_id, name) DO UPDATE
    SET output = EXCLUDED.output, attempt = EXCLUDED.attempt, recorded_at = now();
    RETURN true;
END;
$fn$;
COMMENT ON FUNCTION rota.record_step(bigint, integer, text, jsonb)
    IS 'Records a step checkpoint of a running task under its current attempt; false when the attempt is stale.';

-- ---------------------------------------------------------------------------------
-- Executors
-- ---------------------------------------------------------------------------------

-- Registers (or re-registers) an executor; clears a previous stop.
CREATE FUNCTION rota.register_executor(executor text, queues text[] DEFAULT NULL, host text DEFAULT NULL,
                                       pid integer DEFAULT NULL, meta jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    c_fn constant text := 'rota.register_executor';
    v_q text;
BEGIN
    PERFORM rota._check_name(c_fn, 'executor', register_executor.executor);
    IF register_executor.queues IS NOT NULL THEN
        FOREACH v_q IN ARRAY register_executor.queues LOOP
            PERFORM rota._check_name(c_fn, 'queues', v_q);
        END LOOP;
    END IF;
    IF register_executor.pid <= 0 THEN
        PERFORM rota._invalid(c_fn, 'pid', 'must be > 0', register_executor.pid::text);
    END IF;
    IF char_length(register_executor.host) > 255 THEN
        PERFORM rota._invalid(c_fn, 'host', 'must be at most 255 characters', left(register_executor.host, 40) || '...');
    END IF;
    IF register_executor.meta IS NOT NULL AND jsonb_typeof(register_executor.meta) <> 'object' THEN
        PERFORM rota._invalid(c_fn, 'meta', 'must be a JSON object', register_executor.meta::text);
    END IF;
    PERFORM rota._check_size(c_fn, 'meta', register_executor.meta);
    INSERT INTO rota.executors AS e (id, host, pid, queues, meta)
    VALUES (register_executor.executor, register_executor.host, register_executor.pid, register_executor.queues,
            coalesce(register_executor.meta, '{}'))
    ON CONFLICT (id) DO UPDATE
    SET host = EXCLUDED.host, pid = EXCLUDED.pid, queues = EXCLUDED.queues, meta = EXCLUDED.meta,
        started_at = now(), last_heartbeat_at = now(), stopped_at = NULL;
END;
$fn$;
COMMENT ON FUNCTION rota.register_executor(text, text[], text, integer, jsonb)
    IS 'Registers an executor (upsert); re-registering clears stopped_at. Claims need a registered executor.';

-- Renews the leases of an executor's running tasks; returns the ids it must abort.
CREATE FUNCTION rota.heartbeat(executor text, held bigint[] DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
BEGIN
    UPDATE rota.executors e SET last_heartbeat_at = now() WHERE e.id = heartbeat.executor;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'rota.heartbeat: unknown executor %', coalesce(quote_literal(heartbeat.executor), 'NULL')
            USING ERRCODE = 'RO004';
    END IF;
    -- SKIP LOCKED: a row locked right now is being completed, failed or reaped; the next
    -- heartbeat renews it if it is still ours, and waiting could deadlock with a batch.
    -- With `held`, only the tasks the process really runs are renewed: a process restarted
    -- under the id of a killed one must not keep the dead one's tasks alive forever.
    RETURN QUERY
    WITH mine AS (
        SELECT t.id, t.queue FROM rota.tasks t
        WHERE t.executor = heartbeat.executor AND t.state = 'running'
          AND (heartbeat.held IS NULL OR t.id = ANY (heartbeat.held))
        FOR UPDATE SKIP LOCKED),
    renewed AS (
        UPDATE rota.tasks t
        SET lease_expires_at = now() + coalesce(q.lease, interval '30 seconds')
        FROM mine m LEFT JOIN rota.queues q ON q.name = m.queue
        WHERE t.id = m.id
        RETURNING t.id, t.cancel_requested)
    SELECT r.id FROM renewed r WHERE r.cancel_requested
    UNION
    SELECT h FROM unnest(heartbeat.held) AS h
    WHERE h IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM rota.tasks t
                      WHERE t.id = h AND t.executor = heartbeat.executor AND t.lease_expires_at IS NOT NULL
                        AND NOT t.cancel_requested);
END;
$fn$;
COMMENT ON FUNCTION rota.heartbeat(text, bigint[])
    IS 'Renews the leases of the executor''s running tasks; returns ids to abort: cancel requested, and ids of held that it no longer runs.';

-- Releases an executor's running tasks back to their queues without spending an attempt.
CREATE FUNCTION rota.stop_executor(executor text)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_count integer;
    v_notify text[];
    v_ids bigint[];
    v_queues text[];
    v_slots integer[];
    v_kslots integer[];
    v_ckeys text[];
BEGIN
    UPDATE rota.executors e SET stopped_at = now() WHERE e.id = stop_executor.executor;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'rota.stop_executor: unknown executor %', coalesce(quote_literal(stop_executor.executor), 'NULL')
            USING ERRCODE = 'RO004';
    END IF;
    WITH mine AS (
        SELECT t.id FROM rota.tasks t
        WHERE t.executor = stop_executor.executor AND t.state = 'running'
        ORDER BY t.id
        FOR UPDATE),
    upd AS (
        UPDATE rota.tasks t
        SET state = CASE WHEN t.cancel_requested THEN 'cancelled' ELSE 'queued' END,
            attempts_refunded = t.attempts_refunded + 1,
            finished_at = CASE WHEN t.cancel_requested THEN now() END,
            run_at = CASE WHEN t.cancel_requested THEN t.run_at ELSE now() END,
            lease_expires_at = NULL
        FROM mine m
        WHERE t.id = m.id AND t.executor = stop_executor.executor AND t.state = 'running'
        RETURNING t.id, t.queue, t.state, t.attempts, t.executor, t.started_at, t.slot, t.key_slot, t.concurrency_key),
    history AS (
        INSERT INTO rota.task_attempts (task_id, attempt, executor, started_at, finished_at, outcome, error)
        SELECT u.id, u.attempts, u.executor, u.started_at, now(), 'released', 'released by rota.stop_executor'
        FROM upd u)
    SELECT count(*), array_agg(DISTINCT upd.queue) FILTER (WHERE upd.state = 'queued'),
           array_agg(upd.id ORDER BY upd.id), array_agg(upd.queue ORDER BY upd.id),
           array_agg(upd.slot ORDER BY upd.id), array_agg(upd.key_slot ORDER BY upd.id),
           array_agg(upd.concurrency_key ORDER BY upd.id)
    INTO v_count, v_notify, v_ids, v_queues, v_slots, v_kslots, v_ckeys
    FROM upd;
    -- the slot rows after the task rows, in one call for the batch
    PERFORM rota._release_holds(v_ids, v_queues, v_slots, v_kslots, v_ckeys, v_notify);
    RETURN v_count;
END;
$fn$;
COMMENT ON FUNCTION rota.stop_executor(text)
    IS 'Marks an executor stopped and releases its running tasks to queued (attempt not charged); returns how many.';

-- Recovers running tasks whose lease expired: queued with backoff, or failed when out of attempts.
CREATE FUNCTION rota.reap()
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_count integer;
    v_notify text[];
    v_ids bigint[];
    v_queues text[];
    v_slots integer[];
    v_kslots integer[];
    v_ckeys text[];
BEGIN
    -- SKIP LOCKED: a locked row is being completed, failed or renewed right now, and
    -- several reapers (one per replica) must not queue up behind each other.
    WITH expired AS (
        SELECT t.id,
               CASE WHEN t.cancel_requested THEN 'cancelled'
                    WHEN t.attempts - t.attempts_refunded >= t.max_attempts THEN 'failed'
                    ELSE 'queued' END AS new_state,
               now() + rota._backoff(coalesce(q.backoff_base, interval '1 second'),
                                     coalesce(q.backoff_max, interval '1 hour'),
                                     t.attempts - t.attempts_refunded) AS next_run
        FROM rota.tasks t
        LEFT JOIN rota.queues q ON q.name = t.queue
        WHERE t.state = 'running' AND t.lease_expires_at < now()
        ORDER BY t.id
        LIMIT 10000
        FOR UPDATE OF t SKIP LOCKED),
    upd AS (
        UPDATE rota.tasks t
        SET state = x.new_state,
            run_at = CASE WHEN x.new_state = 'queued' THEN x.next_run ELSE t.run_at END,
            finished_at = CASE WHEN x.new_state = 'queued' THEN NULL ELSE now() END,
            lease_expires_at = NULL,
            last_error = 'lease expired (executor ' || t.executor || ')'
        FROM expired x
        WHERE t.id = x.id
        RETURNING t.id, t.queue, t.state, t.run_at, t.attempts, t.executor, t.started_at, t.slot, t.key_slot,
                  t.concurrency_key, t.last_error),
    history AS (
        INSERT INTO rota.task_attempts (task_id, attempt, executor, started_at, finished_at, outcome, error)
        SELECT u.id, u.attempts, u.executor, u.started_at, now(), 'lease_expired', u.last_error FROM upd u)
    SELECT count(*), array_agg(DISTINCT upd.queue) FILTER (WHERE upd.state = 'queued' AND upd.run_at <= now()),
           array_agg(upd.id ORDER BY upd.id), array_agg(upd.queue ORDER BY upd.id),
           array_agg(upd.slot ORDER BY upd.id), array_agg(upd.key_slot ORDER BY upd.id),
           array_agg(upd.concurrency_key ORDER BY upd.id)
    INTO v_count, v_notify, v_ids, v_queues, v_slots, v_kslots, v_ckeys
    FROM upd;
    -- the slot rows after the task rows, in one call for the batch
    PERFORM rota._release_holds(v_ids, v_queues, v_slots, v_kslots, v_ckeys, v_notify);
    RETURN v_count;
END;
$fn$;
COMMENT ON FUNCTION rota.reap()
    IS 'Recovers running tasks whose lease expired (up to 10000 per call): queued with backoff, failed when out of attempts, cancelled if a cancel was requested.';

-- ---------------------------------------------------------------------------------
-- Views
-- ---------------------------------------------------------------------------------

CREATE VIEW rota.queue_stats AS
SELECT q.name AS queue,
       coalesce(s.ready, 0) AS ready,
       coalesce(s.delayed, 0) AS delayed,
       coalesce(s.running, 0) AS running,
       coalesce(s.succeeded, 0) AS succeeded,
       coalesce(s.failed, 0) AS failed,
       coalesce(s.cancelled, 0) AS cancelled,
       now() - s.oldest_ready AS oldest_ready_age,
       q.concurrency,
       (SELECT count(*) FROM rota.queue_slots qs WHERE qs.queue = q.name AND qs.task_id IS NOT NULL) AS slots_in_use,
       q.rate_limit,
       q.rate_period,
       q.concurrency_key_limit,
       q.paused
FROM rota.queues q
LEFT JOIN (
    SELECT t.queue,
           count(*) FILTER (WHERE t.state = 'queued' AND t.run_at <= now()) AS ready,
           count(*) FILTER (WHERE t.state = 'queued' AND t.run_at > now()) AS delayed,
           count(*) FILTER (WHERE t.state = 'running') AS running,
           count(*) FILTER (WHERE t.state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE t.state = 'failed') AS failed,
           count(*) FILTER (WHERE t.state = 'cancelled') AS cancelled,
           min(t.run_at) FILTER (WHERE t.state = 'queued' AND t.run_at <= now()) AS oldest_ready
    FROM rota.tasks t
    GROUP BY t.queue) AS s ON s.queue = q.name;
COMMENT ON VIEW rota.queue_stats IS 'Per queue: tasks by state, age of the oldest ready task, limits and slots in use.';

CREATE VIEW rota.failures AS
SELECT a.task_id, t.queue, t.task, a.attempt, a.executor, a.outcome, a.error, a.started_at,
       a.finished_at AS failed_at,
       (t.state = 'failed' AND a.attempt = t.attempts) AS final
FROM rota.task_attempts a
JOIN rota.tasks t ON t.id = a.task_id
WHERE a.outcome IN ('failed', 'lease_expired');
COMMENT ON VIEW rota.failures IS 'Every failed or lease-expired attempt; final is true for the attempt that left the task failed.';

CREATE VIEW rota.executor_status AS
SELECT e.id AS executor, e.host, e.pid, e.queues,
       (e.stopped_at IS NULL
        AND e.last_heartbeat_at > now() - 2 * coalesce((SELECT max(q.lease) FROM rota.queues q), interval '30 seconds'))
           AS alive,
       (e.stopped_at IS NOT NULL) AS stopped,
       (SELECT count(*) FROM rota.tasks t WHERE t.executor = e.id AND t.state = 'running') AS running,
       e.last_heartbeat_at, e.started_at, e.stopped_at, e.meta
FROM rota.executors e;
COMMENT ON VIEW rota.executor_status IS 'Executors; alive means not stopped and a heartbeat within twice the longest queue lease.';

$migration$);
