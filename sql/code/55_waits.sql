SELECT rota._apply_code('waits', $code$

-- How a workflow waits without holding a worker (migration 0009): rota.sleep gives the
-- task back to its queue until a later run_at; rota.wait_for_children parks it in state
-- 'waiting' until its last child ends. Both release the attempt without spending it
-- (rota._release_tasks: the rule of rota.stop_executor), so the task resumes as a new
-- attempt that skips its recorded steps. The decision to wake a parent is taken in the
-- transaction that ends its last child (rota._wake_parents, called wherever a task reaches
-- a final state), under the parent's row lock: no process polls for it.

-- Longest durable sleep: a workflow that sleeps longer is almost certainly passing the wrong
-- unit, and its run_at must stay far from timestamp overflow.
CREATE OR REPLACE FUNCTION rota._longest_sleep()
RETURNS interval
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT interval '1 year';
$fn$;

-- Locks a running task for its current attempt and lease token, or raises as
-- rota._check_attempts does; false when that attempt is stale (fenced off).
CREATE OR REPLACE FUNCTION rota._lock_attempt(p_fn text, p_id bigint, p_attempt integer, p_token uuid)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    PERFORM 1 FROM rota.tasks t
    WHERE t.id = p_id AND t.attempts = p_attempt AND t.lease_token = p_token AND t.lease_expires_at IS NOT NULL
    FOR UPDATE;
    IF FOUND THEN
        RETURN true;
    END IF;
    PERFORM rota._check_attempts(p_fn, ARRAY[p_id], ARRAY[p_attempt], ARRAY[p_token]);
    RETURN false;
END;
$fn$;

-- Puts a running task back in its queue until a time, without spending an attempt.
CREATE OR REPLACE FUNCTION rota.sleep(id bigint, attempt integer, token uuid, until timestamptz, step text DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    c_fn constant text := 'rota.sleep';
BEGIN
    IF sleep.until IS NULL OR NOT isfinite(sleep.until) OR sleep.until < now()
       OR sleep.until > now() + rota._longest_sleep() THEN
        PERFORM rota._invalid(c_fn, 'until', 'must be between now and ' || rota._longest_sleep() || ' ahead',
                              sleep.until::text);
    END IF;
    IF sleep.step IS NOT NULL THEN
        PERFORM rota._check_name(c_fn, 'step', sleep.step);
    END IF;
    IF NOT rota._lock_attempt(c_fn, sleep.id, sleep.attempt, sleep.token) THEN
        RETURN false;
    END IF;
    -- the step tells the resumed workflow that this sleep is over
    IF sleep.step IS NOT NULL THEN
        INSERT INTO rota.task_steps AS s (task_id, name, output, attempt)
        VALUES (sleep.id, sleep.step, jsonb_build_object('until', sleep.until), sleep.attempt)
        ON CONFLICT (task_id, name) DO UPDATE
        SET output = EXCLUDED.output, attempt = EXCLUDED.attempt, recorded_at = now();
    END IF;
    PERFORM rota._release_tasks(ARRAY[sleep.id], sleep.until, 'released by rota.sleep until ' || sleep.until);
    RETURN true;
END;
$fn$;
COMMENT ON FUNCTION rota.sleep(bigint, integer, uuid, timestamptz, text)
    IS 'Durable sleep: gives a running task back to its queue to run again at until (now to 1 year ahead), without spending an attempt and freeing its slots; records step (output {"until": ...}) with it when given. False (nothing written) when the attempt is stale; cancelled instead when a cancel was requested.';

-- Enqueues a child task of a running task under its current attempt; NULL when fenced off.
CREATE OR REPLACE FUNCTION rota.enqueue_child(id bigint, attempt integer, token uuid, task text, key text,
                                              payload jsonb DEFAULT '{}', queue text DEFAULT NULL)
RETURNS bigint
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    c_fn constant text := 'rota.enqueue_child';
    v_queue text;
BEGIN
    IF enqueue_child.key IS NULL THEN
        -- a resumed parent enqueues its children again: only a key finds the ones it made
        PERFORM rota._invalid(c_fn, 'key', 'is required (it makes the child once whatever attempt of the parent asks)',
                              NULL);
    END IF;
    -- FOR SHARE, as rota.record_step: no child of an attempt that lost its task or whose
    -- cancel was requested (rota.cancel has cancelled the children it found).
    SELECT t.queue INTO v_queue FROM rota.tasks t
    WHERE t.id = enqueue_child.id AND t.attempts = enqueue_child.attempt AND t.lease_token = enqueue_child.token
      AND t.lease_expires_at IS NOT NULL AND NOT t.cancel_requested
    FOR SHARE;
    IF NOT FOUND THEN
        PERFORM rota._check_attempts(c_fn, ARRAY[enqueue_child.id], ARRAY[enqueue_child.attempt],
                                     ARRAY[enqueue_child.token]);
        RETURN NULL;
    END IF;
    RETURN rota._enqueue(c_fn, coalesce(enqueue_child.queue, v_queue), enqueue_child.task,
                         ARRAY[coalesce(enqueue_child.payload, '{}')], ARRAY[enqueue_child.key],
                         NULL, NULL, NULL, NULL, enqueue_child.id);
END;
$fn$;
COMMENT ON FUNCTION rota.enqueue_child(bigint, integer, uuid, text, text, jsonb, text)
    IS 'Enqueues a child task (parent_id = id) of a running task under its attempt and lease token, in the parent''s queue unless queue is given; the existing child when key is taken; NULL (nothing written) when the attempt is stale or a cancel was requested.';

-- Locks the unfinished children of a task FOR SHARE, in id order, and returns how many
-- there are (rota.wait_for_children, before and after it locks the task itself).
CREATE OR REPLACE FUNCTION rota._lock_open_children(p_id bigint)
RETURNS integer
LANGUAGE sql VOLATILE
AS $fn$
    -- each link of the task, in child id order, then its child locked (a lateral subquery
    -- with a locking clause is never turned into a join, which a parent of many children
    -- would get planned as a hash join over every task)
    SELECT count(*)::integer
    FROM (SELECT l.task_id FROM rota._task_children l WHERE l.parent_id = p_id ORDER BY l.task_id) AS k
    CROSS JOIN LATERAL (SELECT 1 FROM rota.tasks c
                        WHERE c.id = k.task_id AND c.state NOT IN ('succeeded', 'failed', 'cancelled')
                        FOR SHARE) AS o;
$fn$;

-- Parks a running task until its children have ended; returns how many it waits for.
CREATE OR REPLACE FUNCTION rota.wait_for_children(id bigint, attempt integer, token uuid)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    c_fn constant text := 'rota.wait_for_children';
    v_open integer;
BEGIN
    -- Fenced off before anything is locked: a stale or foreign attempt locks no child.
    IF NOT EXISTS (SELECT 1 FROM rota.tasks t
                   WHERE t.id = wait_for_children.id AND t.attempts = wait_for_children.attempt
                     AND t.lease_token = wait_for_children.token AND t.lease_expires_at IS NOT NULL) THEN
        PERFORM rota._check_attempts(c_fn, ARRAY[wait_for_children.id], ARRAY[wait_for_children.attempt],
                                     ARRAY[wait_for_children.token]);
        RETURN NULL;
    END IF;
    -- The unfinished children first, FOR SHARE (the UPDATE that ends a child conflicts with
    -- it), in id order, and children before their parent as everywhere else (an ending child
    -- locks itself and then its waiting parent; rota.cancel locks descendants first). An end
    -- in flight is waited for and then left out (it ended); no child can end before this
    -- transaction has published the wait, and one that ends after finds its parent waiting
    -- and counts itself off (rota._wake_parents). So the ends of a running parent's children
    -- need no lock on it and go side by side while it still enqueues them; the price is a
    -- row lock per unfinished child, once, when the parent waits.
    PERFORM rota._lock_open_children(wait_for_children.id);
    IF NOT rota._lock_attempt(c_fn, wait_for_children.id, wait_for_children.attempt, wait_for_children.token) THEN
        RETURN NULL;
    END IF;
    -- Once more, now that this holds its own row: a rota.retry of an ended child (which
    -- locks the parent first) that committed since the count above is counted, and its
    -- child locked like the others; a later one waits for this commit and finds the parent
    -- waiting. The children locked above are already held; this count is the one kept.
    v_open := rota._lock_open_children(wait_for_children.id);
    IF v_open = 0 AND NOT EXISTS (SELECT 1 FROM rota._task_children l WHERE l.parent_id = wait_for_children.id) THEN
        RAISE EXCEPTION '%: task % has no children to wait for', c_fn, wait_for_children.id
            USING ERRCODE = 'RO023',
                  HINT = 'Enqueue children first (rota.enqueue_child, or parent_id in rota.enqueue).';
    END IF;
    IF v_open > 0 THEN
        PERFORM rota._release_tasks(ARRAY[wait_for_children.id], NULL,
                                    'released by rota.wait_for_children (' || v_open || ' children open)', v_open);
    END IF;
    RETURN v_open;
END;
$fn$;
COMMENT ON FUNCTION rota.wait_for_children(bigint, integer, uuid)
    IS 'Durable wait: a running task with children not yet ended leaves its worker (state waiting, attempt not spent, slots freed) until the last of them ends; returns how many it waits for (0: all ended, it keeps running), NULL when the attempt is stale. RO023 when it has no children.';

-- The children of a task with their outcomes, for the attempt that resumes it.
CREATE OR REPLACE FUNCTION rota.children(id bigint, attempt integer, token uuid)
RETURNS TABLE(child_id bigint, task text, key text, state text, result jsonb, last_error text)
LANGUAGE plpgsql STABLE
AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM rota._check_attempts('rota.children', ARRAY[children.id], ARRAY[children.attempt], ARRAY[children.token]);
    RETURN QUERY
    -- each link, then its child by primary key (LIMIT 1 keeps the lookup a lookup: as a
    -- join, a parent of many children could be planned as a hash join over every task)
    SELECT c.id, c.task, c.key, c.state, c.result, c.last_error
    FROM rota._task_children l
    CROSS JOIN LATERAL (SELECT t.id, t.task, t.key, t.state, t.result, t.last_error FROM rota.tasks t
                        WHERE t.id = l.task_id LIMIT 1) AS c
    WHERE l.parent_id = children.id
    ORDER BY l.task_id;
END;
$fn$;
COMMENT ON FUNCTION rota.children(bigint, integer, uuid)
    IS 'Every child of a task (id, task, key, state, result, last_error), in id order; checked like rota.steps.';

-- Counts tasks that reached a final state off their waiting parents, and queues a parent
-- whose last child ended. Called in the transaction that ends them (complete, fail, reap,
-- cancel, release, drop_queue) with the parent of each child that ended (succeeded, failed
-- for good, cancelled), once per child: the callers take both from their UPDATE's
-- RETURNING, so the children are not read again and tasks without a parent cost nothing
-- here. Right after their task rows and before any counter or limit row: a parent's own
-- completion locks its row first and those rows after it, so the two cannot wait on each other.
-- Waiting parents are locked FOR NO KEY UPDATE in id order before their count is read in a
-- fresh snapshot, so two last children ending at once are counted one after the other.
-- A parent that is not waiting is not locked: it cannot start to wait while a child of it
-- is ending (rota.wait_for_children locks its unfinished children first, and waits for this
-- transaction), so the ends of a fan-out's children do not queue on their parent's row.
DROP FUNCTION IF EXISTS rota._wake_parents(bigint[]);
CREATE OR REPLACE FUNCTION rota._wake_parents(p_parent_ids bigint[])
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_parent_ids bigint[];
    v_ended integer[];
    v_ready_queues text[];
BEGIN
    IF p_parent_ids IS NULL THEN
        RETURN;
    END IF;
    SELECT array_agg(e.parent_id ORDER BY e.parent_id), array_agg(e.n ORDER BY e.parent_id)
    INTO v_parent_ids, v_ended
    FROM (SELECT p.parent_id, count(*)::integer AS n
          FROM unnest(p_parent_ids) AS p(parent_id)
          WHERE p.parent_id IS NOT NULL
          GROUP BY p.parent_id) AS e;
    IF v_parent_ids IS NULL THEN
        RETURN;
    END IF;
    PERFORM 1 FROM rota.tasks p
    WHERE p.id = ANY (v_parent_ids) AND p.state = 'waiting'
    ORDER BY p.id
    FOR NO KEY UPDATE;
    -- no parent waits (the usual case while a fan-out is still enqueuing); none can start
    -- to before this commits, since a wait first locks every unfinished child FOR SHARE
    IF NOT FOUND THEN
        RETURN;
    END IF;
    WITH woken AS (
        UPDATE rota.tasks p
        SET state = CASE WHEN p.children_open > e.n THEN 'waiting' ELSE 'queued' END,
            children_open = CASE WHEN p.children_open > e.n THEN p.children_open - e.n END,
            run_at = CASE WHEN p.children_open > e.n THEN p.run_at ELSE now() END
        FROM unnest(v_parent_ids, v_ended) AS e(id, n)
        WHERE p.id = e.id AND p.state = 'waiting'
        RETURNING p.queue, p.state)
    SELECT array_agg(DISTINCT w.queue) FILTER (WHERE w.state = 'queued') INTO v_ready_queues FROM woken w;
    PERFORM pg_notify('rota_enqueue', q) FROM unnest(v_ready_queues) AS q;
END;
$fn$;

-- Before rota.cancel of a task the session may cancel (not final, rota._may_see_task):
-- cancels its unfinished descendants, queued and waiting ones at once, running ones by a
-- cancel request their executors learn at the next heartbeat. They are locked before the
-- task, deepest generation first: a child that ends locks its own row and then its
-- parent's (rota._wake_parents), so this order never waits the other way round.
CREATE OR REPLACE FUNCTION rota._cancel_descendants(p_id bigint)
RETURNS void
LANGUAGE plpgsql VOLATILE
-- The walk and the locks are index probes, one per link and one per descendant: a plan of
-- merge or hash joins (a fan-out of 100,000 children looks big enough to the planner)
-- reads every link and every task of the history.
SET enable_seqscan = off
SET enable_hashjoin = off
SET enable_mergejoin = off
AS $fn$
DECLARE
    v_ids bigint[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM rota.tasks t
                   WHERE t.id = p_id AND t.state IN ('queued', 'running', 'waiting') AND rota._may_see_task(t.enqueued_by)) THEN
        RETURN;
    END IF;
    -- parent_id always names an older task, so the walk ends
    WITH RECURSIVE descendants(id, depth) AS (
        SELECT l.task_id, 1 FROM rota._task_children l WHERE l.parent_id = p_id
        UNION ALL
        SELECT l.task_id, d.depth + 1 FROM rota._task_children l JOIN descendants d ON l.parent_id = d.id)
    SELECT array_agg(l.id) INTO v_ids
    FROM (SELECT t.id FROM rota.tasks t JOIN descendants d ON d.id = t.id
          WHERE t.state IN ('queued', 'running', 'waiting')
          ORDER BY d.depth DESC, t.id
          FOR NO KEY UPDATE OF t) AS l;
    UPDATE rota.tasks t
    SET state = CASE WHEN t.state = 'running' THEN t.state ELSE 'cancelled' END,
        finished_at = CASE WHEN t.state = 'running' THEN t.finished_at ELSE now() END,
        children_open = NULL,
        cancel_requested = (t.state = 'running')
    WHERE t.id = ANY (v_ids) AND t.state IN ('queued', 'running', 'waiting');
    PERFORM rota._notify_finished(v_ids);
END;
$fn$;

$code$);
