SELECT rota._apply_code('complete_fail', $code$

-- Retry delay for the n-th counted attempt: base * 2^(n-1) with +-25% jitter, capped.
CREATE OR REPLACE FUNCTION rota._backoff(p_base interval, p_cap interval, p_attempt integer)
RETURNS interval
LANGUAGE sql VOLATILE
AS $fn$
    SELECT make_interval(secs => least(
        extract(epoch FROM p_cap)::double precision,
        extract(epoch FROM p_base)::double precision
            * power(2::double precision, least(greatest(p_attempt, 1) - 1, 60))
            * (0.75 + random() * 0.5)));
$fn$;

-- Frees the slots of tasks that stopped running (one call per batch, after their task rows) and wakes their queues.
CREATE OR REPLACE FUNCTION rota._release_holds(p_ids bigint[], p_queues text[], p_slots integer[], p_key_slots integer[],
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
            UPDATE rota._queue_slots s SET task_id = NULL
            FROM unnest(p_ids, p_queues, p_slots) AS d(id, queue, slot)
            WHERE d.slot IS NOT NULL AND s.queue = d.queue AND s.slot = d.slot AND s.task_id = d.id
            RETURNING s.queue, s.slot, s.over_limit)
        SELECT array_agg(f.queue), array_agg(f.slot) INTO v_over_queues, v_over_slots
        FROM f WHERE f.over_limit;
        IF v_over_queues IS NOT NULL THEN
            DELETE FROM rota._queue_slots s
            USING unnest(v_over_queues, v_over_slots) AS o(queue, slot)
            WHERE s.queue = o.queue AND s.slot = o.slot AND s.task_id IS NULL AND s.over_limit;
        END IF;
    END IF;
    IF v_held_keys THEN
        UPDATE rota._key_slots k SET task_id = NULL
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
CREATE OR REPLACE FUNCTION rota.complete(id bigint, attempt integer, result jsonb DEFAULT NULL)
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
CREATE OR REPLACE FUNCTION rota.complete_many(ids bigint[], attempts integer[], results jsonb[] DEFAULT NULL)
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
CREATE OR REPLACE FUNCTION rota._fail(p_fn text, ids bigint[], attempts integer[], errors text[], retry_ins interval[],
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
CREATE OR REPLACE FUNCTION rota.fail_many(ids bigint[], attempts integer[], errors text[], retry_ins interval[] DEFAULT NULL,
                               retryables boolean[] DEFAULT NULL)
RETURNS TABLE(id bigint, state text)
LANGUAGE sql VOLATILE
AS $fn$
    SELECT f.id, f.state FROM rota._fail('rota.fail_many', $1, $2, $3, $4, $5) AS f;
$fn$;
COMMENT ON FUNCTION rota.fail_many(bigint[], integer[], text[], interval[], boolean[])
    IS 'Fails many running tasks in one statement; returns (id, new state) for those not fenced off.';

-- Records a failed attempt: back to queued with backoff, or failed; NULL when fenced off.
CREATE OR REPLACE FUNCTION rota.fail(id bigint, attempt integer, error text, retry_in interval DEFAULT NULL,
                          retryable boolean DEFAULT true)
RETURNS text
LANGUAGE sql VOLATILE
AS $fn$
    SELECT f.state
    FROM rota._fail('rota.fail', ARRAY[$1], ARRAY[$2], ARRAY[$3], ARRAY[$4], ARRAY[coalesce($5, true)]) AS f;
$fn$;
COMMENT ON FUNCTION rota.fail(bigint, integer, text, interval, boolean)
    IS 'Fails a running task: queued again after backoff (or retry_in), or failed when out of attempts or not retryable; NULL when the attempt is stale.';

-- Cancels a queued task at once, or asks the executor of a running one to stop.
CREATE OR REPLACE FUNCTION rota.cancel(id bigint)
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
CREATE OR REPLACE FUNCTION rota.retry(id bigint)
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

$code$);
