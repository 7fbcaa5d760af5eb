-- What rota.prune reads (migration 0016): the finished tasks it deletes, through
-- tasks_finished_idx, oldest first, and nothing of a history that is not yet due; a call
-- with nothing due is one probe per queue, however long the history. Counted with this
-- transaction's own statistics (pg_stat_get_xact_*). Its housekeeping (idle key rows)
-- runs on a call that found nothing due, else once a minute, and reads at most max_rows
-- count rows, going on from where the last one stopped.
BEGIN;
SELECT plan(19);

CREATE FUNCTION pg_temp.seq_reads() RETURNS bigint LANGUAGE sql AS
$$ SELECT pg_stat_get_xact_tuples_returned('rota.tasks'::regclass) $$;
CREATE FUNCTION pg_temp.heap_fetches() RETURNS bigint LANGUAGE sql AS
$$ SELECT pg_stat_get_xact_tuples_fetched('rota.tasks'::regclass) $$;
CREATE FUNCTION pg_temp.finished_scans() RETURNS bigint LANGUAGE sql AS
$$ SELECT pg_stat_get_xact_numscans('rota.tasks_finished_idx'::regclass) $$;

SELECT rota.define_queue('hist', retention => '1 day');
SELECT rota.define_queue('other', retention => '1 hour');
-- 20,000 finished tasks, none past its retention yet
INSERT INTO rota.tasks (queue, task, state, attempts, max_attempts, executor, enqueued_at, started_at, finished_at)
SELECT 'hist', 'old', (ARRAY['succeeded', 'failed', 'cancelled'])[1 + g % 3], 1, 5, 'w',
       now() - interval '1 hour', now() - interval '1 hour', now() - interval '1 hour' + g * interval '1 millisecond'
FROM generate_series(1, 20000) AS g;
ANALYZE rota.tasks;

SELECT pg_temp.seq_reads() AS seq0, pg_temp.heap_fetches() AS fetch0, pg_temp.finished_scans() AS scans0 \gset
SELECT is(rota.prune(1000), 0, 'nothing due: nothing deleted');
SELECT is(pg_temp.seq_reads() - :seq0, 0::bigint, 'nothing due: no sequential scan of the history');
SELECT cmp_ok(pg_temp.heap_fetches() - :fetch0, '<=', 2::bigint, 'nothing due: at most a probe per queue');
SELECT cmp_ok(pg_temp.finished_scans() - :scans0, '>=', 1::bigint, 'nothing due: tasks_finished_idx was probed');

-- the 5 oldest are now past the retention, plus 2 of another queue
UPDATE rota.tasks SET finished_at = finished_at - interval '2 days'
WHERE id IN (SELECT id FROM rota.tasks WHERE queue = 'hist' ORDER BY finished_at LIMIT 5);
INSERT INTO rota.tasks (queue, task, state, attempts, max_attempts, executor, enqueued_at, started_at, finished_at)
SELECT 'other', 'old', 'succeeded', 1, 5, 'w', now() - interval '2 hours', now() - interval '2 hours', now() - interval '2 hours'
FROM generate_series(1, 2);
-- one of them with an attempt and a step: they go with it (no foreign key cascades them)
INSERT INTO rota.task_attempts (task_id, attempt, outcome) SELECT min(id), 1, 'failed' FROM rota.tasks WHERE queue = 'other';
INSERT INTO rota.task_steps (task_id, name, attempt) SELECT min(id), 's', 1 FROM rota.tasks WHERE queue = 'other';
SELECT min(id) AS with_history FROM rota.tasks WHERE queue = 'other' \gset
SELECT pg_temp.seq_reads() AS seq0, pg_temp.heap_fetches() AS fetch0 \gset
SELECT is(rota.prune(1000), 7, 'due: the tasks past each queue''s retention are deleted');
SELECT cmp_ok(pg_temp.heap_fetches() - :fetch0 + pg_temp.seq_reads() - :seq0, '<=', 30::bigint,
              'due: about the rows it deletes are read, not the history');
