SELECT rota._apply_code('complete_fail', $code$

-- The rule "a requested cancel wins": a task whose cancel was requested ends cancelled,
-- whatever its attempt's outcome would have made it.
CREATE OR REPLACE FUNCTION rota._unless_cancelled(p_cancel_requested boolean, p_state text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT CASE WHEN p_cancel_requested THEN 'cancelled' ELSE p_state END;
$fn$;

-- Retry delay for the n-th counted attempt: base * 2^(n-1) with +-25% jitter, capped (and
-- never over 30 days, the bound of backoff_max, so that a queue row written before that
-- bound existed cannot make the reaper's timestamp arithmetic overflow).
CREATE OR REPLACE FUNCTION rota._backoff(p_base interval, p_cap interval, p_attempt integer)
RETURNS interval
LANGUAGE sql VOLATILE
AS $fn$
    SELECT make_interval(secs => least(
        extract(epoch FROM least(p_cap, interval '30 days'))::double precision,
        extract(epoch FROM p_base)::double precision
            * power(2::double precision, least(greatest(p_attempt, 1) - 1, 60))
            * (0.75 + random() * 0.5)));
$fn$;

-- Frees the limit rows held by tasks that stopped running (one call per batch, after
-- their task rows) and wakes queues. p_held_ids: the tasks that held a slot or key slot
-- (their rows still name it); p_ready_queues: queues that got ready tasks.
CREATE OR REPLACE FUNCTION rota._release_holds(p_held_ids bigint[], p_ready_queues text[] DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
-- Only index scans and nested loops: the count rows are then updated in the order of their
-- sorted input (see there). No JIT: a disabled node that had to stay would cost the plan
-- over 10^10, as in rota.claim.
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $fn$
DECLARE
    v_over_queues text[];
    v_over_slots integer[];
BEGIN
    PERFORM pg_notify('rota_enqueue', x) FROM unnest(p_ready_queues) AS x;
    -- queues without limits hold nothing: their completions stop here
    IF p_held_ids IS NULL THEN
        RETURN;
    END IF;
    -- Frees match on task_id, so a stale slot number frees nothing. Slot rows above a
    -- lowered limit go once free (the freeing UPDATE returns over_limit, so the common
    -- free stays a single HOT update).
    WITH freed AS (
        UPDATE rota._queue_slots s SET task_id = NULL
        FROM rota.tasks t
        WHERE t.id = ANY (p_held_ids) AND s.queue = t.queue AND s.slot = t.slot AND s.task_id = t.id
        RETURNING s.queue, s.slot, s.over_limit)
    SELECT array_agg(f.queue), array_agg(f.slot) INTO v_over_queues, v_over_slots
    FROM freed f WHERE f.over_limit;
    IF v_over_queues IS NOT NULL THEN
        DELETE FROM rota._queue_slots s
        USING unnest(v_over_queues, v_over_slots) AS o(queue, slot)
        WHERE s.queue = o.queue AND s.slot = o.slot AND s.task_id IS NULL AND s.over_limit;
    END IF;
    -- One count per task that holds one. The UPDATE locks the rows itself, in key order
    -- (the sorted input drives primary-key lookups: the plan settings above leave no other
    -- plan), so two batches sharing keys wait on each other instead of deadlocking;
    -- claimers hold them only briefly and never wait, and producers' KEY SHARE locks do
    -- not conflict. A separate SELECT ... FOR NO KEY UPDATE first would write one more WAL
    -- record per key.
    UPDATE rota._key_counts k SET running = k.running - h.n
    FROM (SELECT t.queue, t.concurrency_key, count(*) AS n FROM rota.tasks t
          WHERE t.id = ANY (p_held_ids) AND t.key_slot IS NOT NULL AND t.concurrency_key IS NOT NULL
          GROUP BY t.queue, t.concurrency_key
          ORDER BY t.queue, t.concurrency_key) AS h
    WHERE k.queue = h.queue AND k.concurrency_key = h.concurrency_key;
    -- Queues with a freed slot and ready work are woken too: else only the process that
    -- freed it would claim again at once, and the others would wait for their poll,
    -- piling a limited queue's work onto one replica. A freed key count wakes them only
    -- when that key has ready work: other keys' tasks were claimable before, and a
    -- NOTIFY serializes the commits that send one (many tenants, each key's tasks
    -- claimed together, would otherwise send one per completion batch).
    PERFORM pg_notify('rota_enqueue', q.name)
    FROM (SELECT DISTINCT t.queue AS name FROM rota.tasks t
          WHERE t.id = ANY (p_held_ids)
            AND (t.slot IS NOT NULL
                 OR EXISTS (SELECT 1 FROM rota.tasks r
                            WHERE r.state = 'queued' AND r.queue = t.queue AND r.concurrency_key = t.concurrency_key
                              AND r.run_at <= now()))) AS q
    WHERE q.name <> ALL (coalesce(p_ready_queues, '{}'))
      AND EXISTS (SELECT 1 FROM rota.tasks r WHERE r.state = 'queued' AND r.queue = q.name AND r.run_at <= now());
END;
$fn$;

-- What complete, the after-failure rule and the release rule do after the UPDATE of a
-- batch's task rows, written once so that they keep one lock order: parents
-- (rota._wake_parents), then counters, awaiters and limit rows. p_ids: the tasks updated;
-- p_ended_parent_ids: the parent of each of them that ended with one (rota._wake_parents);
-- p_queues NULL: no outcome counted (a release that ends no cancel).
DROP FUNCTION IF EXISTS rota._after_attempts(bigint[], text[], text[], boolean, bigint[], bigint[], text[]);
CREATE OR REPLACE FUNCTION rota._after_attempts(p_ids bigint[], p_queues text[], p_states text[],
                                                p_attempts_failed boolean, p_ended_parent_ids bigint[],
                                                p_held_ids bigint[], p_ready_queues text[])
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    IF p_ids IS NULL THEN
        RETURN;
    END IF;
    IF p_ended_parent_ids IS NOT NULL THEN
        PERFORM rota._wake_parents(p_ended_parent_ids);
    END IF;
    IF p_queues IS NOT NULL THEN
        PERFORM rota._count_outcomes(p_queues, p_states, p_attempts_failed);
    END IF;
    PERFORM rota._notify_finished(p_ids);
    IF p_held_ids IS NOT NULL OR p_ready_queues IS NOT NULL THEN
        PERFORM rota._release_holds(p_held_ids, p_ready_queues);
    END IF;
END;
$fn$;

-- Body of complete and complete_many, for checked input: marks running tasks succeeded
-- (cancelled if a cancel was requested) under their current attempts and lease tokens;
-- returns the ids that completed. p_fn names the caller in errors.
DROP FUNCTION IF EXISTS rota._complete(text, bigint[], integer[], jsonb[]);
CREATE OR REPLACE FUNCTION rota._complete(p_fn text, p_ids bigint[], p_attempts integer[], p_results jsonb[],
                                          p_tokens uuid[])
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
-- Custom plans would look cheaper for small batches, so without this the statement below
-- would be planned afresh on every call; its generic plan does not depend on row estimates
-- (ids are passed as arrays to primary-key lookups).
SET plan_cache_mode = force_generic_plan
-- Only primary-key index scans and nested loops, whatever the table's size: the UPDATE below
-- then locks its rows in id order (see there). No JIT, as in rota.claim.
SET enable_seqscan = off
SET enable_bitmapscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
SET jit = off
AS $fn$
DECLARE
    v_done_ids bigint[];
    v_held_ids bigint[];
    v_done_queues text[];
    v_done_states text[];
    v_ended_parent_ids bigint[];
BEGIN
    -- The UPDATE locks the rows itself, in id order (the id-sorted input drives primary-key
    -- lookups: the plan settings above leave no other plan), so a concurrent stop_executor
    -- (also id order) cannot deadlock with a batch flush. A separate SELECT ... FOR UPDATE
    -- first would write one more WAL record per task (bench/bytes_per_task.sh).
    -- an id given twice counts once, with its first attempt/result/token
    WITH input AS (
        SELECT DISTINCT ON (u.id) u.id, u.attempt, u.result, u.token
        FROM unnest(p_ids, p_attempts, p_results, p_tokens) WITH ORDINALITY AS u(id, attempt, result, token, ord)
        ORDER BY u.id, u.ord),
    done AS (
        UPDATE rota.tasks t
        SET state = rota._unless_cancelled(t.cancel_requested, 'succeeded'),
            result = i.result, finished_at = now(), lease_expires_at = NULL, lease_token = NULL
        FROM input i
        WHERE t.id = i.id AND t.attempts = i.attempt AND t.lease_token = i.token
          AND t.lease_expires_at IS NOT NULL
        RETURNING t.id, t.slot, t.key_slot, t.queue, t.state, t.parent_id)
    SELECT array_agg(done.id ORDER BY done.id),
           array_agg(done.id ORDER BY done.id) FILTER (WHERE done.slot IS NOT NULL OR done.key_slot IS NOT NULL),
           array_agg(done.queue), array_agg(done.state),
           array_agg(done.parent_id) FILTER (WHERE done.parent_id IS NOT NULL)
    INTO v_done_ids, v_held_ids, v_done_queues, v_done_states, v_ended_parent_ids
    FROM done;
    PERFORM rota._after_attempts(v_done_ids, v_done_queues, v_done_states, false, v_ended_parent_ids, v_held_ids, NULL);
    IF coalesce(cardinality(v_done_ids), 0) < cardinality(p_ids) THEN
        PERFORM rota._check_attempts(p_fn, p_ids, p_attempts, p_tokens);
    END IF;
    RETURN QUERY SELECT x FROM unnest(v_done_ids) AS x;
END;
$fn$;

-- Completes many tasks in one statement; returns the ids that completed.
DROP FUNCTION IF EXISTS rota.complete_many(bigint[], integer[], jsonb[]);
CREATE OR REPLACE FUNCTION rota.complete_many(ids bigint[], attempts integer[], results jsonb[] DEFAULT NULL,
                                              tokens uuid[] DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    c_fn constant text := 'rota.complete_many';
BEGIN
    IF ids IS NULL OR attempts IS NULL THEN
        PERFORM rota._invalid(c_fn, 'ids/attempts', 'must not be NULL', NULL);
    END IF;
    PERFORM rota._check_same_length(c_fn, 'attempts', cardinality(attempts), 'ids', cardinality(ids));
    PERFORM rota._check_same_length(c_fn, 'results', cardinality(results), 'ids', cardinality(ids));
    PERFORM rota._check_tokens(c_fn, tokens, cardinality(ids));
    PERFORM rota._check_sizes(c_fn, 'results', results);
    IF cardinality(ids) > 0 THEN
        RETURN QUERY SELECT * FROM rota._complete(c_fn, ids, attempts, results, tokens);
    END IF;
END;
$fn$;
COMMENT ON FUNCTION rota.complete_many(bigint[], integer[], jsonb[], uuid[])
    IS 'Completes many running tasks in one statement, each under its attempt and lease token; returns the ids that completed (fenced ones are left out).';

-- Marks a running task succeeded (cancelled if a cancel was requested); false when fenced off.
DROP FUNCTION IF EXISTS rota.complete(bigint, integer, jsonb);
CREATE OR REPLACE FUNCTION rota.complete(id bigint, attempt integer, result jsonb DEFAULT NULL, token uuid DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    IF result IS NOT NULL THEN
        PERFORM rota._check_size('rota.complete', 'result', result);
    END IF;
    RETURN EXISTS (SELECT 1 FROM rota._complete('rota.complete', ARRAY[id], ARRAY[attempt], ARRAY[result], ARRAY[token]));
END;
$fn$;
COMMENT ON FUNCTION rota.complete(bigint, integer, jsonb, uuid)
    IS 'Completes a running task under its current attempt and lease token; false (nothing written) when that attempt is stale.';

-- The after-failure rule, for locked running tasks whose attempt failed (fail) or whose
-- lease expired (reap): cancelled when a cancel was requested; failed, and kept with its
-- errors, when not retryable or out of attempts; else queued again after retry_in or the
-- queue's backoff. Records the attempt (p_outcome) and frees the tasks' limit rows.
CREATE OR REPLACE FUNCTION rota._after_failure(p_ids bigint[], p_errors text[], p_retryables boolean[],
                                               p_retry_ins interval[], p_outcome text)
RETURNS TABLE(id bigint, state text)
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_ids bigint[];
    v_states text[];
    v_ready_queues text[];
    v_held_ids bigint[];
    v_queues text[];
    v_ended_parent_ids bigint[];
BEGIN
    WITH next AS (
        SELECT t.id, f.error,
               rota._unless_cancelled(t.cancel_requested,
                   CASE WHEN NOT f.retryable OR t.attempts - t.attempts_refunded >= t.max_attempts THEN 'failed'
                        ELSE 'queued' END) AS new_state,
               now() + coalesce(f.retry_in, rota._backoff(q.backoff_base, q.backoff_max,
                                                          t.attempts - t.attempts_refunded)) AS next_run
        FROM unnest(p_ids, p_errors, p_retryables, p_retry_ins) AS f(id, error, retryable, retry_in)
        JOIN rota.tasks t ON t.id = f.id
        JOIN rota.queues q ON q.name = t.queue),
    upd AS (
        UPDATE rota.tasks t
        SET state = n.new_state,
            run_at = CASE WHEN n.new_state = 'queued' THEN n.next_run ELSE t.run_at END,
            finished_at = CASE WHEN n.new_state = 'queued' THEN NULL ELSE now() END,
            lease_expires_at = NULL, lease_token = NULL,
            last_error = left(n.error, 65536)
        FROM next n
        WHERE t.id = n.id
        RETURNING t.id, t.queue, t.state, t.run_at, t.attempts, t.executor, t.started_at, t.slot, t.key_slot,
                  t.last_error, t.parent_id),
    history AS (
        INSERT INTO rota.task_attempts (task_id, attempt, executor, started_at, finished_at, outcome, error)
        SELECT upd.id, upd.attempts, upd.executor, upd.started_at, now(), p_outcome, upd.last_error FROM upd)
    SELECT array_agg(upd.id ORDER BY upd.id), array_agg(upd.state ORDER BY upd.id),
           array_agg(DISTINCT upd.queue) FILTER (WHERE upd.state = 'queued' AND upd.run_at <= now()),
           array_agg(upd.id ORDER BY upd.id) FILTER (WHERE upd.slot IS NOT NULL OR upd.key_slot IS NOT NULL),
           array_agg(upd.queue ORDER BY upd.id),
           array_agg(upd.parent_id) FILTER (WHERE upd.parent_id IS NOT NULL AND upd.state <> 'queued')
    INTO v_ids, v_states, v_ready_queues, v_held_ids, v_queues, v_ended_parent_ids
    FROM upd;
    PERFORM rota._after_attempts(v_ids, v_queues, v_states, true, v_ended_parent_ids, v_held_ids, v_ready_queues);
    RETURN QUERY SELECT u.id, u.state FROM unnest(v_ids, v_states) AS u(id, state);
END;
$fn$;

-- The release rule, for locked running tasks that give their attempt back without spending
-- it (rota.stop_executor, rota.sleep, rota.wait_for_children): cancelled when a cancel was
-- requested; else queued to run at p_run_at or, with p_children_open, waiting for that
-- many children. Records the attempt as 'released' (p_reason) and frees the tasks' limit rows.
CREATE OR REPLACE FUNCTION rota._release_tasks(p_ids bigint[], p_run_at timestamptz, p_reason text,
                                               p_children_open integer DEFAULT NULL)
RETURNS TABLE(id bigint, state text)
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_ids bigint[];
    v_states text[];
    v_ready_queues text[];
    v_held_ids bigint[];
    v_ended_parent_ids bigint[];
    v_cancelled_queues text[];
BEGIN
    WITH upd AS (
        UPDATE rota.tasks t
        SET state = rota._unless_cancelled(t.cancel_requested,
                                           CASE WHEN p_children_open IS NULL THEN 'queued' ELSE 'waiting' END),
            attempts_refunded = t.attempts_refunded + 1,
            finished_at = CASE WHEN t.cancel_requested THEN now() END,
            run_at = CASE WHEN t.cancel_requested OR p_children_open IS NOT NULL THEN t.run_at ELSE p_run_at END,
            children_open = CASE WHEN NOT t.cancel_requested THEN p_children_open END,
            lease_expires_at = NULL, lease_token = NULL
        FROM unnest(p_ids) AS r(id)
        WHERE t.id = r.id AND t.state = 'running'
        RETURNING t.id, t.queue, t.state, t.run_at, t.attempts, t.executor, t.started_at, t.slot, t.key_slot,
                  t.parent_id),
    history AS (
        INSERT INTO rota.task_attempts (task_id, attempt, executor, started_at, finished_at, outcome, error)
        SELECT u.id, u.attempts, u.executor, u.started_at, now(), 'released', p_reason
        FROM upd u)
    SELECT array_agg(upd.id ORDER BY upd.id), array_agg(upd.state ORDER BY upd.id),
           array_agg(DISTINCT upd.queue) FILTER (WHERE upd.state = 'queued' AND upd.run_at <= now()),
           array_agg(upd.id ORDER BY upd.id) FILTER (WHERE upd.slot IS NOT NULL OR upd.key_slot IS NOT NULL),
           array_agg(upd.parent_id) FILTER (WHERE upd.parent_id IS NOT NULL AND upd.state = 'cancelled'),
           array_agg(upd.queue) FILTER (WHERE upd.state = 'cancelled')
    INTO v_ids, v_states, v_ready_queues, v_held_ids, v_ended_parent_ids, v_cancelled_queues
    FROM upd;
    -- A release is no outcome (nor a retry): only the cancels it ends are counted, as
    -- cancels of running tasks. rota._notify_finished skips the tasks that are not final.
    PERFORM rota._after_attempts(v_ids, v_cancelled_queues,
                                 CASE WHEN v_cancelled_queues IS NOT NULL
                                      THEN array_fill('cancelled'::text, ARRAY[cardinality(v_cancelled_queues)]) END,
                                 false, v_ended_parent_ids, v_held_ids, v_ready_queues);
    RETURN QUERY SELECT u.id, u.state FROM unnest(v_ids, v_states) AS u(id, state);
END;
$fn$;

-- Body of fail and fail_many: checks the input, locks the tasks whose attempt and lease
-- token are current and applies the after-failure rule to them; p_fn names the caller in errors.
DROP FUNCTION IF EXISTS rota._fail(text, bigint[], integer[], text[], interval[], boolean[]);
CREATE OR REPLACE FUNCTION rota._fail(p_fn text, p_ids bigint[], p_attempts integer[], p_errors text[],
                                      p_retry_ins interval[], p_retryables boolean[], p_tokens uuid[])
RETURNS TABLE(id bigint, state text)
LANGUAGE plpgsql VOLATILE
-- as in _complete: small batches would otherwise be planned afresh on every call
SET plan_cache_mode = force_generic_plan
AS $fn$
#variable_conflict use_column
DECLARE
    v_count integer := cardinality(p_ids);
    v_negative integer;
    v_locked_ids bigint[];
    v_errors text[];
    v_retryables boolean[];
    v_retry_ins interval[];
BEGIN
    IF p_ids IS NULL OR p_attempts IS NULL OR p_errors IS NULL THEN
        PERFORM rota._invalid(p_fn, 'ids/attempts/errors', 'must not be NULL', NULL);
    END IF;
    PERFORM rota._check_same_length(p_fn, 'attempts', cardinality(p_attempts), 'ids', v_count);
    PERFORM rota._check_same_length(p_fn, 'errors', cardinality(p_errors), 'ids', v_count);
    PERFORM rota._check_same_length(p_fn, 'retry_ins', cardinality(p_retry_ins), 'ids', v_count);
    PERFORM rota._check_same_length(p_fn, 'retryables', cardinality(p_retryables), 'ids', v_count);
    PERFORM rota._check_tokens(p_fn, p_tokens, v_count);
    SELECT x.ord INTO v_negative FROM unnest(p_retry_ins) WITH ORDINALITY AS x(v, ord)
    WHERE x.v < interval '0' OR x.v > interval '30 days' LIMIT 1;
    IF FOUND THEN
        PERFORM rota._invalid(p_fn, 'retry_in', 'must be between 0 and 30 days', p_retry_ins[v_negative]::text);
    END IF;
    IF v_count = 0 THEN
        RETURN;
    END IF;

    -- an id given twice counts once, with its first attempt; locked in id order (as
    -- complete and stop_executor do)
    WITH input AS (
        SELECT DISTINCT ON (u.id) u.id, u.attempt, u.error, u.retry_in, coalesce(u.retryable, true) AS retryable,
               u.token
        FROM unnest(p_ids, p_attempts, p_errors,
                    coalesce(p_retry_ins, array_fill(NULL::interval, ARRAY[v_count])),
                    coalesce(p_retryables, array_fill(true, ARRAY[v_count])), p_tokens)
             WITH ORDINALITY AS u(id, attempt, error, retry_in, retryable, token, ord)
        ORDER BY u.id, u.ord),
    locked AS (
        SELECT t.id, i.error, i.retryable, i.retry_in
        FROM input i
        JOIN rota.tasks t ON t.id = i.id AND t.attempts = i.attempt AND t.lease_token = i.token
                         AND t.lease_expires_at IS NOT NULL
        ORDER BY t.id
        FOR UPDATE OF t)
    SELECT array_agg(l.id ORDER BY l.id), array_agg(l.error ORDER BY l.id),
           array_agg(l.retryable ORDER BY l.id), array_agg(l.retry_in ORDER BY l.id)
    INTO v_locked_ids, v_errors, v_retryables, v_retry_ins
    FROM locked l;
    IF coalesce(cardinality(v_locked_ids), 0) < v_count THEN
        PERFORM rota._check_attempts(p_fn, p_ids, p_attempts, p_tokens);
    END IF;
    RETURN QUERY SELECT * FROM rota._after_failure(v_locked_ids, v_errors, v_retryables, v_retry_ins, 'failed');
END;
$fn$;

-- Records failed attempts in one statement: retry with backoff, or failed when out of attempts.
DROP FUNCTION IF EXISTS rota.fail_many(bigint[], integer[], text[], interval[], boolean[]);
CREATE OR REPLACE FUNCTION rota.fail_many(ids bigint[], attempts integer[], errors text[], retry_ins interval[] DEFAULT NULL,
                               retryables boolean[] DEFAULT NULL, tokens uuid[] DEFAULT NULL)
RETURNS TABLE(id bigint, state text)
LANGUAGE sql VOLATILE
AS $fn$
    SELECT f.id, f.state FROM rota._fail('rota.fail_many', $1, $2, $3, $4, $5, $6) AS f;
$fn$;
COMMENT ON FUNCTION rota.fail_many(bigint[], integer[], text[], interval[], boolean[], uuid[])
    IS 'Fails many running tasks in one statement; returns (id, new state) for those not fenced off.';

-- Records a failed attempt: back to queued with backoff, or failed; NULL when fenced off.
DROP FUNCTION IF EXISTS rota.fail(bigint, integer, text, interval, boolean);
CREATE OR REPLACE FUNCTION rota.fail(id bigint, attempt integer, error text, retry_in interval DEFAULT NULL,
                          retryable boolean DEFAULT true, token uuid DEFAULT NULL)
RETURNS text
LANGUAGE sql VOLATILE
AS $fn$
    SELECT f.state
    FROM rota._fail('rota.fail', ARRAY[$1], ARRAY[$2], ARRAY[$3], ARRAY[$4], ARRAY[coalesce($5, true)],
                    ARRAY[$6]) AS f;
$fn$;
COMMENT ON FUNCTION rota.fail(bigint, integer, text, interval, boolean, uuid)
    IS 'Fails a running task: queued again after backoff (or retry_in), or failed when out of attempts or not retryable; NULL when the attempt is stale.';

-- Whether the session may see and cancel a task: its own (enqueued by the same login
-- role, session_user: the functions run as rota_owner), or any task for rota_admin members.
CREATE OR REPLACE FUNCTION rota._may_see_task(p_enqueued_by name)
RETURNS boolean
LANGUAGE sql STABLE
AS $fn$
    SELECT p_enqueued_by = session_user OR pg_has_role(session_user, 'rota_admin', 'USAGE');
$fn$;

-- State, result and last error of a task the session may see (rota._may_see_task).
CREATE OR REPLACE FUNCTION rota.task_status(id bigint)
RETURNS TABLE(state text, result jsonb, last_error text, attempts integer, enqueued_at timestamptz,
              finished_at timestamptz)
LANGUAGE plpgsql STABLE
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT t.state, t.result, t.last_error, t.attempts, t.enqueued_at, t.finished_at
    FROM rota.tasks t WHERE t.id = task_status.id AND rota._may_see_task(t.enqueued_by);
    IF NOT FOUND THEN
        PERFORM rota._raise_unknown_task('rota.task_status', task_status.id);
    END IF;
END;
$fn$;
COMMENT ON FUNCTION rota.task_status(bigint)
    IS 'State, result, last error, attempts and times of a task the caller enqueued (any task for rota_admin); RO002 otherwise.';

-- Cancels a queued or waiting task at once, or asks the executor of a running one to stop;
-- its unfinished children (and theirs) likewise.
CREATE OR REPLACE FUNCTION rota.cancel(id bigint)
RETURNS text
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_state text;
    v_parent_id bigint;
BEGIN
    PERFORM rota._cancel_descendants(cancel.id);
    UPDATE rota.tasks t
    SET state = CASE WHEN t.state IN ('queued', 'waiting') THEN 'cancelled' ELSE t.state END,
        finished_at = CASE WHEN t.state IN ('queued', 'waiting') THEN now() ELSE t.finished_at END,
        children_open = NULL,
        cancel_requested = (t.state = 'running')
    WHERE t.id = cancel.id AND t.state IN ('queued', 'running', 'waiting') AND rota._may_see_task(t.enqueued_by)
    RETURNING CASE WHEN t.state = 'running' THEN 'cancelling' ELSE t.state END, t.parent_id INTO v_state, v_parent_id;
    IF FOUND THEN
        IF v_state = 'cancelled' THEN
            PERFORM rota._wake_parents(ARRAY[v_parent_id]);
        END IF;
        PERFORM rota._notify_finished(ARRAY[cancel.id]);
        RETURN v_state;
    END IF;
    SELECT t.state INTO v_state FROM rota.tasks t WHERE t.id = cancel.id AND rota._may_see_task(t.enqueued_by);
    IF NOT FOUND THEN
        PERFORM rota._raise_unknown_task('rota.cancel', cancel.id);
    END IF;
    RETURN v_state;
END;
$fn$;
COMMENT ON FUNCTION rota.cancel(bigint)
    IS 'Cancels a task the caller enqueued (any task for rota_admin) and its unfinished children: cancelled (was queued or waiting), cancelling (running; its executor learns at the next heartbeat), or the final state it already had.';

-- Puts a failed or cancelled task back in its queue with a fresh attempt budget.
CREATE OR REPLACE FUNCTION rota.retry(id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    v_queue text;
    v_parent_id bigint;
    v_state text;
BEGIN
    -- The parent's row first (a child's parent never changes): a parent's wait_for_children
    -- counts its unfinished children again once it holds its own row, so this retry either
    -- commits before that count, which sees the child open, or waits for the wait to
    -- commit and finds the parent waiting below. The child is finished, so no path that
    -- locks a running child and then its parent waits for it.
    PERFORM 1 FROM rota.tasks p
    WHERE p.id = (SELECT c.parent_id FROM rota.tasks c WHERE c.id = retry.id)
    FOR NO KEY UPDATE;
    UPDATE rota.tasks t
    SET state = 'queued', attempts_refunded = t.attempts, run_at = now(), finished_at = NULL,
        cancel_requested = false, result = NULL
    WHERE t.id = retry.id AND t.state IN ('failed', 'cancelled')
    RETURNING t.queue, t.parent_id INTO v_queue, v_parent_id;
    IF FOUND THEN
        -- A parent waiting for its children counted this one as ended: it is open again, so
        -- that its next end does not count twice and wake the parent before its siblings
        -- end.
        UPDATE rota.tasks p SET children_open = p.children_open + 1
        WHERE p.id = v_parent_id AND p.state = 'waiting';
        PERFORM pg_notify('rota_enqueue', v_queue);
        RETURN;
    END IF;
    SELECT t.state INTO v_state FROM rota.tasks t WHERE t.id = retry.id;
    IF NOT FOUND THEN
        PERFORM rota._raise_unknown_task('rota.retry', retry.id);
    END IF;
    RAISE EXCEPTION 'rota.retry: task % is %, only failed or cancelled tasks can be retried', retry.id, v_state
        USING ERRCODE = 'RO020';
END;
$fn$;
COMMENT ON FUNCTION rota.retry(bigint) IS 'Re-queues a failed or cancelled task with a fresh attempt budget (RO020 for other states).';

$code$);
