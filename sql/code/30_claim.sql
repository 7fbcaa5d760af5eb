SELECT rota._apply_code('claim', $code$

DROP FUNCTION IF EXISTS rota._take_key_slot(text, text, integer);

-- Creates the missing count row of (queue, key), waiting at most lock_timeout for another
-- session's uncommitted row of the same key (a producer's, a claim's, or prune's delete);
-- true when this call created it. A claim must never wait longer: two claimers creating
-- rows for two keys in opposite order would deadlock, and a producer's transaction may stay
-- open for long.
CREATE OR REPLACE FUNCTION rota._create_key_count(p_queue text, p_key text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
SET lock_timeout = '10ms'
AS $fn$
BEGIN
    INSERT INTO rota._key_counts (queue, concurrency_key) VALUES (p_queue, p_key)
    ON CONFLICT DO NOTHING;
    RETURN FOUND;
EXCEPTION WHEN lock_not_available THEN
    RETURN false;
END;
$fn$;

-- Takes one running count of (queue, key) if the key runs fewer than p_limit tasks: locks
-- the key's count row FOR NO KEY UPDATE SKIP LOCKED (producers' KEY SHARE does not
-- conflict) and returns running + 1 (the caller writes the count once it has locked the task);
-- NULL when the key is at or above its limit (a lowered limit drains this way), or its row
-- is locked by another claim, a completion or prune (then it counts as taken). A key
-- without a row (its tasks were enqueued before the queue had a key limit, or retried
-- after prune) gets one, without waiting on other sessions (rota._create_key_count).
CREATE OR REPLACE FUNCTION rota._take_key_count(p_queue text, p_key text, p_limit integer)
RETURNS integer
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_running integer;
BEGIN
    FOR v_round IN 1..2 LOOP
        SELECT k.running INTO v_running FROM rota._key_counts k
        WHERE k.queue = p_queue AND k.concurrency_key = p_key
        FOR NO KEY UPDATE SKIP LOCKED;
        IF FOUND THEN
            RETURN CASE WHEN v_running < p_limit THEN v_running + 1 END;
        END IF;
        IF v_round = 2 OR EXISTS (SELECT 1 FROM rota._key_counts k WHERE k.queue = p_queue AND k.concurrency_key = p_key) THEN
            RETURN NULL;
        END IF;
        IF rota._create_key_count(p_queue, p_key) THEN
            RETURN 1;
        END IF;
        -- another session's row appeared (committed) meanwhile: lock that one
    END LOOP;
END;
$fn$;

-- Locks up to p_wanted ready tasks of a queue with a per-key limit p_limit, in claim order,
-- and takes their keys' counts; returns the ids and, for each, its key_slot (the key's
-- count with it; NULL for a task without a key). Tasks are locked FOR UPDATE SKIP LOCKED
-- in windows of as many as are still wanted, so concurrent claimers take disjoint tasks as
-- on the plain path; the count rows of a window's new keys are then locked FOR NO KEY
-- UPDATE SKIP LOCKED in one statement (a row locked elsewhere counts as full; a missing
-- one is made by rota._take_key_count). A key may start limit - running more (none while
-- at or above a lowered limit); its other tasks stay locked, unstarted, until commit, and
-- the next window looks further, up to p_wanted * 2 + 16 tasks in all, so one busy key
-- does not block the queue. The counts are written once, at the end, to rows held since
-- they were read, so concurrent claims cannot overshoot.
CREATE OR REPLACE FUNCTION rota._take_keyed_tasks(p_queue text, p_limit integer, p_wanted integer,
                                                  OUT ids bigint[], OUT key_slots integer[])
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_seen bigint[] := '{}';
    v_window_ids bigint[];
    v_window_keys text[];
    v_locked_keys text[];
    v_unlocked_keys text[];
    v_locked_runs integer[];
    v_key text;
    v_next integer;
    -- per key seen: the count read under its row lock (p_limit: not ours), starts taken
    v_keys text[] := '{}';
    v_bases integer[] := '{}';
    v_taken integer[] := '{}';
