SELECT rota._apply_code('counts', $code$

-- Adds one batch's outcomes to the outcome counters (migration 0008): one upsert per
-- queue into this backend's shard row of the current minute, so completions of different
-- workers do not wait on one counter row. p_queues/p_states: each task's queue and new
-- state (succeeded, cancelled, queued = retried, failed = dead); p_attempts_failed: the
-- batch is of failed attempts (fail, reap) rather than completions.
CREATE OR REPLACE FUNCTION rota._count_outcomes(p_queues text[], p_states text[], p_attempts_failed boolean)
RETURNS void
LANGUAGE sql VOLATILE
AS $fn$
    INSERT INTO rota._queue_counts AS c (queue, bucket, shard, succeeded, attempts_failed, retried, dead, cancelled)
    SELECT o.queue, date_trunc('minute', now()), (pg_backend_pid() % 16)::smallint,
           count(*) FILTER (WHERE o.state = 'succeeded'),
           CASE WHEN p_attempts_failed THEN count(*) ELSE 0 END,
           count(*) FILTER (WHERE o.state = 'queued'),
           count(*) FILTER (WHERE o.state = 'failed'),
           count(*) FILTER (WHERE o.state = 'cancelled')
    FROM unnest(p_queues, p_states) AS o(queue, state)
    GROUP BY o.queue
    -- one lock order for batches that span queues
    ORDER BY o.queue
    ON CONFLICT (queue, bucket, shard) DO UPDATE
    SET succeeded = c.succeeded + EXCLUDED.succeeded,
        attempts_failed = c.attempts_failed + EXCLUDED.attempts_failed,
        retried = c.retried + EXCLUDED.retried,
        dead = c.dead + EXCLUDED.dead,
        cancelled = c.cancelled + EXCLUDED.cancelled;
$fn$;

-- Folds counter rows older than two hours (older than any alert or chart window) into
-- one row per queue at bucket -infinity, at most p_max_rows per call (called by prune).
CREATE OR REPLACE FUNCTION rota._fold_counts(p_max_rows integer)
RETURNS void
LANGUAGE sql VOLATILE
AS $fn$
    WITH old AS (
        DELETE FROM rota._queue_counts c
        WHERE (c.queue, c.bucket, c.shard) IN (
            SELECT o.queue, o.bucket, o.shard FROM rota._queue_counts o
            WHERE o.bucket < now() - interval '2 hours' AND o.bucket > '-infinity'
            LIMIT p_max_rows
            FOR UPDATE SKIP LOCKED)
        RETURNING c.*)
    INSERT INTO rota._queue_counts AS c (queue, bucket, shard, succeeded, attempts_failed, retried, dead, cancelled)
    SELECT o.queue, '-infinity', 0, sum(o.succeeded), sum(o.attempts_failed), sum(o.retried), sum(o.dead),
           sum(o.cancelled)
    FROM old o
    GROUP BY o.queue
    ORDER BY o.queue
    ON CONFLICT (queue, bucket, shard) DO UPDATE
    SET succeeded = c.succeeded + EXCLUDED.succeeded,
        attempts_failed = c.attempts_failed + EXCLUDED.attempts_failed,
        retried = c.retried + EXCLUDED.retried,
        dead = c.dead + EXCLUDED.dead,
        cancelled = c.cancelled + EXCLUDED.cancelled;
$fn$;

$code$);
