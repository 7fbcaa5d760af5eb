-- 0008 observability: outcome counters that survive pruning, and alert thresholds.
--
-- rota.metrics() and rota.alerts must not scan the history of finished tasks, so the
-- batch paths (complete, fail, reap) count outcomes as they happen, once per statement,
-- into rota._queue_counts. A single counter row per queue would be a hot row every
-- completion from every worker must lock; instead each backend writes the row of its
-- shard (pg_backend_pid() % 16) in the current minute, and readers sum the rows.
-- Minute buckets also answer "how many in the last N minutes" (retry storms, stuck
-- queues, the dashboard's charts). rota.prune folds buckets older than two hours into
-- one row per queue (bucket -infinity), so the table stays small and totals stay exact.
SELECT rota._migrate(8, 'observability', $migration$

CREATE TABLE rota._queue_counts (
    queue           text NOT NULL,
    bucket          timestamptz NOT NULL,
    shard           smallint NOT NULL,
    -- tasks that ended succeeded
    succeeded       bigint NOT NULL DEFAULT 0,
    -- attempts that failed or whose lease expired (each one, retried or not)
    attempts_failed bigint NOT NULL DEFAULT 0,
    -- failed attempts that put their task back in the queue
    retried         bigint NOT NULL DEFAULT 0,
    -- tasks that ended failed (the dead letters)
    dead            bigint NOT NULL DEFAULT 0,
    -- tasks that ended cancelled while running
    cancelled       bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (queue, bucket, shard)
) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);
COMMENT ON TABLE rota._queue_counts IS 'Task outcome counters per queue, minute and backend shard; summed by rota.metrics().';

-- The dashboard's failures page: the latest failed attempts first, without sorting them all.
CREATE INDEX task_attempts_finished_idx ON rota.task_attempts (finished_at);

-- Alert thresholds. rota.define_queue / rota.define_schedule write them (their parameter
-- defaults are the defaults); the column defaults only fill rows that exist already.
ALTER TABLE rota.queues
    ADD COLUMN alert_stuck_after interval NOT NULL DEFAULT interval '5 minutes'
        CONSTRAINT queues_alert_stuck_after_positive CHECK (alert_stuck_after > interval '0'),
    ADD COLUMN alert_failures_per_minute numeric NOT NULL DEFAULT 60
        CONSTRAINT queues_alert_failures_per_minute_positive CHECK (alert_failures_per_minute > 0),
    ADD COLUMN alert_failure_ratio numeric NOT NULL DEFAULT 0.5
        CONSTRAINT queues_alert_failure_ratio_range CHECK (alert_failure_ratio > 0 AND alert_failure_ratio <= 1),
    ADD COLUMN alert_failure_window interval NOT NULL DEFAULT interval '5 minutes'
        CONSTRAINT queues_alert_failure_window_range
            CHECK (alert_failure_window >= interval '1 minute' AND alert_failure_window <= interval '1 hour'),
    ADD COLUMN alert_dead_per_hour integer NOT NULL DEFAULT 10
        CONSTRAINT queues_alert_dead_per_hour_positive CHECK (alert_dead_per_hour > 0),
    ADD COLUMN alert_unreaped_after interval NOT NULL DEFAULT interval '1 minute'
        CONSTRAINT queues_alert_unreaped_after_nonnegative CHECK (alert_unreaped_after >= interval '0');
ALTER TABLE rota.queues
    ALTER COLUMN alert_stuck_after DROP DEFAULT,
    ALTER COLUMN alert_failures_per_minute DROP DEFAULT,
    ALTER COLUMN alert_failure_ratio DROP DEFAULT,
    ALTER COLUMN alert_failure_window DROP DEFAULT,
    ALTER COLUMN alert_dead_per_hour DROP DEFAULT,
    ALTER COLUMN alert_unreaped_after DROP DEFAULT;

ALTER TABLE rota.schedules
    ADD COLUMN alert_late_after interval NOT NULL DEFAULT interval '1 minute'
        CONSTRAINT schedules_alert_late_after_positive CHECK (alert_late_after > interval '0');
ALTER TABLE rota.schedules ALTER COLUMN alert_late_after DROP DEFAULT;

$migration$);