BEGIN
    ids := '{}';
    key_slots := '{}';
    WHILE cardinality(ids) < p_wanted AND cardinality(v_seen) < p_wanted * 2 + 16 LOOP
        SELECT array_agg(c.id), array_agg(c.concurrency_key) INTO v_window_ids, v_window_keys
        FROM (SELECT t.id, t.concurrency_key FROM rota.tasks t
              WHERE t.state = 'queued' AND t.queue = p_queue AND t.run_at <= now() AND t.id <> ALL (v_seen)
              ORDER BY t.priority, t.run_at, t.id
              LIMIT p_wanted - cardinality(ids)
              FOR UPDATE SKIP LOCKED) AS c;
        EXIT WHEN v_window_ids IS NULL;
        v_seen := v_seen || v_window_ids;
        -- the window's new keys, each with its count row locked here, or as not locked
        -- (locked elsewhere, or without a row yet: rare)
        SELECT array_agg(f.k) FILTER (WHERE c.running IS NOT NULL), array_agg(c.running) FILTER (WHERE c.running IS NOT NULL),
               array_agg(f.k) FILTER (WHERE c.running IS NULL)
        INTO v_locked_keys, v_locked_runs, v_unlocked_keys
        FROM (SELECT DISTINCT k FROM unnest(v_window_keys) AS k WHERE k IS NOT NULL AND k <> ALL (v_keys)) AS f(k)
        LEFT JOIN LATERAL (SELECT c.running FROM rota._key_counts c
                           WHERE c.queue = p_queue AND c.concurrency_key = f.k
                           FOR NO KEY UPDATE SKIP LOCKED) AS c ON true;
        IF v_locked_keys IS NOT NULL OR v_unlocked_keys IS NOT NULL THEN
            v_keys := v_keys || coalesce(v_locked_keys, '{}');
            v_bases := v_bases || coalesce(v_locked_runs, '{}');
            FOREACH v_key IN ARRAY coalesce(v_unlocked_keys, '{}') LOOP
                v_next := rota._take_key_count(p_queue, v_key, p_limit);
                v_keys := v_keys || v_key;
                v_bases := v_bases || coalesce(v_next - 1, p_limit);
            END LOOP;
            v_taken := v_taken || array_fill(0, ARRAY[cardinality(v_keys) - cardinality(v_taken)]);
        END IF;
        -- in claim order: keyless tasks, and keyed ones while their key has room; and
        -- what each key has taken since
        WITH s AS MATERIALIZED (
            SELECT w.id, w.k, w.ord, r.base + r.taken + w.n AS slot
            FROM (SELECT u.id, u.k, u.ord, row_number() OVER (PARTITION BY u.k ORDER BY u.ord) AS n
                  FROM unnest(v_window_ids, v_window_keys) WITH ORDINALITY AS u(id, k, ord)) AS w
            LEFT JOIN unnest(v_keys, v_bases, v_taken) AS r(k, base, taken) ON r.k = w.k
            WHERE w.k IS NULL OR w.n <= p_limit - r.base - r.taken)
        SELECT ids || coalesce((SELECT array_agg(s.id ORDER BY s.ord) FROM s), '{}'),
               key_slots || coalesce((SELECT array_agg(s.slot ORDER BY s.ord) FROM s), '{}'),
               coalesce((SELECT array_agg(r.taken + (SELECT count(*) FROM s WHERE s.k = r.k) ORDER BY r.i)
                         FROM unnest(v_keys, v_taken) WITH ORDINALITY AS r(k, taken, i)), '{}')
        INTO ids, key_slots, v_taken;
    END LOOP;
    IF cardinality(array_remove(key_slots, NULL)) > 0 THEN
        UPDATE rota._key_counts c SET running = c.running + v_taken[array_position(v_keys, c.concurrency_key)]
        WHERE c.queue = p_queue
          AND c.concurrency_key = ANY (ARRAY(SELECT r.k FROM unnest(v_keys, v_taken) AS r(k, taken) WHERE r.taken > 0));
    END IF;
