SELECT rota._apply_code('enqueue', $code$

-- Statement-level NOTIFY for inserted tasks: one per queue per statement, ready rows only;
-- none for the task of rota.start, which starts it itself.
CREATE OR REPLACE FUNCTION rota._notify_enqueue()
RETURNS trigger
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    IF current_setting('rota.direct_start', true) = 'on' THEN
        RETURN NULL;
    END IF;
    PERFORM pg_notify('rota_enqueue', s.queue)
    FROM (SELECT DISTINCT n.queue FROM rota_new_tasks n
          WHERE n.state = 'queued' AND n.run_at <= now()) AS s;
    RETURN NULL;
END;
$fn$;

CREATE OR REPLACE TRIGGER tasks_notify_enqueue
    AFTER INSERT ON rota.tasks
    REFERENCING NEW TABLE AS rota_new_tasks
    FOR EACH STATEMENT EXECUTE FUNCTION rota._notify_enqueue();

-- Makes sure the count row of (queue, key) exists until this transaction ends, for a task
-- of the key being enqueued into a key-limited queue: claims find the key's count there.
-- FOR KEY SHARE keeps prune from deleting the row under the uncommitted task and does not
-- conflict with claims (FOR NO KEY UPDATE), so an open transaction here blocks no claim.
CREATE OR REPLACE FUNCTION rota._keep_key_count(p_fn text, p_queue text, p_key text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    FOR v_round IN 1..5 LOOP
        INSERT INTO rota._key_counts (queue, concurrency_key) VALUES (p_queue, p_key)
        ON CONFLICT DO NOTHING;
        IF FOUND THEN
            RETURN;
        END IF;
        PERFORM 1 FROM rota._key_counts k WHERE k.queue = p_queue AND k.concurrency_key = p_key FOR KEY SHARE;
        IF FOUND THEN
            RETURN;
        END IF;
        -- pruned between the two statements: create it again
    END LOOP;
    RAISE EXCEPTION '%: could not keep the count row of concurrency key % (concurrent prunes?)', p_fn,
        quote_literal(p_key) USING ERRCODE = '40001';
END;
$fn$;

-- Adds tasks; shared by enqueue and enqueue_many. Returns ids in input order; an
-- existing (queue, key) returns the existing id, also when two sessions race.
CREATE OR REPLACE FUNCTION rota._enqueue(p_fn text, p_queue text, p_task text, p_payloads jsonb[], p_keys text[],
                              p_run_at timestamptz, p_priority integer, p_max_attempts integer,
                              p_concurrency_key text, p_parent_id bigint)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_max_attempts integer;
    v_key_limit integer;
    v_count integer := coalesce(cardinality(p_payloads), 0);
    v_bad_index integer;
    v_key_arg text;
    v_ids bigint[];
    v_proposed bigint[];  -- the id each input's task gets if it is inserted
    v_first integer[];    -- the input that makes the task of each input's key (itself if keyless)
    v_inserted bigint[];  -- the tasks this call made
    v_missing integer;  -- the first input still without an id
    v_rounds integer := 0;
BEGIN
    SELECT q.max_attempts, q.concurrency_key_limit INTO v_max_attempts, v_key_limit FROM rota.queues q WHERE q.name = p_queue;
    IF NOT FOUND THEN
        PERFORM rota._raise_unknown(p_fn, 'queue', p_queue, 'RO001');
    END IF;
    PERFORM rota._check_name(p_fn, 'task', p_task);
    IF p_max_attempts < 1 THEN
        PERFORM rota._invalid(p_fn, 'max_attempts', 'must be >= 1', p_max_attempts::text);
    END IF;
    PERFORM rota._check_key_length(p_fn, 'concurrency_key', p_concurrency_key);
    IF NOT isfinite(p_run_at) OR p_run_at > now() + interval '100 years' THEN
        PERFORM rota._invalid(p_fn, 'run_at', 'must be finite and at most 100 years ahead', p_run_at::text);
    END IF;
    IF p_parent_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM rota.tasks t WHERE t.id = p_parent_id) THEN
        PERFORM rota._raise_unknown_task(p_fn, p_parent_id, '(parent_id)');
    END IF;
    PERFORM rota._check_same_length(p_fn, 'keys', cardinality(p_keys), 'payloads', v_count);
    PERFORM rota._check_sizes(p_fn, 'payloads', p_payloads, CASE WHEN p_fn <> 'rota.enqueue_many' THEN 'payload' END);
    -- one set-based pass, so big batches do not pay a function call per element; the
    -- schedule: namespace is the scheduler's (its fires come through p_fn rota.fire_due or
    -- rota.trigger_schedule), so a user task can never pose as a schedule's fire
    SELECT u.ord INTO v_bad_index FROM unnest(p_keys) WITH ORDINALITY AS u(k, ord)
    WHERE NOT rota._is_key_length(u.k)
       OR (starts_with(u.k, 'schedule:') AND p_fn IN ('rota.enqueue', 'rota.enqueue_many', 'rota.start'))
    ORDER BY u.ord LIMIT 1;
    IF FOUND THEN
        v_key_arg := CASE WHEN p_fn <> 'rota.enqueue_many' THEN 'key' ELSE 'keys[' || v_bad_index || ']' END;
        PERFORM rota._check_key_length(p_fn, v_key_arg, p_keys[v_bad_index]);
        PERFORM rota._invalid(p_fn, v_key_arg, 'must not start with "schedule:" (reserved for the fires of schedules)',
                              quote_literal(p_keys[v_bad_index]));
    END IF;

    IF p_concurrency_key IS NOT NULL AND v_key_limit IS NOT NULL AND v_count > 0 THEN
        PERFORM rota._keep_key_count(p_fn, p_queue, p_concurrency_key);
    END IF;

    IF p_keys IS NULL THEN
        -- No keys: a plain insert, ids come back in input order (identity values are
        -- assigned in the order rows are produced by the ordered unnest).
        WITH ins AS (
            INSERT INTO rota.tasks (queue, task, payload, run_at, priority, max_attempts, concurrency_key, parent_id)
            SELECT p_queue, p_task, coalesce(u.payload, '{}'), coalesce(p_run_at, now()), coalesce(p_priority, 0),
                   coalesce(p_max_attempts, v_max_attempts), p_concurrency_key, p_parent_id
            FROM unnest(p_payloads) WITH ORDINALITY AS u(payload, ord)
            ORDER BY u.ord
            RETURNING rota.tasks.id)
        SELECT array_agg(ins.id ORDER BY ins.id) INTO v_ids FROM ins;
        v_inserted := v_ids;
    ELSE
        -- With keys: each input still without a task proposes an id (the first input of each
        -- key only: a key given twice in one call makes one task, with its first payload);
        -- the proposals of new keys become rows of rota._task_keys and their tasks are
        -- inserted, with the keyless ones. Then the keys that were there already are looked
        -- up, one probe of the key table each (a join with every key of the queue would cost
        -- each batch of a fan-out all the batches before it). A key whose row is invisible to
        -- us (inserted by a session that committed after our snapshot, or deleted meanwhile)
        -- is tried again. Every statement matches inputs by position or through a hashed
        -- subplan, never by a join that could be planned as a nested loop over the batch.
        v_ids := array_fill(NULL::bigint, ARRAY[v_count]);
        LOOP
            v_rounds := v_rounds + 1;
            -- proposals drawn in input order (a volatile expression is computed after the sort)
            SELECT array_agg(CASE WHEN v_ids[f.ord] IS NULL AND f.first = f.ord THEN nextval('rota.tasks_id_seq') END
                             ORDER BY f.ord),
                   array_agg(f.first ORDER BY f.ord)
            INTO v_proposed, v_first
            FROM (SELECT u.ord, CASE WHEN u.key IS NULL THEN u.ord
                                     ELSE first_value(u.ord) OVER (PARTITION BY u.key ORDER BY u.ord) END AS first
                  FROM unnest(p_keys) WITH ORDINALITY AS u(key, ord)
                  ORDER BY u.ord) AS f;
            WITH new_keys AS (
                INSERT INTO rota._task_keys AS k (queue, key, task_id)
                SELECT p_queue, p_keys[i], v_proposed[i] FROM generate_subscripts(p_keys, 1) AS i
                WHERE p_keys[i] IS NOT NULL AND v_proposed[i] IS NOT NULL
                -- key order, so that two batches sharing keys wait on each other in the same
                -- order instead of deadlocking
                ORDER BY p_keys[i]
                ON CONFLICT DO NOTHING
                RETURNING k.task_id),
            ins AS (
                INSERT INTO rota.tasks (id, queue, task, payload, key, run_at, priority, max_attempts, concurrency_key, parent_id)
                OVERRIDING SYSTEM VALUE
                SELECT v_proposed[i], p_queue, p_task, coalesce(p_payloads[i], '{}'), p_keys[i], coalesce(p_run_at, now()),
                       coalesce(p_priority, 0), coalesce(p_max_attempts, v_max_attempts), p_concurrency_key, p_parent_id
                FROM generate_subscripts(p_keys, 1) AS i
                WHERE v_proposed[i] IS NOT NULL
                  AND (p_keys[i] IS NULL OR v_proposed[i] IN (SELECT n.task_id FROM new_keys n))
                ORDER BY i
                RETURNING rota.tasks.id)
            SELECT array_agg(CASE WHEN v_ids[i] IS NOT NULL THEN v_ids[i]
                                  WHEN v_proposed[v_first[i]] IN (SELECT ins.id FROM ins) THEN v_proposed[v_first[i]] END
                             ORDER BY i),
                   v_inserted || array_agg(v_proposed[i] ORDER BY i) FILTER (WHERE v_proposed[i] IN (SELECT ins.id FROM ins))
            INTO v_ids, v_inserted
            FROM generate_subscripts(p_keys, 1) AS i;
            v_missing := array_position(v_ids, NULL);
            IF v_missing IS NOT NULL THEN
                -- a statement of its own, whose snapshot sees the rows of the sessions that the
                -- insert waited for; a scalar subquery, so that each key is a probe of its own
                SELECT array_agg(coalesce(x.id, (SELECT t.id FROM rota._task_keys k JOIN rota.tasks t ON t.id = k.task_id
                                                 WHERE k.queue = p_queue AND k.key = p_keys[x.ord]))
                                 ORDER BY x.ord)
                INTO v_ids
                FROM unnest(v_ids) WITH ORDINALITY AS x(id, ord);
                v_missing := array_position(v_ids, NULL);
            END IF;
            EXIT WHEN v_missing IS NULL;
            IF v_rounds >= 5 THEN
                RAISE EXCEPTION '%: could not insert or find the task with key % (concurrent deletes?)', p_fn,
                    quote_literal(p_keys[v_missing]) USING ERRCODE = '40001';
            END IF;
            -- A key row without its task (a task deleted by hand: rota._delete_tasks deletes
            -- both) frees its key.
            DELETE FROM rota._task_keys k
            WHERE k.queue = p_queue
              AND k.key = ANY (ARRAY(SELECT p_keys[x.ord] FROM unnest(v_ids) WITH ORDINALITY AS x(id, ord) WHERE x.id IS NULL))
              AND NOT EXISTS (SELECT 1 FROM rota.tasks t WHERE t.id = k.task_id);
        END LOOP;
    END IF;
    IF p_parent_id IS NOT NULL THEN
        INSERT INTO rota._task_children (parent_id, task_id) SELECT p_parent_id, x FROM unnest(v_inserted) AS x;
    END IF;
    RETURN QUERY SELECT x FROM unnest(v_ids) AS x;
