SELECT rota._apply_code('subscriptions', $code$

-- What a claim over many queues must know of them: the paused ones, whether any is
-- limited (concurrency, rate or key limit), whether any is open and whether they are all
-- the queues there are; RO001 naming a queue that does not exist. Kept per executor in rota._executor_subscriptions and read from
-- there while the queue catalog keeps its version and the claim names the same queues, so
-- that a worker given 1,000 queues does not look each one up on every claim. The version
-- is read before the queues: a change committed in between leaves a row that is read
-- again at the next claim, never one that outlives the change. Nothing is kept when this
-- transaction changed a queue itself: the version moves once per transaction, so its
-- further changes would leave the row standing.
CREATE OR REPLACE FUNCTION rota._subscription(p_fn text, p_executor text, p_queues text[],
                                              OUT paused_queues text[], OUT any_limited boolean,
                                              OUT any_open boolean, OUT all_queues boolean)
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_version bigint;
    v_changed_here boolean;
    v_known_count integer;
BEGIN
    SELECT c.version, c.xmin = pg_current_xact_id_if_assigned()::xid,
           s.paused_queues, s.any_limited, s.any_open, s.all_queues
    INTO v_version, v_changed_here, paused_queues, any_limited, any_open, all_queues
    FROM rota._queue_catalog c
    LEFT JOIN rota._executor_subscriptions s
           ON s.executor = p_executor AND s.catalog_version = c.version AND s.queues = p_queues
    WHERE c.singleton;
    IF any_open IS NOT NULL THEN
        RETURN;
    END IF;
    -- a semi-join: `= ANY` of a long array costs a walk of the array per row
    SELECT count(*),
           coalesce(array_agg(q.name) FILTER (WHERE q.paused), '{}'),
           coalesce(bool_or(NOT q.paused AND (q.concurrency IS NOT NULL OR q.rate_limit IS NOT NULL
                                              OR q.concurrency_key_limit IS NOT NULL)), false),
           coalesce(bool_or(NOT q.paused), false)
    INTO v_known_count, paused_queues, any_limited, any_open
    FROM rota.queues q WHERE q.name IN (SELECT unnest(p_queues));
    IF v_known_count < cardinality(p_queues) THEN
        PERFORM rota._check_queues_exist(p_fn, p_queues);
    END IF;
    all_queues := v_known_count = (SELECT count(*) FROM rota.queues q);
    IF v_changed_here THEN
        RETURN;
    END IF;
    INSERT INTO rota._executor_subscriptions AS s (executor, queues, catalog_version, paused_queues, any_open,
                                                   any_limited, all_queues)
    VALUES (p_executor, p_queues, v_version, paused_queues, any_open, any_limited, all_queues)
    ON CONFLICT (executor) DO UPDATE
    SET queues = EXCLUDED.queues, catalog_version = EXCLUDED.catalog_version, paused_queues = EXCLUDED.paused_queues,
        any_open = EXCLUDED.any_open, any_limited = EXCLUDED.any_limited, all_queues = EXCLUDED.all_queues;
END;
$fn$;

$code$);