END;
$fn$;

-- Takes up to p_wanted free slots of a queue whose limit p_limit has busy slot rows above it
-- (after a lowered limit): locks those rows (waiting when p_wait, so that claimers
-- serialize in this transitional state only), checks in a fresh snapshot that they are
-- all the rows above the current limit, and allows at most
-- (free slots it could lock) - (busy slots above K) new starts. Slots locked by others
-- count as being taken. NULL or empty: no start (the caller tries again later).
CREATE OR REPLACE FUNCTION rota._take_slots_over_limit(p_queue text, p_limit integer, p_wanted integer, p_wait boolean)
RETURNS integer[]
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_limit integer := p_limit;
    v_locked_above integer[];
    v_busy_above integer;
    v_limit_now integer;
    v_rows_above integer[];
    v_free_slots integer[];
BEGIN
    FOR i IN 1..5 LOOP
        IF p_wait THEN
            SELECT array_agg(o.slot ORDER BY o.slot), count(*) FILTER (WHERE o.task_id IS NOT NULL)
            INTO v_locked_above, v_busy_above
            FROM (SELECT s.slot, s.task_id FROM rota._queue_slots s
                  WHERE s.queue = p_queue AND s.slot > v_limit
                  ORDER BY s.slot
                  FOR UPDATE) AS o;
        ELSE
            -- this claim already holds another queue's over-limit rows: waiting here could
            -- deadlock with a claimer that takes the queues in the other order
            SELECT array_agg(o.slot ORDER BY o.slot), count(*) FILTER (WHERE o.task_id IS NOT NULL)
            INTO v_locked_above, v_busy_above
            FROM (SELECT s.slot, s.task_id FROM rota._queue_slots s
                  WHERE s.queue = p_queue AND s.slot > v_limit
                  ORDER BY s.slot
                  FOR UPDATE SKIP LOCKED) AS o;
        END IF;
        -- a fresh snapshot: the limit now, and every row above it
        SELECT q.concurrency,
               ARRAY(SELECT o.slot FROM rota._queue_slots o
                     WHERE o.queue = q.name AND o.slot > q.concurrency ORDER BY o.slot)
        INTO v_limit_now, v_rows_above
        FROM rota.queues q WHERE q.name = p_queue;
        IF v_limit_now IS NULL THEN
            RETURN NULL;
        END IF;
        IF v_limit_now = v_limit AND v_rows_above = coalesce(v_locked_above, '{}') THEN
            IF cardinality(v_rows_above) = 0 THEN
                -- the rows above K went away meanwhile; the next claim takes the plain path
                RETURN NULL;
            END IF;
            -- We hold every row above K, so define_queue cannot change the limit or add
            -- such rows before we commit (it locks them first).
            SELECT array_agg(f.slot ORDER BY f.slot) INTO v_free_slots
            FROM (SELECT s.slot FROM rota._queue_slots s
                  WHERE s.queue = p_queue AND s.task_id IS NULL AND s.slot <= v_limit
                  ORDER BY s.slot
                  LIMIT p_wanted + v_busy_above
                  FOR UPDATE SKIP LOCKED) AS f;
            RETURN v_free_slots[1:least(p_wanted, coalesce(cardinality(v_free_slots), 0) - v_busy_above)];
        END IF;
        IF NOT p_wait THEN
            RETURN NULL;
        END IF;
        v_limit := v_limit_now;
    END LOOP;
    RETURN NULL;
END;
$fn$;

-- Takes up to p_wanted of a limited queue's free concurrency slots and rate tokens, locked
-- FOR UPDATE SKIP LOCKED until commit (rota._take_holds marks the ones used); startable:
-- how many tasks may start (0: none now). Busy slot rows above a lowered limit count
-- against it (rota._take_slots_over_limit, waiting for other claimers when p_wait);
-- over_limit tells that such rows were locked. Shared by claim and start.
CREATE OR REPLACE FUNCTION rota._take_slots_and_tokens(p_queue rota.queues, p_wanted integer, p_wait boolean,
                                                       OUT slots integer[], OUT tokens integer[],
                                                       OUT startable integer, OUT over_limit boolean)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_limit integer;
