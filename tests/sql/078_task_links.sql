-- Keys and parent links live in tables of their own (migration 0020): rota._enqueue writes
-- them once, for the tasks it inserts; rota._delete_tasks (prune, drop_queue) deletes them
-- with their tasks; claims and completions never touch them. Then the migration itself:
-- it copies the keys and parents of existing tasks.
BEGIN;
SELECT plan(30);

CREATE FUNCTION pg_temp.link_writes() RETURNS bigint LANGUAGE sql AS
$$ SELECT sum(pg_stat_get_xact_tuples_inserted(c) + pg_stat_get_xact_tuples_updated(c) + pg_stat_get_xact_tuples_deleted(c))
   FROM unnest(ARRAY['rota._task_keys'::regclass, 'rota._task_children'::regclass]) AS c $$;

SELECT rota.register_executor('w');
SELECT rota.define_queue('parents');
SELECT rota.define_queue('kids', retention => '1 hour');
SELECT rota.enqueue('parents', 'parent') AS parent \gset
SELECT rota.enqueue('parents', 'other-parent') AS other_parent \gset

-- 1. What an enqueue writes
SELECT is(ARRAY(SELECT indexname::text FROM pg_indexes WHERE schemaname = 'rota' AND tablename = 'tasks'
                AND (indexdef LIKE '%(queue, key)%' OR indexdef LIKE '%(parent_id)%')),
          '{}'::text[], 'rota.tasks has no index on its key or its parent');
CREATE TEMP TABLE batch AS
SELECT x.id, x.ord FROM rota.enqueue_many('kids', 'child', ARRAY['{"n": 1}', '{"n": 2}', '{"n": 3}', '{"n": 4}']::jsonb[],
                                          keys => ARRAY['a', NULL, 'b', 'a'], parent_id => :parent)
                        WITH ORDINALITY AS x(id, ord);
SELECT is((SELECT count(DISTINCT id) FROM batch), 3::bigint, 'a batch with a key given twice makes 3 tasks');
SELECT is((SELECT id FROM batch WHERE ord = 4), (SELECT id FROM batch WHERE ord = 1), 'the repeated key gets the first one''s task');
SELECT is((SELECT payload FROM rota.tasks WHERE id = (SELECT id FROM batch WHERE ord = 1)), '{"n": 1}'::jsonb,
          '... with the first one''s payload');
SELECT ok((SELECT bool_and(id < lead) FROM (SELECT id, lead(id) OVER (ORDER BY ord) FROM batch WHERE ord < 4) AS s
           WHERE lead IS NOT NULL), 'new tasks get ids in input order');
SELECT results_eq($$SELECT key, task_id FROM rota._task_keys WHERE queue = 'kids' ORDER BY key$$,
                  $$SELECT t.key, t.id FROM rota.tasks t WHERE t.queue = 'kids' AND t.key IS NOT NULL ORDER BY t.key$$,
                  'one key row per keyed task, naming it');
SELECT results_eq($$SELECT task_id FROM rota._task_children WHERE parent_id = $$ || :parent || $$ ORDER BY task_id$$,
                  $$SELECT DISTINCT id FROM batch ORDER BY id$$,
                  'one link per new child, keyed or not');

-- an existing key under another parent: the task is returned, not adopted
SELECT is(rota.enqueue('kids', 'child', key => 'a', parent_id => :other_parent), (SELECT id FROM batch WHERE ord = 1),
          'an existing key returns its task');
SELECT is((SELECT count(*) FROM rota._task_children WHERE parent_id = :other_parent), 0::bigint,
          '... which does not become a child of the new parent');
SELECT is((SELECT count(*) FROM rota._task_keys WHERE queue = 'kids'), 2::bigint, '... and no key row is added');

-- 2. Claims and completions write no key or link row
SELECT pg_temp.link_writes() AS writes0 \gset
CREATE TEMP TABLE claimed AS SELECT c.id, c.attempt, c.lease_token FROM rota.claim('w', ARRAY['kids'], 10) AS c;
SELECT is((SELECT count(*) FROM rota.complete_many((SELECT array_agg(id ORDER BY id) FROM claimed),
                                                   (SELECT array_agg(attempt ORDER BY id) FROM claimed), NULL,
                                                   (SELECT array_agg(lease_token ORDER BY id) FROM claimed))),
          3::bigint, 'the children are claimed and completed');
SELECT is(pg_temp.link_writes() - :writes0, 0::bigint, 'claims and completions write no key or link row');

-- 3. Prune deletes the links and frees the keys of the tasks it deletes
UPDATE rota.tasks SET finished_at = now() - interval '2 hours' WHERE queue = 'kids';
SELECT is(rota.prune(100), 3, 'prune deletes the finished children');
SELECT is((SELECT count(*) FROM rota._task_keys WHERE queue = 'kids'), 0::bigint, 'prune deletes their key rows');
SELECT is((SELECT count(*) FROM rota._task_children WHERE parent_id = :parent), 0::bigint, 'prune deletes their links');
SELECT isnt(rota.enqueue('kids', 'child', key => 'a'), (SELECT id FROM batch WHERE ord = 1),
            'a pruned task''s key makes a new task');

