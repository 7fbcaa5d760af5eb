SELECT rota._apply_code('executors_reap', $code$

-- Registers (or re-registers) an executor; clears a previous stop.
CREATE OR REPLACE FUNCTION rota.register_executor(executor text, queues text[] DEFAULT NULL, host text DEFAULT NULL,
                                       pid integer DEFAULT NULL, meta jsonb DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    c_fn constant text := 'rota.register_executor';
    v_index integer;
BEGIN
    PERFORM rota._check_name(c_fn, 'executor', register_executor.executor);
    IF cardinality(register_executor.queues) > 1000 THEN
        PERFORM rota._invalid(c_fn, 'queues', 'must name at most 1000 queues', cardinality(register_executor.queues)::text);
    END IF;
    IF register_executor.queues IS NOT NULL THEN
        FOR v_index IN 1 .. cardinality(register_executor.queues) LOOP
            PERFORM rota._check_name(c_fn, 'queues[' || v_index || ']', register_executor.queues[v_index]);
        END LOOP;
    END IF;
    IF register_executor.pid <= 0 THEN
        PERFORM rota._invalid(c_fn, 'pid', 'must be > 0', register_executor.pid::text);
    END IF;
    IF char_length(register_executor.host) > 255 THEN
        PERFORM rota._invalid(c_fn, 'host', 'must be at most 255 characters', quote_literal(register_executor.host));
    END IF;
    IF register_executor.meta IS NOT NULL AND jsonb_typeof(register_executor.meta) <> 'object' THEN
        -- only its type: a document is never echoed
        PERFORM rota._invalid(c_fn, 'meta', 'must be a JSON object', 'a JSON ' || jsonb_typeof(register_executor.meta));
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

-- Renews one lease that rota.heartbeat found locked, waiting for the lock at most
-- lock_timeout; the task's cancel_requested when renewed, NULL when not. A heartbeat that
-- only skipped locked rows could miss a lease again and again while other transactions
-- lock the row one after the other (as the ends of a parent's children did before
-- rota.wait_for_children took that lock upon itself). The wait is bounded, so a lock holder
-- that waits for a row this heartbeat renewed cannot deadlock with it: that renewal is
-- left to the next heartbeat.
CREATE OR REPLACE FUNCTION rota._renew_locked_lease(p_executor text, p_id bigint, p_token uuid)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET lock_timeout = '100ms'
AS $fn$
DECLARE
    v_cancel_requested boolean;
BEGIN
    UPDATE rota.tasks t
    SET lease_expires_at = now() + least(q.lease, interval '1 day')
    FROM rota.queues q
    WHERE t.id = p_id AND t.lease_token = p_token AND t.executor = p_executor AND t.lease_expires_at IS NOT NULL
      AND q.name = t.queue
    RETURNING t.cancel_requested INTO v_cancel_requested;
    RETURN v_cancel_requested;
EXCEPTION WHEN lock_not_available THEN
    RETURN NULL;
END;
$fn$;

-- Renews the leases of the tasks an executor holds; returns the ids it must abort.
DROP FUNCTION IF EXISTS rota.heartbeat(text, bigint[]);
CREATE OR REPLACE FUNCTION rota.heartbeat(executor text, held bigint[] DEFAULT NULL, tokens uuid[] DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_renewed bigint[];
    v_abort bigint[];
    v_id bigint;
    v_token uuid;
BEGIN
    IF heartbeat.held IS NULL OR heartbeat.tokens IS NULL THEN
        PERFORM rota._invalid('rota.heartbeat', 'held/tokens',
                              'are required (the ids and lease_tokens rota.claim returned; empty arrays when none)', NULL);
    END IF;
    PERFORM rota._check_same_length('rota.heartbeat', 'tokens', cardinality(heartbeat.tokens), 'held',
                                    cardinality(heartbeat.held));
    UPDATE rota.executors e SET last_heartbeat_at = now() WHERE e.id = heartbeat.executor;
    IF NOT FOUND THEN
        PERFORM rota._raise_unknown('rota.heartbeat', 'executor', heartbeat.executor, 'RO004');
    END IF;
    -- SKIP LOCKED: a row locked right now may be being completed, failed or reaped, and
    -- waiting here could deadlock with a batch; those rows are tried once more below, one
    -- by one, with a bounded wait. Only the tasks the process really runs (the claims whose
    -- tokens it holds) are renewed: a process restarted under the id of a killed one must
    -- not keep the dead one's tasks alive forever.
    WITH mine AS (
        SELECT t.id, t.queue FROM rota.tasks t
        JOIN unnest(heartbeat.held, heartbeat.tokens) AS h(id, token) ON t.id = h.id AND t.lease_token = h.token
        WHERE t.executor = heartbeat.executor AND t.lease_expires_at IS NOT NULL
        FOR UPDATE OF t SKIP LOCKED),
    renewed AS (
        UPDATE rota.tasks t
        -- the bound of lease: a row from before it existed cannot overflow the renewal
        SET lease_expires_at = now() + least(q.lease, interval '1 day')
        FROM mine m JOIN rota.queues q ON q.name = m.queue
        WHERE t.id = m.id
        RETURNING t.id, t.cancel_requested)
    SELECT coalesce(array_agg(r.id), '{}'), coalesce(array_agg(r.id) FILTER (WHERE r.cancel_requested), '{}')
    INTO v_renewed, v_abort
    FROM renewed r;
    -- (an anti-join, and only when some were left: a heartbeat may hold thousands of tasks;
    -- a held task that is no longer ours is not renewed there either, and is reported below)
    FOR v_id, v_token IN
        SELECT h.id, h.token FROM unnest(heartbeat.held, heartbeat.tokens) AS h(id, token)
        WHERE cardinality(v_renewed) < cardinality(heartbeat.held)
          AND NOT EXISTS (SELECT 1 FROM unnest(v_renewed) AS r(id) WHERE r.id = h.id)
    LOOP
        IF rota._renew_locked_lease(heartbeat.executor, v_id, v_token) THEN
            v_abort := v_abort || v_id;
        END IF;
    END LOOP;
    RETURN QUERY
    SELECT a.id FROM unnest(v_abort) AS a(id)
    UNION
    SELECT h.id FROM unnest(heartbeat.held, heartbeat.tokens) AS h(id, token)
    WHERE h.id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM rota.tasks t
                      WHERE t.id = h.id AND t.executor = heartbeat.executor AND t.lease_token = h.token
                        AND NOT t.cancel_requested);
END;
$fn$;
COMMENT ON FUNCTION rota.heartbeat(text, bigint[], uuid[])
    IS 'Renews the leases of the held tasks (ids with the lease tokens of their claims) the executor runs; returns ids to abort: cancel requested, and ids of held that it no longer runs under that token.';

-- Releases an executor's running tasks back to their queues without spending an attempt.
CREATE OR REPLACE FUNCTION rota.stop_executor(executor text)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_released integer;
BEGIN
    UPDATE rota.executors e SET stopped_at = now() WHERE e.id = stop_executor.executor;
    IF NOT FOUND THEN
        PERFORM rota._raise_unknown('rota.stop_executor', 'executor', stop_executor.executor, 'RO004');
    END IF;
    -- locked in id order, as complete and fail lock theirs
    SELECT count(*) INTO v_released
    FROM rota._release_tasks(ARRAY(SELECT t.id FROM rota.tasks t
                                   WHERE t.executor = stop_executor.executor AND t.state = 'running'
                                   ORDER BY t.id
                                   FOR UPDATE),
                             now(), 'released by rota.stop_executor');
    RETURN v_released;
END;
$fn$;
COMMENT ON FUNCTION rota.stop_executor(text)
    IS 'Marks an executor stopped and releases its running tasks to queued (attempt not charged); returns how many.';

-- Recovers running tasks whose lease expired: queued with backoff, or failed when out of attempts.
CREATE OR REPLACE FUNCTION rota.reap()
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_expired_ids bigint[];
    v_errors text[];
BEGIN
    -- SKIP LOCKED: a locked row is being completed, failed or renewed right now, and
    -- several reapers (one per replica) must not queue up behind each other.
    SELECT array_agg(x.id ORDER BY x.id), array_agg(x.error ORDER BY x.id)
    INTO v_expired_ids, v_errors
    FROM (SELECT t.id, 'lease expired (executor ' || t.executor || ')' AS error
          FROM rota.tasks t
          WHERE t.state = 'running' AND t.lease_expires_at < now()
          ORDER BY t.id
          LIMIT 10000
          FOR UPDATE SKIP LOCKED) AS x;
    IF v_expired_ids IS NULL THEN
        RETURN 0;
    END IF;
    RETURN (SELECT count(*)
            FROM rota._after_failure(v_expired_ids, v_errors,
                                     array_fill(true, ARRAY[cardinality(v_expired_ids)]),
                                     array_fill(NULL::interval, ARRAY[cardinality(v_expired_ids)]),
                                     'lease_expired'));
END;
$fn$;
COMMENT ON FUNCTION rota.reap()
    IS 'Recovers running tasks whose lease expired (up to 10000 per call): queued with backoff, failed when out of attempts, cancelled if a cancel was requested.';

-- Deletes the count rows of idle keys (nothing running, nothing queued) among the first
-- p_max count rows after (p_after_queue, p_after_key) in key order (NULL: from the first);
-- returns how many rows it read and the last one. Idle rows are locked first, skipping rows
-- in use (a claim, a completion, or a producer's open enqueue holding KEY SHARE), then
-- checked again in a new snapshot: every producer that held a row has committed by then, so
-- its queued task is seen, and a producer that comes later waits for this delete and creates
-- the row again (rota._keep_key_count). The queued-task probe is a LATERAL ... LIMIT 1, so
-- that it stays one index probe per row (an anti join could hash every queued task of every
-- queue). Names are never empty, so ('', '') is below every key.
CREATE OR REPLACE FUNCTION rota._sweep_idle_keys(p_after_queue text, p_after_key text, p_max integer,
                                                 OUT rows_read integer, OUT last_queue text, OUT last_key text)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_idle_rows tid[];
BEGIN
    WITH w AS MATERIALIZED (
        SELECT k.queue, k.concurrency_key FROM rota._key_counts k
        WHERE (k.queue, k.concurrency_key) > (coalesce(p_after_queue, ''), coalesce(p_after_key, ''))
        ORDER BY k.queue, k.concurrency_key
        LIMIT p_max)
    SELECT (SELECT count(*) FROM w), l.queue, l.concurrency_key INTO rows_read, last_queue, last_key
    FROM (SELECT w.queue, w.concurrency_key FROM w ORDER BY w.queue DESC, w.concurrency_key DESC LIMIT 1) AS l;
    IF NOT FOUND THEN
        rows_read := 0;
        RETURN;
    END IF;
    SELECT array_agg(i.ctid) INTO v_idle_rows
    FROM (SELECT k.ctid FROM rota._key_counts k
          LEFT JOIN LATERAL (SELECT 1 AS one FROM rota.tasks t
                             WHERE t.state = 'queued' AND t.queue = k.queue AND t.concurrency_key = k.concurrency_key
                             LIMIT 1) AS q ON true
          WHERE (k.queue, k.concurrency_key) > (coalesce(p_after_queue, ''), coalesce(p_after_key, ''))
            AND (k.queue, k.concurrency_key) <= (last_queue, last_key)
            AND k.running = 0 AND q.one IS NULL
          FOR UPDATE OF k SKIP LOCKED) AS i;
    IF v_idle_rows IS NOT NULL THEN
        DELETE FROM rota._key_counts k
        WHERE k.ctid = ANY (ARRAY(
            SELECT c.ctid FROM rota._key_counts c
            LEFT JOIN LATERAL (SELECT 1 AS one FROM rota.tasks t
                               WHERE t.state = 'queued' AND t.queue = c.queue AND t.concurrency_key = c.concurrency_key
                               LIMIT 1) AS q ON true
            WHERE c.ctid = ANY (v_idle_rows) AND c.running = 0 AND q.one IS NULL));
    END IF;
END;
$fn$;

-- Deletes finished tasks older than their queue's retention, at most max_rows per call;
-- then, on a call that found none due or once a minute, deletes the count rows of idle keys
-- among the next max_rows and folds old counter buckets.
CREATE OR REPLACE FUNCTION rota.prune(max_rows integer DEFAULT 10000)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_ids bigint[];
    v_deleted integer;
    v_from_queue text;
    v_from_key text;
    v_budget integer;
    v_sweep record;
BEGIN
    IF prune.max_rows IS NULL OR prune.max_rows < 1 THEN
        PERFORM rota._invalid('rota.prune', 'max_rows', 'must be >= 1', prune.max_rows::text);
    END IF;
    -- Oldest first, queue by queue, through tasks_finished_idx, each row locked (SKIP LOCKED:
    -- concurrent prunes take other rows): a call reads the rows it deletes and one probe
    -- per queue, however long the history.
    v_ids := ARRAY(
        SELECT v.id FROM rota.queues q
        CROSS JOIN LATERAL (
            SELECT t.id FROM rota.tasks t
            -- the bound of retention: a row from before it existed cannot overflow the cutoff
            WHERE t.state IN ('succeeded', 'failed', 'cancelled') AND t.queue = q.name
              AND t.finished_at < now() - least(q.retention, interval '10 years')
            ORDER BY t.finished_at
            LIMIT prune.max_rows
            FOR UPDATE OF t SKIP LOCKED) AS v
        LIMIT prune.max_rows);
    -- the task's attempts and steps go with it (rota._delete_tasks)
    v_deleted := rota._delete_tasks(v_ids);
    -- Housekeeping: on a call that found nothing due, else at most once a minute (the
    -- workers' paced calls each take what expired since the last); never by two callers
    -- at once.
    SELECT h.swept_queue, h.swept_key INTO v_from_queue, v_from_key
    FROM rota._prune_housekeeping h
    WHERE v_deleted = 0 OR h.done_at < now() - interval '1 minute'
    FOR UPDATE SKIP LOCKED;
    IF NOT FOUND THEN
        RETURN v_deleted;
    END IF;
    -- Count rows of idle keys among the next max_rows in key order, from where the last
    -- sweep stopped, on from the first row when the end comes first; the next sweep goes on
    -- after the last row read, or from the first once all were read.
    v_budget := prune.max_rows;
    SELECT * INTO v_sweep FROM rota._sweep_idle_keys(v_from_queue, v_from_key, v_budget);
    IF v_sweep.rows_read < v_budget AND v_from_queue IS NOT NULL THEN
        v_budget := v_budget - v_sweep.rows_read;
        SELECT * INTO v_sweep FROM rota._sweep_idle_keys(NULL, NULL, v_budget);
    END IF;
    PERFORM rota._fold_counts(prune.max_rows);
    UPDATE rota._prune_housekeeping h
    SET done_at = now(),
        swept_queue = CASE WHEN v_sweep.rows_read = v_budget THEN v_sweep.last_queue END,
        swept_key = CASE WHEN v_sweep.rows_read = v_budget THEN v_sweep.last_key END;
    RETURN v_deleted;
END;
$fn$;
COMMENT ON FUNCTION rota.prune(integer) IS 'Deletes up to max_rows finished tasks older than their queue''s retention; returns how many. Once a minute, or when none is due, also deletes idle key count rows among the next max_rows and folds old counter buckets.';

$code$);