BEGIN
    startable := p_wanted;
    over_limit := false;
    IF p_queue.concurrency IS NOT NULL THEN
        -- One statement, so one snapshot for the limit, the probe for busy slot rows
        -- above it (an index range probe; none in the common case) and the free slots
        -- under it: a limit lowered meanwhile cannot be missed.
        WITH lim AS MATERIALIZED (
            SELECT q.concurrency AS k,
                   EXISTS (SELECT 1 FROM rota._queue_slots o
                           WHERE o.queue = q.name AND o.slot > q.concurrency) AS over
            FROM rota.queues q WHERE q.name = p_queue.name),
        free AS (
            SELECT s.slot FROM rota._queue_slots s
            WHERE s.queue = p_queue.name AND s.task_id IS NULL
              AND s.slot <= (SELECT lim.k FROM lim) AND NOT (SELECT lim.over FROM lim)
            ORDER BY s.slot LIMIT startable
            FOR UPDATE SKIP LOCKED)
        SELECT (SELECT lim.k FROM lim), (SELECT lim.over FROM lim),
               (SELECT array_agg(free.slot ORDER BY free.slot) FROM free)
        INTO v_limit, over_limit, slots;
        IF over_limit THEN
            -- Busy slots above the limit count against it (transitional, after a
            -- lowered limit).
            slots := rota._take_slots_over_limit(p_queue.name, v_limit, startable, p_wait);
        END IF;
        startable := coalesce(cardinality(slots), 0);
        IF startable = 0 THEN
            RETURN;
        END IF;
    END IF;
    IF p_queue.rate_limit IS NOT NULL THEN
        SELECT array_agg(r.token ORDER BY r.token) INTO tokens FROM (
            SELECT r.token FROM rota._queue_rate_tokens r
            WHERE r.queue = p_queue.name AND r.used_at <= now() - p_queue.rate_period
              AND r.token <= p_queue.rate_limit
            ORDER BY r.token LIMIT startable
            FOR UPDATE SKIP LOCKED) AS r;
        startable := coalesce(cardinality(tokens), 0);
    END IF;
END;
$fn$;

-- Starts the leases of locked queued tasks for an executor: the one UPDATE of every claim
-- path. The i-th id takes the i-th of p_slots and p_key_slots (NULL: none held); p_lease
-- NULL means each task's own queue lease. Returns the tasks in claim order, with the fire
-- time of schedule fires (found through schedule_fires, so keys are never parsed) and the
-- new lease token of each.
DROP FUNCTION IF EXISTS rota._start_tasks(text, bigint[], interval, integer[], integer[]);
CREATE OR REPLACE FUNCTION rota._start_tasks(p_executor text, p_ids bigint[], p_lease interval,
                                             p_slots integer[] DEFAULT NULL, p_key_slots integer[] DEFAULT NULL)
RETURNS TABLE(id bigint, queue text, task text, payload jsonb, attempt integer, key text, parent_id bigint,
              enqueued_at timestamptz, run_at timestamptz, max_attempts integer, concurrency_key text,
              lease_expires_at timestamptz, scheduled_at timestamptz, lease_token uuid)
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH started AS (
        UPDATE rota.tasks t
        SET state = 'running', executor = p_executor, attempts = t.attempts + 1,
            started_at = clock_timestamp(), lease_token = gen_random_uuid(),
            lease_expires_at = now() + coalesce(p_lease, (SELECT q.lease FROM rota.queues q WHERE q.name = t.queue)),
            slot = CASE WHEN p_slots IS NOT NULL THEN p_slots[array_position(p_ids, t.id)] END,
            key_slot = CASE WHEN p_key_slots IS NOT NULL THEN p_key_slots[array_position(p_ids, t.id)] END
        WHERE t.id = ANY (p_ids)
        RETURNING t.id, t.queue, t.task, t.payload, t.attempts, t.key, t.parent_id, t.enqueued_at,
                  t.run_at, t.max_attempts, t.concurrency_key, t.lease_expires_at, t.priority, t.lease_token)
    SELECT s.id, s.queue, s.task, s.payload, s.attempts, s.key, s.parent_id, s.enqueued_at,
           s.run_at, s.max_attempts, s.concurrency_key, s.lease_expires_at,
           CASE WHEN s.key LIKE 'schedule:%'
                THEN (SELECT f.fire_at FROM rota.schedule_fires f WHERE f.task_id = s.id) END,
           s.lease_token
    FROM started s
    ORDER BY s.priority, s.run_at, s.id;
