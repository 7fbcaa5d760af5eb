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

-- The limits and defaults have no column DEFAULTs: rota.define_queue writes every one, and
-- its parameter defaults are the one place where a queue's defaults live.
CREATE TABLE rota.queues (
    name                  text PRIMARY KEY
        CONSTRAINT queues_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    concurrency           integer CONSTRAINT queues_concurrency_positive CHECK (concurrency > 0),
    rate_limit            integer CONSTRAINT queues_rate_limit_positive CHECK (rate_limit > 0),
    rate_period           interval CONSTRAINT queues_rate_period_positive CHECK (rate_period > interval '0'),
    max_attempts          integer NOT NULL CONSTRAINT queues_max_attempts_positive CHECK (max_attempts >= 1),
    lease                 interval NOT NULL
        CONSTRAINT queues_lease_positive CHECK (lease > interval '0'),
    concurrency_key_limit integer CONSTRAINT queues_key_limit_positive CHECK (concurrency_key_limit > 0),
    backoff_base          interval NOT NULL
        CONSTRAINT queues_backoff_base_positive CHECK (backoff_base > interval '0'),
    backoff_max           interval NOT NULL,
    retention             interval NOT NULL
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
CREATE TABLE rota._queue_slots (
    queue      text NOT NULL,
    slot       integer NOT NULL,
    task_id    bigint,
    over_limit boolean NOT NULL DEFAULT false,
    PRIMARY KEY (queue, slot)
) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

-- One row per allowed start in a rate window. A claim may only take a token unused for
-- at least rate_period and stamps it, so any window of rate_period holds at most
-- rate_limit starts, exactly, with SKIP LOCKED instead of serialization.
CREATE TABLE rota._queue_rate_tokens (
    queue   text NOT NULL,
    token   integer NOT NULL,
    used_at timestamptz NOT NULL DEFAULT '-infinity',
    PRIMARY KEY (queue, token)
) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

-- concurrency_key_limit rows per (queue, concurrency key), created on first use by a
-- claim, deleted by prune once all are free. Rows above a lowered limit are never taken
-- again; while busy they count against the limit (rota._take_key_slot).
CREATE TABLE rota._key_slots (
    queue           text NOT NULL,
    concurrency_key text NOT NULL,
    slot            integer NOT NULL,
    task_id         bigint,
    PRIMARY KEY (queue, concurrency_key, slot)
) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

$migration$);