-- 4. drop_queue with force
SELECT rota.define_queue('doomed');
SELECT rota.enqueue_many('doomed', 'child', ARRAY['{}', '{}']::jsonb[], keys => ARRAY['x', 'y'], parent_id => :parent);
SELECT rota.drop_queue('doomed', force => true);
SELECT is((SELECT count(*) FROM rota._task_keys WHERE queue = 'doomed'), 0::bigint, 'drop_queue deletes the key rows');
SELECT is((SELECT count(*) FROM rota._task_children WHERE parent_id = :parent), 0::bigint, 'drop_queue deletes the links');

-- 5. A task deleted by hand leaves its key row behind: the next enqueue of the key frees it
SELECT rota.enqueue('kids', 'child', key => 'by-hand') AS by_hand \gset
DELETE FROM rota.tasks WHERE id = :by_hand;
SELECT rota.enqueue('kids', 'child', key => 'by-hand') AS by_hand_again \gset
SELECT isnt(:by_hand_again::bigint, :by_hand::bigint, 'a key whose task was deleted by hand makes a new task');
SELECT is((SELECT task_id FROM rota._task_keys WHERE queue = 'kids' AND key = 'by-hand'), :by_hand_again::bigint,
          '... and its key row names the new one');

-- 6. A parent of many children beside a long history (20,000 finished children of 20 other
--    parents): its children are read, locked and cancelled through their links, one probe
--    each, never by a scan of every task or link
WITH history AS (
    INSERT INTO rota.tasks (queue, task, state, attempts, max_attempts, executor, started_at, finished_at, parent_id)
    SELECT 'kids', 'history', 'succeeded', 1, 1, 'w', now(), now(), :other_parent + g % 20 FROM generate_series(1, 20000) AS g
    RETURNING id, parent_id)
INSERT INTO rota._task_children (parent_id, task_id) SELECT parent_id, id FROM history;
SELECT rota.enqueue('parents', 'big-parent') AS big \gset
SELECT count(*) FROM rota.enqueue_many('kids', 'child', array_fill('{}'::jsonb, ARRAY[5000]), parent_id => :big);
UPDATE rota.tasks SET state = 'running', attempts = 1, executor = 'w', started_at = now(),
                      lease_expires_at = now() + interval '1 minute', lease_token = gen_random_uuid()
WHERE id = :big;
SELECT attempts AS big_attempt, lease_token AS big_token FROM rota.tasks WHERE id = :big \gset
ANALYZE rota.tasks;
ANALYZE rota._task_children;
CREATE FUNCTION pg_temp.seq_reads() RETURNS bigint LANGUAGE sql AS
$$ SELECT pg_stat_get_xact_tuples_returned('rota.tasks'::regclass) + pg_stat_get_xact_tuples_returned('rota._task_children'::regclass) $$;
SELECT pg_temp.seq_reads() AS seq0 \gset
SELECT is((SELECT count(*) FROM rota.children(:big, :big_attempt, :'big_token')), 5000::bigint, 'children() lists 5,000 children');
SELECT is(rota.wait_for_children(:big, :big_attempt, :'big_token'), 5000, 'wait_for_children waits for the 5,000');
SELECT is(rota.cancel(:big), 'cancelled', 'the waiting parent is cancelled, with its children');
SELECT is(pg_temp.seq_reads() - :seq0, 0::bigint, 'no task and no link was read by a sequential scan');

-- 7. The migration copies the keys and parents of the tasks it finds (run again here on
--    the state before it: the two indexes, no link tables)
DROP TABLE rota._task_keys, rota._task_children;
CREATE UNIQUE INDEX tasks_queue_key_idx ON rota.tasks (queue, key) WHERE key IS NOT NULL;
CREATE INDEX tasks_parent_idx ON rota.tasks (parent_id) WHERE parent_id IS NOT NULL;
DELETE FROM rota._migrations WHERE version = 20;
INSERT INTO rota.tasks (queue, task, key, parent_id, max_attempts)
VALUES ('kids', 'old', 'old-1', :parent, 1), ('kids', 'old', 'old-2', NULL, 1), ('kids', 'old', NULL, :parent, 1);
\ir ../../sql/migrations/0020_task_links.sql
SELECT rota._grant_privileges();  -- as sql/install.sql does after the migrations
SELECT is((SELECT count(*) FROM rota._migrations WHERE version = 20), 1::bigint, 'migration 0020 runs');
SELECT results_eq($$SELECT key, task_id FROM rota._task_keys ORDER BY key$$,
                  $$SELECT key, id FROM rota.tasks WHERE key IS NOT NULL ORDER BY key$$,
                  'every key is copied');
SELECT results_eq($$SELECT parent_id, task_id FROM rota._task_children ORDER BY task_id$$,
                  $$SELECT parent_id, id FROM rota.tasks WHERE parent_id IS NOT NULL ORDER BY id$$,
                  'every parent link is copied');
SELECT is((SELECT count(*) FROM pg_indexes WHERE schemaname = 'rota' AND indexname IN ('tasks_queue_key_idx', 'tasks_parent_idx')),
          0::bigint, 'the old indexes are dropped');
SELECT is(rota.enqueue('kids', 'child', key => 'old-1'), (SELECT id FROM rota.tasks WHERE key = 'old-1'),
          'a copied key deduplicates');
SELECT is((SELECT count(*) FROM rota._task_children l JOIN rota.tasks c ON c.id = l.task_id
           WHERE l.parent_id = :parent AND c.state = 'queued'), 2::bigint,
          'the copied links are the parent''s open children');

SELECT * FROM finish();
ROLLBACK;