SELECT is((SELECT count(*) FROM rota.tasks WHERE queue = 'hist'), 19995::bigint, 'the rest of the history stays');
SELECT is((SELECT count(*) FROM rota.task_attempts WHERE task_id = :with_history)
          + (SELECT count(*) FROM rota.task_steps WHERE task_id = :with_history), 0::bigint,
          'a pruned task''s attempts and steps are deleted with it');

-- housekeeping: a call that deletes rows does it once a minute (now() is this transaction's
-- start, so a minute never passes here), a call that finds nothing due each time
SELECT rota.define_queue('kq', concurrency_key_limit => 1, retention => '1 hour');
SELECT rota.register_executor('w');
CREATE FUNCTION pg_temp.idle_key(k text) RETURNS void LANGUAGE sql AS $$
    SELECT rota.enqueue('kq', 'j', concurrency_key => k);
    SELECT rota.complete(c.id, c.attempt, token => c.lease_token) FROM rota.claim('w', ARRAY['kq']) AS c;
$$;
CREATE FUNCTION pg_temp.expire(n integer) RETURNS void LANGUAGE sql AS $$
    INSERT INTO rota.tasks (queue, task, state, attempts, max_attempts, executor, enqueued_at, started_at, finished_at)
    SELECT 'other', 'old', 'succeeded', 1, 5, 'w', now() - interval '2 hours', now() - interval '2 hours', now() - interval '2 hours'
    FROM generate_series(1, n);
$$;
SELECT pg_temp.idle_key('a');
SELECT pg_temp.expire(3);
UPDATE rota._prune_housekeeping SET done_at = now() - interval '61 seconds';  -- the last, a minute ago
SELECT is(rota.prune(1000), 3, 'housekeeping: expired tasks deleted');
SELECT is((SELECT count(*) FROM rota._key_counts WHERE queue = 'kq'), 0::bigint, 'the first such call of the minute sweeps idle keys');
SELECT pg_temp.idle_key('b');
SELECT pg_temp.expire(3);
SELECT rota.prune(1000);
SELECT is((SELECT count(*) FROM rota._key_counts WHERE queue = 'kq'), 1::bigint, 'the next within the minute does not');
SELECT rota.prune(1000);
SELECT is((SELECT count(*) FROM rota._key_counts WHERE queue = 'kq'), 0::bigint, 'a call that finds nothing due does');

-- the sweep reads max_rows count rows per call in key order, from where the last stopped,
-- and starts again from the first after the last row
SELECT pg_temp.idle_key(k) FROM unnest(ARRAY['k1', 'k2', 'k4', 'k5']) AS k;
SELECT rota.enqueue('kq', 'j', concurrency_key => 'k3');  -- queued: its row stays
CREATE FUNCTION pg_temp.keys() RETURNS text LANGUAGE sql AS $$
    SELECT string_agg(concurrency_key, ',' ORDER BY concurrency_key) FROM rota._key_counts WHERE queue = 'kq' $$;
SELECT rota.prune(2);
SELECT is(pg_temp.keys(), 'k3,k4,k5', 'sweep: the first call reads the first 2 rows and deletes the idle ones');
SELECT rota.prune(2);
SELECT is(pg_temp.keys(), 'k3,k5', 'sweep: the next goes on after them (k3 has queued work)');
SELECT is((SELECT swept_key FROM rota._prune_housekeeping), 'k4', 'sweep: it stopped after the last row it read');
SELECT rota.prune(2);
SELECT is(pg_temp.keys(), 'k3', 'sweep: at the end, a call goes on from the first row within its budget');
SELECT is((SELECT swept_key FROM rota._prune_housekeeping), 'k3', 'sweep: and stops after the last row it read');
SELECT rota.prune(2);
SELECT is((SELECT swept_key FROM rota._prune_housekeeping), NULL, 'sweep: once every row was read, the next starts from the first');
-- a budget as large as the table sweeps it all in one call, wherever the last one stopped
INSERT INTO rota._key_counts (queue, concurrency_key) VALUES ('kq', 'k1'), ('kq', 'k2');  -- idle
UPDATE rota._prune_housekeeping SET swept_queue = 'kq', swept_key = 'k3';
SELECT rota.prune(10);
SELECT is(pg_temp.keys(), 'k3', 'sweep: a budget larger than the table reads every row');

SELECT * FROM finish();
ROLLBACK;
