-- Completions of children and of awaited tasks never read tasks_finished_idx (migration
-- 0016), whose predicate their filters would match, or the parent's other children (their
-- links in rota._task_children since migration 0020): with statistics taken while a fan-out's children were all queued, the plans of rota._wake_parents and
-- rota._notify_finished hashed every finished task on each call (68 ms per completion batch
-- in a 60,000-child drain, growing with the history). rota._notify_finished now looks its
-- tasks up by primary key; rota._wake_parents reads no task (its callers pass the parents).
-- Counted with this transaction's own statistics (pg_stat_get_xact_*).
BEGIN;
SELECT plan(6);

CREATE FUNCTION pg_temp.index_reads(p_index text) RETURNS bigint LANGUAGE sql AS
$$ SELECT pg_stat_get_xact_tuples_returned(p_index::regclass) $$;

SELECT rota.register_executor('w');
SELECT rota.define_queue('parents');
SELECT rota.define_queue('kids');
SELECT rota.enqueue('parents', 'parent') AS parent \gset
-- a fan-out: its 5,000 children queued when the table is analyzed
SELECT count(*) FROM rota.enqueue_many('kids', 'child', array_fill('{}'::jsonb, ARRAY[5000]), parent_id => :parent);
ANALYZE rota.tasks;
-- then most of them end (as a drain would have them)
UPDATE rota.tasks SET state = 'succeeded', attempts = 1, executor = 'w', started_at = now(), finished_at = now()
WHERE id IN (SELECT id FROM rota.tasks WHERE parent_id = :parent ORDER BY id LIMIT 4000);

CREATE TEMP TABLE claimed AS SELECT c.id, c.attempt, c.lease_token FROM rota.claim('w', ARRAY['kids'], 20) AS c;
SELECT pg_temp.index_reads('rota.tasks_finished_idx') AS finished0, pg_temp.index_reads('rota._task_children_pkey') AS parent0 \gset
SELECT is((SELECT count(*) FROM rota.complete_many((SELECT array_agg(id ORDER BY id) FROM claimed),
                                                   (SELECT array_agg(attempt ORDER BY id) FROM claimed), NULL,
                                                   (SELECT array_agg(lease_token ORDER BY id) FROM claimed))),
          20::bigint, 'children: a batch of 20 completes');
SELECT is(pg_temp.index_reads('rota.tasks_finished_idx') - :finished0, 0::bigint,
          'children: the finished tasks are not read');
SELECT is(pg_temp.index_reads('rota._task_children_pkey') - :parent0, 0::bigint,
          'children: the other children are not read');

-- an awaited task (rota.await_task, as a request that started it waits for it)
SELECT rota.enqueue('kids', 'awaited', key => 'awaited') AS awaited \gset
SELECT count(*) FROM rota.await_task(:awaited);
DELETE FROM claimed;
INSERT INTO claimed SELECT c.id, c.attempt, c.lease_token FROM rota.claim('w', ARRAY['kids'], 1000) AS c;
SELECT pg_temp.index_reads('rota.tasks_finished_idx') AS finished0 \gset
SELECT is((SELECT count(*) FROM rota.complete_many((SELECT array_agg(id ORDER BY id) FROM claimed),
                                                   (SELECT array_agg(attempt ORDER BY id) FROM claimed), NULL,
                                                   (SELECT array_agg(lease_token ORDER BY id) FROM claimed))),
          981::bigint, 'awaited: the rest complete, the awaited task with them');
SELECT is((SELECT count(*) FROM rota._awaited_tasks), 0::bigint, 'awaited: it is no longer awaited');
SELECT is(pg_temp.index_reads('rota.tasks_finished_idx') - :finished0, 0::bigint,
          'awaited: the finished tasks are not read');

SELECT * FROM finish();
ROLLBACK;