END;
$fn$;

-- Marks the limit rows that tasks just started hold: the i-th id holds the i-th slot and
-- uses the i-th rate token. (Key counts are taken as tasks are locked, in claim.) Undone by
-- _release_holds.
CREATE OR REPLACE FUNCTION rota._take_holds(p_queue text, p_ids bigint[], p_slots integer[], p_tokens integer[])
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    IF p_slots IS NOT NULL THEN
        UPDATE rota._queue_slots s SET task_id = p_ids[array_position(p_slots, s.slot)]
        WHERE s.queue = p_queue AND s.slot = ANY (p_slots[1:cardinality(p_ids)]);
    END IF;
    IF p_tokens IS NOT NULL THEN
        UPDATE rota._queue_rate_tokens r SET used_at = now()
        WHERE r.queue = p_queue AND r.token = ANY (p_tokens[1:cardinality(p_ids)]);
    END IF;
END;
$fn$;

-- Takes up to max ready tasks of the given queues for an executor and starts their leases.
DROP FUNCTION IF EXISTS rota.claim(text, text[], integer);
CREATE OR REPLACE FUNCTION rota.claim(executor text, queues text[], max integer DEFAULT 1)
RETURNS TABLE(id bigint, queue text, task text, payload jsonb, attempt integer, key text, parent_id bigint,
              enqueued_at timestamptz, run_at timestamptz, max_attempts integer, concurrency_key text,
              lease_expires_at timestamptz, scheduled_at timestamptz, lease_token uuid)
LANGUAGE plpgsql VOLATILE
-- `LIMIT max` makes every custom plan look cheaper than the generic one, so without this
-- each call would be planned afresh.
SET plan_cache_mode = force_generic_plan
-- A session keeps its generic plans, and one built while rota.tasks looked empty (a fresh
-- install, a queue table analyzed between bursts) would scan and sort the whole table on
-- every claim once work arrives: every statement here is an index scan by design. Nor
-- may such a plan read a queue's ready rows by run_at (tasks_queued_run_at_idx) and sort
-- them all, as it does when the ready rows are estimated at ~1 (a table never analyzed, or
-- last analyzed before a backlog arrived): 4 ms per claim over 40,000 ready tasks, against
-- 0.1 ms for the ordered scan of tasks_ready_idx, which needs no sort.
SET enable_seqscan = off
SET enable_sort = off
-- A plan that keeps a disabled node (the final sort of rota._start_tasks has no other way)
-- is costed above 10^10, far over jit_above_cost: without this, each claim would compile
-- its statements with LLVM first (140 ms a call, measured).
SET jit = off
AS $fn$
#variable_conflict use_column
DECLARE
    c_fn constant text := 'rota.claim';
    v_stopped_at timestamptz;
    v_open_queues text[];
    -- over c_probe_queues_up_to queues: no list of the open ones (v_open_queues stays NULL
    -- unless probed), the paused ones, and whether any is open
    v_many_queues boolean;
    v_paused_queues text[];
    v_any_open boolean;
    -- over c_probe_queues_up_to queues: they are all the queues there are
    v_all_queues boolean;
    v_known_count integer;
    v_any_limited boolean;
    v_lease interval;
    v_candidates_per_queue integer;
    -- up to this many queues, a claim probes each one's ready rows; above, it walks the
    -- ready rows of all queues (c_scan_rows at most) before probing
    c_probe_queues_up_to constant integer := 8;
    c_scan_rows constant integer := 2000;
    v_pick bigint[];
    v_probe boolean := true;
    v_queue rota.queues;
    v_still_wanted integer;
    v_startable integer;
    v_holding_over_limit boolean := false;
    v_slots integer[];
    v_tokens integer[];
    v_ids bigint[];
    v_key_slots integer[];
