-- Bytes per task (migration 0013, bench/bytes_per_task.sh): the settings that keep a task's
-- claim and complete on its page and its completion free of a separate lock record.
BEGIN;
SELECT plan(4);

SELECT ok((SELECT reloptions @> ARRAY['fillfactor=40'] FROM pg_class WHERE oid = 'rota.tasks'::regclass),
          'tasks keeps room on each page for the claim''s and the completion''s row versions');
SELECT ok((SELECT proconfig @> ARRAY['enable_seqscan=off', 'enable_bitmapscan=off', 'enable_hashjoin=off',
                                     'enable_mergejoin=off']
           FROM pg_proc WHERE oid = 'rota._complete(text, bigint[], integer[], jsonb[], uuid[])'::regprocedure),
          'the completion''s UPDATE can only walk the primary key in id order (its lock order)');

-- A batch given out of order, in a table of a few rows (where a sequential scan would win),
-- completes every task.
SELECT rota.define_queue('bytes');
SELECT rota.register_executor('bytes-1', ARRAY['bytes']);
SELECT count(*) FROM rota.enqueue_many('bytes', 'noop', array_fill('{}'::jsonb, ARRAY[3]));
SELECT count(*) FROM rota.claim('bytes-1', ARRAY['bytes'], 3);
SELECT is((SELECT count(*) FROM rota.complete_many(
               ARRAY(SELECT id FROM rota.tasks WHERE queue = 'bytes' ORDER BY id DESC),
               ARRAY[1, 1, 1],
               NULL,
               ARRAY(SELECT token(id, 1) FROM rota.tasks WHERE queue = 'bytes' ORDER BY id DESC))),
          3::bigint, 'complete_many completes a batch given in any order');
SELECT is((SELECT array_agg(state) FROM rota.tasks WHERE queue = 'bytes'), ARRAY['succeeded', 'succeeded', 'succeeded'],
          'every task succeeded');

SELECT * FROM finish();
ROLLBACK;
