SELECT rota._apply_code('direct_start', $code$

-- Announces the final state of the awaited tasks among p_ids (NOTIFY rota_task_finished,
-- '<id>', sent at commit) and forgets that they are awaited. Called by every statement
-- that may finish tasks, once per batch; ids of tasks not in a final state are ignored.
-- Without waiters it is one read-only probe of an empty index.
CREATE OR REPLACE FUNCTION rota._notify_finished(p_ids bigint[])
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_finished bigint[];
BEGIN
    -- a read-only probe first: a third of the cost of the DELETE below when none is awaited
    IF NOT EXISTS (SELECT 1 FROM rota._awaited_tasks w WHERE w.task_id = ANY (p_ids)) THEN
        RETURN;
    END IF;
    -- the task's state by a primary-key probe per awaited row (as a join, the filter on
    -- the state could read all finished tasks through tasks_finished_idx: rota._wake_parents)
    WITH gone AS (
        DELETE FROM rota._awaited_tasks w
        WHERE w.task_id = ANY (p_ids)
          AND (SELECT t.state FROM rota.tasks t WHERE t.id = w.task_id) IN ('succeeded', 'failed', 'cancelled')
        RETURNING w.task_id)
    SELECT array_agg(gone.task_id ORDER BY gone.task_id) INTO v_finished FROM gone;
    PERFORM pg_notify('rota_task_finished', x::text) FROM unnest(v_finished) AS x;
END;
$fn$;