BEGIN
    IF claim.max IS NULL OR claim.max < 1 OR claim.max > 10000 THEN
        PERFORM rota._invalid(c_fn, 'max', 'must be between 1 and 10000', claim.max::text);
    END IF;
    SELECT e.stopped_at INTO v_stopped_at FROM rota.executors e WHERE e.id = claim.executor;
    IF NOT FOUND THEN
        PERFORM rota._raise_unknown(c_fn, 'executor', claim.executor, 'RO004', '(call rota.register_executor first)');
    END IF;
    IF claim.queues IS NULL OR cardinality(claim.queues) = 0 THEN
        PERFORM rota._invalid(c_fn, 'queues', 'must name at least one queue', quote_nullable(claim.queues::text));
    END IF;
    v_many_queues := cardinality(claim.queues) > c_probe_queues_up_to;
    IF NOT v_many_queues THEN
        SELECT array_agg(q.name ORDER BY q.name) FILTER (WHERE NOT q.paused),
               count(*),
               min(q.lease) FILTER (WHERE NOT q.paused),
               coalesce(bool_or(NOT q.paused AND (q.concurrency IS NOT NULL OR q.rate_limit IS NOT NULL
                                                  OR q.concurrency_key_limit IS NOT NULL)), false)
        INTO v_open_queues, v_known_count, v_lease, v_any_limited
        FROM rota.queues q WHERE q.name = ANY (claim.queues);
        IF v_known_count < cardinality(claim.queues) THEN
            PERFORM rota._check_queues_exist(c_fn, claim.queues);
        END IF;
    ELSE
        -- Many queues: no list of open queues is built, only the paused ones are listed,
        -- and what the claim must know of them is kept between claims (rota._subscription).
        SELECT s.paused_queues, s.any_limited, s.any_open, s.all_queues
        INTO v_paused_queues, v_any_limited, v_any_open, v_all_queues
        FROM rota._subscription(c_fn, claim.executor, claim.queues) AS s;
    END IF;
    -- A stopped executor takes nothing until it registers again: its tasks were released.
    IF v_stopped_at IS NOT NULL OR NOT (CASE WHEN v_many_queues THEN v_any_open ELSE v_open_queues IS NOT NULL END) THEN
        RETURN;
    END IF;

    IF NOT v_any_limited THEN
        IF NOT v_many_queues AND cardinality(v_open_queues) > 1 THEN
            -- Of a few queues, mostly one has ready tasks at a time (a fan-out's children
            -- while its parent's queue is empty): a cheap probe of each leaves the queues
            -- that have some, so that a single one takes the hot path below instead of the
            -- merged one (2 x max + 8 candidates looked up by primary key), and an idle
            -- poll ends here. A task that becomes ready meanwhile waits for the next claim,
            -- as it would had it come a moment later.
            SELECT array_agg(q.name ORDER BY q.name), min(q.lease) INTO v_open_queues, v_lease
            FROM rota.queues q
            WHERE q.name = ANY (v_open_queues)
              AND EXISTS (SELECT 1 FROM (SELECT t.id FROM rota.tasks t
                                         WHERE t.state = 'queued' AND t.queue = q.name AND t.run_at <= now()
                                         ORDER BY t.priority, t.run_at, t.id LIMIT 1) AS probe);
            IF v_open_queues IS NULL THEN
                RETURN;
            END IF;
        END IF;
        IF NOT v_many_queues AND cardinality(v_open_queues) = 1 THEN
            -- The hot path: one ordered index scan over ready rows.
            SELECT array_agg(c.id) INTO v_ids
            FROM (SELECT t.id FROM rota.tasks t
                  WHERE t.state = 'queued' AND t.queue = v_open_queues[1] AND t.run_at <= now()
                  ORDER BY t.priority, t.run_at, t.id
                  LIMIT claim.max
                  FOR UPDATE SKIP LOCKED) AS c;
        ELSE
            -- Several queues: candidates in claim order, then locked with SKIP LOCKED.
            -- Over-fetching leaves room for candidates that other claimers hold. Each task
            -- gets its queue's lease.
            v_candidates_per_queue := claim.max * 2 + 8;
            v_lease := NULL;
            IF v_many_queues THEN
                -- Many queues: walk the ready rows of all queues in claim order (one index,
                -- tasks_ready_any_queue_idx, which only a query stating `id > 0` may use:
                -- migration 0014) and keep these queues' rows, looking at no more than
                -- c_scan_rows of them.
                v_pick := ARRAY(
                    SELECT a.id FROM (SELECT x.id, x.queue FROM rota.tasks x
                                      WHERE x.state = 'queued' AND x.run_at <= now() AND x.id > 0
                                      ORDER BY x.priority, x.run_at, x.id
                                      LIMIT c_scan_rows) AS a
                    WHERE (v_all_queues OR a.queue IN (SELECT unnest(claim.queues))) AND a.queue <> ALL (v_paused_queues)
                    LIMIT v_candidates_per_queue);
                -- Probe queue by queue below only when this found too few among more ready
                -- rows than it looked at (these queues' work lies behind other queues' backlog).
                v_probe := cardinality(v_pick) < v_candidates_per_queue
                    AND (SELECT count(*) FROM (SELECT 1 FROM rota.tasks x
                                               WHERE x.state = 'queued' AND x.run_at <= now() AND x.id > 0
                                               ORDER BY x.priority, x.run_at, x.id
                                               LIMIT c_scan_rows) AS a) = c_scan_rows;
                IF v_probe THEN
                    v_open_queues := ARRAY(SELECT x FROM unnest(claim.queues) AS x
                                           WHERE x <> ALL (v_paused_queues));
                END IF;
            END IF;
            -- The candidates (when probing: the best few of each queue, ordered index
            -- scans, merged), locked in the same statement. One CASE, so that no partial
            -- index (their predicates say state = 'queued') can be proven for the lock:
            -- its only index path is then the primary key. Otherwise a generic plan built
            -- while few tasks were queued (a fresh install, statistics taken while the
            -- queues were empty) reads every queued row by run_at and filters on id, which
            -- costs a claim the whole backlog.
            SELECT array_agg(c.id) INTO v_ids
            FROM (SELECT t.id FROM rota.tasks t
                  WHERE t.id = ANY (CASE WHEN v_probe THEN ARRAY(
                                        SELECT c.id FROM unnest(v_open_queues) AS qn(name)
                                        CROSS JOIN LATERAL (
                                            SELECT x.id, x.priority, x.run_at FROM rota.tasks x
                                            WHERE x.state = 'queued' AND x.queue = qn.name AND x.run_at <= now()
                                            ORDER BY x.priority, x.run_at, x.id
                                            LIMIT v_candidates_per_queue) AS c
                                        ORDER BY c.priority, c.run_at, c.id
                                        LIMIT v_candidates_per_queue)
                                    ELSE v_pick END)
                    AND CASE WHEN t.state = 'queued' THEN t.run_at <= now() ELSE false END
                  ORDER BY t.priority, t.run_at, t.id
                  LIMIT claim.max
                  FOR UPDATE SKIP LOCKED) AS c;
        END IF;
        IF v_ids IS NOT NULL THEN
            RETURN QUERY SELECT * FROM rota._start_tasks(claim.executor, v_ids, v_lease);
        END IF;
        RETURN;
    END IF;

    -- Some queue has limits: serve the queues one at a time, in the order given.
    v_still_wanted := claim.max;
    FOR v_queue IN
        SELECT q.* FROM unnest(claim.queues) WITH ORDINALITY AS x(name, ord)
        JOIN rota.queues q ON q.name = x.name
        WHERE NOT q.paused
        ORDER BY x.ord
    LOOP
        EXIT WHEN v_still_wanted <= 0;
        -- Cheap probe first, so that idle polls lock no slot or token rows. (ORDER BY +
        -- LIMIT 1 keeps the generic plan on the ready index.) A queue with a key limit
        -- alone has none: its first window finds the same nothing.
        IF v_queue.concurrency IS NOT NULL OR v_queue.rate_limit IS NOT NULL THEN
            PERFORM 1 FROM (SELECT t.id FROM rota.tasks t
                            WHERE t.state = 'queued' AND t.queue = v_queue.name AND t.run_at <= now()
                            ORDER BY t.priority, t.run_at, t.id LIMIT 1) AS probe;
            CONTINUE WHEN NOT FOUND;
        END IF;
        SELECT l.slots, l.tokens, l.startable, v_holding_over_limit OR l.over_limit
        INTO v_slots, v_tokens, v_startable, v_holding_over_limit
        FROM rota._take_slots_and_tokens(v_queue, v_still_wanted, NOT v_holding_over_limit) AS l;
        CONTINUE WHEN v_startable = 0;

        IF v_queue.concurrency_key_limit IS NULL THEN
            SELECT array_agg(c.id) INTO v_ids FROM (
                SELECT t.id FROM rota.tasks t
                WHERE t.state = 'queued' AND t.queue = v_queue.name AND t.run_at <= now()
                ORDER BY t.priority, t.run_at, t.id
                LIMIT v_startable
                FOR UPDATE SKIP LOCKED) AS c;
            v_key_slots := NULL;
        ELSE
            SELECT k.ids, k.key_slots INTO v_ids, v_key_slots
            FROM rota._take_keyed_tasks(v_queue.name, v_queue.concurrency_key_limit, v_startable) AS k;
        END IF;
        CONTINUE WHEN coalesce(cardinality(v_ids), 0) = 0;
        RETURN QUERY SELECT * FROM rota._start_tasks(claim.executor, v_ids, v_queue.lease, v_slots, v_key_slots);
        PERFORM rota._take_holds(v_queue.name, v_ids, v_slots, v_tokens);
        v_still_wanted := v_still_wanted - cardinality(v_ids);
    END LOOP;
END;
$fn$;
COMMENT ON FUNCTION rota.claim(text, text[], integer)
    IS 'Claims up to max ready tasks (priority, run_at, id order) within concurrency, rate and key limits; attempt is the fence for complete/fail and lease_token the proof of the claim they require; scheduled_at is the fire time of a schedule''s task.';

-- Earliest run_at of a queued task in the given (unpaused) queues; a worker sleeps until then.
CREATE OR REPLACE FUNCTION rota.next_run_at(queues text[])
RETURNS timestamptz
LANGUAGE plpgsql STABLE
AS $fn$
#variable_conflict use_column
DECLARE
    v_next timestamptz;
BEGIN
    IF next_run_at.queues IS NULL OR cardinality(next_run_at.queues) = 0 THEN
        PERFORM rota._invalid('rota.next_run_at', 'queues', 'must name at least one queue', quote_nullable(next_run_at.queues::text));
    END IF;
    PERFORM rota._check_queues_exist('rota.next_run_at', next_run_at.queues);
    SELECT min(m.run_at) INTO v_next
    FROM rota.queues q
    CROSS JOIN LATERAL (SELECT t.run_at FROM rota.tasks t
                        WHERE t.state = 'queued' AND t.queue = q.name
                        ORDER BY t.run_at LIMIT 1) AS m
    WHERE q.name = ANY (next_run_at.queues) AND NOT q.paused;
    RETURN v_next;
END;
$fn$;
COMMENT ON FUNCTION rota.next_run_at(text[]) IS 'Earliest run_at of a queued task in these queues (paused ones excluded), or NULL.';

$code$);
