-- Which index each claim path reads (migration 0014): a claim of a few queues probes each
-- queue's own ready rows (one queue with ready rows: as a claim of that queue alone) and
-- locks its candidates by primary key, never walking the ready
-- rows of every queue (tasks_ready_any_queue_idx), which only the many-queues walk may use;
-- and a session whose generic plans were built while rota.tasks was empty still claims by
-- an ordered index scan: neither a scan of the table nor one of tasks_queued_run_at_idx
-- and a sort of every ready row (4 ms per claim of 16 over a backlog of 40,000). Counted
-- with this transaction's own statistics (pg_stat_get_xact_*).
BEGIN;
SELECT plan(13);

CREATE FUNCTION pg_temp.any_queue_scans() RETURNS bigint LANGUAGE sql AS
$$ SELECT pg_stat_get_xact_numscans('rota.tasks_ready_any_queue_idx'::regclass) $$;
CREATE FUNCTION pg_temp.ready_scans() RETURNS bigint LANGUAGE sql AS
$$ SELECT pg_stat_get_xact_numscans('rota.tasks_ready_idx'::regclass) $$;
CREATE FUNCTION pg_temp.entries_read(p_index text) RETURNS bigint LANGUAGE sql AS
$$ SELECT pg_stat_get_xact_tuples_returned(p_index::regclass) $$;

SELECT rota.register_executor('w1');
SELECT rota.define_queue('few');
SELECT rota.define_queue('backlog');
SELECT rota.define_queue('m' || g) FROM generate_series(1, 9) AS g;
-- the first claims of this session, over an empty table: their generic plans are built now
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['few', 'backlog'], 4)), 0::bigint, 'nothing to claim yet');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 9) g), 4)), 0::bigint,
          'over many queues neither');

SELECT count(*) FROM rota.enqueue_many('backlog', 'old', array_fill('{}'::jsonb, ARRAY[40000]),
                                       run_at => now() - interval '1 hour');
SELECT rota.enqueue('few', 'new');

SELECT pg_temp.entries_read('rota.tasks_queued_run_at_idx') AS run_at_before,
       pg_temp.entries_read('rota.tasks_ready_idx') AS ready_read_before \gset
-- this session's first claim of one queue: its generic plan is built now, over a table
-- that was never analyzed (so the estimate of its ready rows is ~1)
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['backlog'], 3)), 3::bigint, 'one queue: a claim of 3');
SELECT is(pg_temp.entries_read('rota.tasks_queued_run_at_idx') - :run_at_before, 0::bigint,
          'one queue: the ready rows are not read by run_at (and sorted)');
SELECT cmp_ok(pg_temp.entries_read('rota.tasks_ready_idx') - :ready_read_before, '<=', 10::bigint,
              'one queue: the ordered scan reads about as many entries as it claims');

SELECT pg_temp.entries_read('rota.tasks_queued_run_at_idx') AS run_at_before \gset
SELECT pg_temp.any_queue_scans() AS any_before, pg_temp.ready_scans() AS ready_before \gset
SELECT is((SELECT array_agg(task) FROM rota.claim('w1', ARRAY['few', 'backlog'], 2)), ARRAY['old', 'old'],
          'two queues: the oldest ready tasks');
SELECT is(pg_temp.any_queue_scans() - :any_before, 0::bigint,
          'two queues: the ready rows of every queue are not walked');
SELECT cmp_ok(pg_temp.ready_scans() - :ready_before, '>=', 2::bigint, 'each queue''s own ready rows are probed');
SELECT is(pg_temp.entries_read('rota.tasks_queued_run_at_idx') - :run_at_before, 0::bigint,
          'two queues: the ready rows are not read by run_at');

-- Two queues, one with nothing ready (a task due in an hour, a shorter lease): a probe of
-- each leaves the one with ready tasks, which takes the one-queue path; the merged path
-- would look up 2 x 3 + 8 candidates by primary key before starting 3.
SELECT rota.define_queue('idle', lease => interval '10 seconds');
SELECT rota.enqueue('idle', 'later', run_at => now() + interval '1 hour');
SELECT pg_temp.entries_read('rota.tasks_pkey') AS pkey_before \gset
CREATE TEMP TABLE one_ready AS SELECT * FROM rota.claim('w1', ARRAY['idle', 'backlog'], 3);
SELECT is((SELECT array_agg(DISTINCT queue) FROM one_ready), ARRAY['backlog'],
          'two queues, one with ready tasks: they come from it');
SELECT cmp_ok(pg_temp.entries_read('rota.tasks_pkey') - :pkey_before, '<=', 3::bigint,
              '... by the one-queue path: the primary key is read only to start the 3 claimed');
SELECT ok((SELECT bool_and(lease_expires_at > now() + interval '20 seconds') FROM one_ready),
          '... each with its own queue''s lease (30 s), not the idle queue''s');

SELECT pg_temp.any_queue_scans() AS any_before \gset
SELECT rota.enqueue('m1', 'many');
SELECT cmp_ok((SELECT count(*) FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 9) g), 1))
              + pg_temp.any_queue_scans() - :any_before, '>=', 2::bigint,
              'over many queues the walk does use it (and claims)');

SELECT * FROM finish();
ROLLBACK;