END;
$fn$;

-- Adds one task and returns its id (the existing id when its key is already in the queue).
CREATE OR REPLACE FUNCTION rota.enqueue(
    queue text,
    task text,
    payload jsonb DEFAULT '{}',
    key text DEFAULT NULL,
    run_at timestamptz DEFAULT NULL,
    priority integer DEFAULT 0,
    max_attempts integer DEFAULT NULL,
    concurrency_key text DEFAULT NULL,
    parent_id bigint DEFAULT NULL)
RETURNS bigint
LANGUAGE sql VOLATILE
AS $fn$
    SELECT rota._enqueue('rota.enqueue', $1, $2, ARRAY[$3], CASE WHEN $4 IS NULL THEN NULL ELSE ARRAY[$4] END,
                         $5, $6, $7, $8, $9);
$fn$;
COMMENT ON FUNCTION rota.enqueue(text, text, jsonb, text, timestamptz, integer, integer, text, bigint)
    IS 'Adds a task; with a key, returns the existing task of that key in the queue instead of a new one.';

-- Adds one task per payload in one statement and returns their ids in input order.
CREATE OR REPLACE FUNCTION rota.enqueue_many(
    queue text,
    task text,
    payloads jsonb[],
    keys text[] DEFAULT NULL,
    run_at timestamptz DEFAULT NULL,
    priority integer DEFAULT 0,
    max_attempts integer DEFAULT NULL,
    concurrency_key text DEFAULT NULL,
    parent_id bigint DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    IF payloads IS NULL THEN
        PERFORM rota._invalid('rota.enqueue_many', 'payloads', 'must not be NULL', NULL);
    END IF;
    IF array_ndims(payloads) > 1 THEN
        PERFORM rota._invalid('rota.enqueue_many', 'payloads', 'must be one-dimensional', array_ndims(payloads)::text);
    END IF;
    RETURN QUERY SELECT * FROM rota._enqueue('rota.enqueue_many', $1, $2, $3, $4, $5, $6, $7, $8, $9);
END;
$fn$;
COMMENT ON FUNCTION rota.enqueue_many(text, text, jsonb[], text[], timestamptz, integer, integer, text, bigint)
    IS 'Adds many tasks of one kind in one statement; returns one id per payload, in input order.';

$code$);
