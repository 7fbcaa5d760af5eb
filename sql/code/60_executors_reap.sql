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
CREATE OR REPLACE FUNCTION rota.heartbeat(executor text, held bigint[] DEFAULT NULL)
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
CREATE OR REPLACE FUNCTION rota.stop_executor(executor text)
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
CREATE OR REPLACE FUNCTION rota.reap()
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
    RETURN v_deleted;
END;
$fn$;
COMMENT ON FUNCTION rota.prune(integer) IS 'Deletes up to max_rows finished tasks older than their queue''s retention; returns how many.';

$code$);
