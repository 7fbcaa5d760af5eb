SELECT rota._apply_code('counts', $code$

-- Adds counter rows to the ones of the same (queue, bucket, shard), in one upsert; the
-- rows are taken in key order, so two batches that span queues lock them in one order.
-- (PL/pgSQL rather than SQL for this and _count_outcomes: their plans are cached, where a
-- SQL function's would be made again on every completion.)
CREATE OR REPLACE FUNCTION rota._add_counts(p_rows rota._queue_counts[])
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    INSERT INTO rota._queue_counts AS c
    SELECT r.* FROM unnest(p_rows) AS r ORDER BY r.queue, r.bucket, r.shard
    ON CONFLICT (queue, bucket, shard) DO UPDATE
    SET succeeded = c.succeeded + EXCLUDED.succeeded,
        attempts_failed = c.attempts_failed + EXCLUDED.attempts_failed,
        retried = c.retried + EXCLUDED.retried,
        dead = c.dead + EXCLUDED.dead,
        cancelled = c.cancelled + EXCLUDED.cancelled;
END;
$fn$;

-- Adds one batch's outcomes to the outcome counters (migration 0008): one row per queue
-- in this backend's shard of the current minute, so completions of different workers do
-- not wait on one counter row. p_queues/p_states: each task's queue and new state
-- (succeeded, cancelled, queued = retried, failed = dead); p_attempts_failed: the batch
-- is of failed attempts (fail, reap) rather than completions.
CREATE OR REPLACE FUNCTION rota._count_outcomes(p_queues text[], p_states text[], p_attempts_failed boolean)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    PERFORM rota._add_counts(array_agg(b.r))
    FROM (SELECT ROW(o.queue, date_trunc('minute', now()), (pg_backend_pid() % 16)::smallint,
                     count(*) FILTER (WHERE o.state = 'succeeded'),
                     CASE WHEN p_attempts_failed THEN count(*) ELSE 0 END,
                     count(*) FILTER (WHERE o.state = 'queued'),
                     count(*) FILTER (WHERE o.state = 'failed'),
                     count(*) FILTER (WHERE o.state = 'cancelled'))::rota._queue_counts AS r
          FROM unnest(p_queues, p_states) AS o(queue, state)
          GROUP BY o.queue) AS b;
END;
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
        RETURNING c.*),
    folded AS (
        SELECT ROW(o.queue, '-infinity'::timestamptz, 0::smallint, sum(o.succeeded), sum(o.attempts_failed),
                   sum(o.retried), sum(o.dead), sum(o.cancelled))::rota._queue_counts AS r
        FROM old o GROUP BY o.queue)
    SELECT rota._add_counts(array_agg(f.r)) FROM folded f HAVING count(*) > 0;
$fn$;

$code$);