-- Marks a task awaited unless it is already final. The task row is locked FOR SHARE first:
-- a statement finishing it right now is waited for (its final state is then seen here and
-- nothing is marked), and one that comes later waits for this transaction, so that it
-- sees the mark and notifies.
CREATE OR REPLACE FUNCTION rota._await(p_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    PERFORM 1 FROM rota.tasks t WHERE t.id = p_id AND t.state IN ('queued', 'running', 'waiting') FOR SHARE;
    IF FOUND THEN
        INSERT INTO rota._awaited_tasks (task_id) VALUES (p_id) ON CONFLICT DO NOTHING;
    END IF;
END;
$fn$;

-- Body of start: adds the task (rota._enqueue, without waking other workers) and starts it
-- on p_executor if a concurrency slot, a rate token and a key count are free now, taken as
-- claim takes them; else it stays queued and its queue is woken (started false).
CREATE OR REPLACE FUNCTION rota._start(p_queue text, p_task text, p_payload jsonb, p_executor text, p_key text,
                                       p_priority integer, p_max_attempts integer, p_concurrency_key text,
                                       p_parent_id bigint)
RETURNS TABLE(id bigint, queue text, task text, payload jsonb, attempt integer, key text, parent_id bigint,
              enqueued_at timestamptz, run_at timestamptz, max_attempts integer, concurrency_key text,
              lease_expires_at timestamptz, scheduled_at timestamptz, lease_token uuid, started boolean)
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    c_fn constant text := 'rota.start';
    v_stopped_at timestamptz;
    v_id bigint;
    v_queue rota.queues;
    v_task rota.tasks;
    v_slots integer[];
    v_tokens integer[];
    v_startable integer;
    v_key_slot integer;
BEGIN
    -- a start creates a task: the producer's right as well as the worker's
    IF NOT pg_has_role(session_user, 'rota_producer', 'USAGE') THEN
        RAISE EXCEPTION '%: permission denied: % may run tasks but not create them (grant it rota_producer)',
            c_fn, session_user USING ERRCODE = '42501';
    END IF;
    SELECT e.stopped_at INTO v_stopped_at FROM rota.executors e WHERE e.id = p_executor;
    IF NOT FOUND THEN
        PERFORM rota._raise_unknown(c_fn, 'executor', p_executor, 'RO004', '(call rota.register_executor first)');
    END IF;
    -- The task is normally ours to start: waking every worker of the queue for it would
    -- only send them looking for a task they cannot take (rota._notify_enqueue).
    PERFORM set_config('rota.direct_start', 'on', true);
    v_id := rota._enqueue(c_fn, p_queue, p_task, ARRAY[coalesce(p_payload, '{}')],
                          CASE WHEN p_key IS NOT NULL THEN ARRAY[p_key] END, NULL, p_priority, p_max_attempts,
                          p_concurrency_key, p_parent_id);
    PERFORM set_config('rota.direct_start', 'off', true);
    SELECT q.* INTO v_queue FROM rota.queues q WHERE q.name = p_queue;
    -- the new task, or the queued one of the key (a claimer may hold it: then not ours)
    SELECT t.* INTO v_task FROM rota.tasks t
    WHERE t.id = v_id AND t.state = 'queued' AND t.run_at <= now()
    FOR UPDATE SKIP LOCKED;
    v_startable := CASE WHEN FOUND AND v_stopped_at IS NULL AND NOT v_queue.paused THEN 1 ELSE 0 END;
    IF v_startable = 1 THEN
        SELECT l.slots, l.tokens, l.startable INTO v_slots, v_tokens, v_startable
        FROM rota._take_slots_and_tokens(v_queue, 1, true) AS l;
    END IF;
    IF v_startable = 1 AND v_queue.concurrency_key_limit IS NOT NULL AND v_task.concurrency_key IS NOT NULL THEN
        v_key_slot := rota._take_key_count(v_queue.name, v_task.concurrency_key, v_queue.concurrency_key_limit);
        IF v_key_slot IS NULL THEN
            v_startable := 0;
        ELSE
            UPDATE rota._key_counts c SET running = v_key_slot
            WHERE c.queue = v_queue.name AND c.concurrency_key = v_task.concurrency_key;
        END IF;
    END IF;
    PERFORM rota._await(v_id);
    IF v_startable = 1 THEN
        RETURN QUERY SELECT s.*, true FROM rota._start_tasks(p_executor, ARRAY[v_id], v_queue.lease, v_slots,
                                                             CASE WHEN v_key_slot IS NOT NULL THEN ARRAY[v_key_slot] END) AS s;
        PERFORM rota._take_holds(v_queue.name, ARRAY[v_id], v_slots, v_tokens);
        RETURN;
    END IF;
    -- Not started: it waits in its queue like an enqueued task, so wake the queue's workers.
    PERFORM pg_notify('rota_enqueue', t.queue) FROM rota.tasks t
    WHERE t.id = v_id AND t.state = 'queued' AND t.run_at <= now();
    RETURN QUERY
    SELECT t.id, t.queue, t.task, t.payload, t.attempts, t.key, t.parent_id, t.enqueued_at, t.run_at,
           t.max_attempts, t.concurrency_key, t.lease_expires_at, NULL::timestamptz, NULL::uuid, false
    FROM rota.tasks t WHERE t.id = v_id;
END;
$fn$;

-- Creates a task already claimed by an executor, within the queue's limits; else it is queued.
CREATE OR REPLACE FUNCTION rota.start(queue text, task text, payload jsonb, executor text, key text DEFAULT NULL,
                                      priority integer DEFAULT 0, max_attempts integer DEFAULT NULL,
                                      concurrency_key text DEFAULT NULL, parent_id bigint DEFAULT NULL)
RETURNS TABLE(id bigint, queue text, task text, payload jsonb, attempt integer, key text, parent_id bigint,
              enqueued_at timestamptz, run_at timestamptz, max_attempts integer, concurrency_key text,
              lease_expires_at timestamptz, scheduled_at timestamptz, lease_token uuid, started boolean)
LANGUAGE sql VOLATILE
AS $fn$
    SELECT * FROM rota._start($1, $2, $3, $4, $5, $6, $7, $8, $9);
$fn$;
COMMENT ON FUNCTION rota.start(text, text, jsonb, text, text, integer, integer, text, bigint)
    IS 'Adds a task and starts it at once on executor (a claim of it: attempt, lease_token, lease) when the queue''s concurrency, rate and key limits have room now; else leaves it queued (started false). With a key already in the queue, that task: started if queued and due, else returned as it is. The task is awaited (NOTIFY rota_task_finished at its final state).';

-- Asks for NOTIFY rota_task_finished, '<id>' when a task the caller may see ends, and
-- returns its status now (rota.task_status).
CREATE OR REPLACE FUNCTION rota.await_task(id bigint)
RETURNS TABLE(state text, result jsonb, last_error text, attempts integer, enqueued_at timestamptz,
              finished_at timestamptz)
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
BEGIN
    IF NOT EXISTS (SELECT 1 FROM rota.tasks t WHERE t.id = await_task.id AND rota._may_see_task(t.enqueued_by)) THEN
        PERFORM rota._raise_unknown_task('rota.await_task', await_task.id);
    END IF;
    PERFORM rota._await(await_task.id);
    RETURN QUERY SELECT * FROM rota.task_status(await_task.id);
END;
$fn$;
COMMENT ON FUNCTION rota.await_task(bigint)
    IS 'Marks a task the caller enqueued (any task for rota_admin) awaited, so that NOTIFY rota_task_finished, ''<id>'' is sent when it reaches a final state, and returns rota.task_status of it now (LISTEN first, then call this); RO002 otherwise.';

$code$);
