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
    v_queue text;
BEGIN
    PERFORM rota._check_name(c_fn, 'executor', register_executor.executor);
    IF register_executor.queues IS NOT NULL THEN
        FOREACH v_queue IN ARRAY register_executor.queues LOOP
            PERFORM rota._check_name(c_fn, 'queues', v_queue);
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
CREATE OR REPLACE FUNCTION rota.heartbeat(executor text, held bigint[] DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
BEGIN
    UPDATE rota.executors e SET last_heartbeat_at = now() WHERE e.id = heartbeat.executor;
    IF NOT FOUND THEN
        PERFORM rota._raise_unknown('rota.heartbeat', 'executor', heartbeat.executor, 'RO004');
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
        SET lease_expires_at = now() + q.lease
        FROM mine m JOIN rota.queues q ON q.name = m.queue
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
CREATE OR REPLACE FUNCTION rota.stop_executor(executor text)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_released integer;
    v_ready_queues text[];
    v_held_ids bigint[];
BEGIN
    UPDATE rota.executors e SET stopped_at = now() WHERE e.id = stop_executor.executor;
    IF NOT FOUND THEN
        PERFORM rota._raise_unknown('rota.stop_executor', 'executor', stop_executor.executor, 'RO004');
    END IF;
    WITH mine AS (
        SELECT t.id FROM rota.tasks t
        WHERE t.executor = stop_executor.executor AND t.state = 'running'
        ORDER BY t.id
        FOR UPDATE),
    upd AS (
        UPDATE rota.tasks t
        SET state = rota._unless_cancelled(t.cancel_requested, 'queued'),
            attempts_refunded = t.attempts_refunded + 1,
            finished_at = CASE WHEN t.cancel_requested THEN now() END,
            run_at = CASE WHEN t.cancel_requested THEN t.run_at ELSE now() END,
            lease_expires_at = NULL
        FROM mine m
        WHERE t.id = m.id AND t.executor = stop_executor.executor AND t.state = 'running'
        RETURNING t.id, t.queue, t.state, t.attempts, t.executor, t.started_at, t.slot, t.key_slot),
    history AS (
        INSERT INTO rota.task_attempts (task_id, attempt, executor, started_at, finished_at, outcome, error)
        SELECT u.id, u.attempts, u.executor, u.started_at, now(), 'released', 'released by rota.stop_executor'
        FROM upd u)
    SELECT count(*), array_agg(DISTINCT upd.queue) FILTER (WHERE upd.state = 'queued'),
           array_agg(upd.id ORDER BY upd.id) FILTER (WHERE upd.slot IS NOT NULL OR upd.key_slot IS NOT NULL)
    INTO v_released, v_ready_queues, v_held_ids
    FROM upd;
    -- the slot rows after the task rows, in one call for the batch
    PERFORM rota._release_holds(v_held_ids, v_ready_queues);
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

-- Deletes finished tasks older than their queue's retention, at most max_rows per call.
CREATE OR REPLACE FUNCTION rota.prune(max_rows integer DEFAULT 10000)
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
    DELETE FROM rota._key_slots k
    WHERE (k.queue, k.concurrency_key, k.slot) IN (
        SELECT f.queue, f.concurrency_key, f.slot FROM rota._key_slots f
        WHERE f.task_id IS NULL
          AND NOT EXISTS (SELECT 1 FROM rota._key_slots b
                          WHERE b.queue = f.queue AND b.concurrency_key = f.concurrency_key
                            AND b.task_id IS NOT NULL)
        LIMIT prune.max_rows
        FOR UPDATE SKIP LOCKED);
    PERFORM rota._fold_counts(prune.max_rows);
    RETURN v_deleted;
END;
$fn$;
COMMENT ON FUNCTION rota.prune(integer) IS 'Deletes up to max_rows finished tasks older than their queue''s retention; returns how many.';

$code$);
