-- Direct start (rota.start): a task created already claimed by an executor, within the
-- queue's limits (else left queued), recovered by the reaper like any claim; the final-state
-- NOTIFY for awaited tasks only (rota.await_task); bad input refused with nothing written.
BEGIN;
SELECT plan(38);

SELECT rota.register_executor('d1');
SELECT rota.define_queue('direct', lease => '10 seconds');
SELECT rota.define_queue('direct1', concurrency => 1);
SELECT rota.define_queue('direct_rate', rate_limit => 1, rate_period => '1 hour');
SELECT rota.define_queue('direct_keys', concurrency_key_limit => 1);

-- started at once: what claim returns, a running task of d1
CREATE TEMP TABLE s1 AS SELECT * FROM rota.start('direct', 'flow', '{"n": 1}', 'd1');
SELECT results_eq($$SELECT queue, task, payload, attempt, started, lease_token IS NOT NULL,
                           lease_expires_at - now() FROM s1$$,
                  $$VALUES ('direct', 'flow', '{"n": 1}'::jsonb, 1, true, true, interval '10 seconds')$$,
                  'start: a claim of the new task (attempt 1, a lease token, the queue''s lease)');
SELECT results_eq($$SELECT t.state, t.executor, t.attempts, t.lease_token = s.lease_token
                    FROM rota.tasks t JOIN s1 s ON s.id = t.id$$,
                  $$VALUES ('running', 'd1', 1, true)$$, 'start: the task runs on the executor under that token');
SELECT is((SELECT count(*) FROM rota.claim('d1', ARRAY['direct'], 10)), 0::bigint, 'start: no claim can take it');
SELECT is((SELECT count(*) FROM rota.heartbeat('d1', ARRAY(SELECT id FROM s1), ARRAY(SELECT lease_token FROM s1))),
          0::bigint, 'start: the heartbeat renews it');
SELECT is((SELECT task_id FROM rota._awaited_tasks WHERE task_id = (SELECT id FROM s1)), (SELECT id FROM s1),
          'start: the task is awaited');
SELECT is((SELECT rota.record_step(id, attempt, 'one', '{"done": 1}', token => lease_token) FROM s1), true,
          'start: steps are recorded under the start''s attempt and token');

-- the reaper puts it back, and the next claim resumes it with its steps
UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE id = (SELECT id FROM s1);
SELECT is(rota.reap(), 1, 'reap: the start''s lease expired');
UPDATE rota.tasks SET run_at = now() WHERE id = (SELECT id FROM s1);
CREATE TEMP TABLE c2 AS SELECT * FROM rota.claim('d1', ARRAY['direct']);
SELECT results_eq('SELECT id, attempt FROM c2', 'SELECT id, 2 FROM s1', 'reap: another claim takes it, attempt 2');
SELECT results_eq('SELECT name, output FROM rota.steps((SELECT id FROM c2), 2, (SELECT lease_token FROM c2))',
                  $$VALUES ('one', '{"done": 1}'::jsonb)$$, 'reap: attempt 2 sees the step of attempt 1');
SELECT is((SELECT rota.complete(id, 2, '{"r": 1}', lease_token) FROM c2), true, 'complete: the resumed attempt');
SELECT is((SELECT count(*) FROM rota._awaited_tasks WHERE task_id = (SELECT id FROM s1)), 0::bigint,
          'complete: the awaited mark is gone with its NOTIFY');
SELECT results_eq(format('SELECT state, result FROM rota.await_task(%s)', (SELECT id FROM s1)),
                  $$VALUES ('succeeded', '{"r": 1}'::jsonb)$$, 'await_task: the final state and result');
SELECT is((SELECT count(*) FROM rota._awaited_tasks WHERE task_id = (SELECT id FROM s1)), 0::bigint,
          'await_task: a final task is not marked');

-- limits: a direct start never bypasses them; it queues instead
CREATE TEMP TABLE l1 AS SELECT * FROM rota.start('direct1', 'flow', '{}', 'd1');
CREATE TEMP TABLE l2 AS SELECT * FROM rota.start('direct1', 'flow', '{}', 'd1');
SELECT results_eq('SELECT started, attempt FROM l1 UNION ALL SELECT started, attempt FROM l2',
                  $$VALUES (true, 1), (false, 0)$$, 'concurrency 1: the first starts, the second is queued');
SELECT results_eq($$SELECT t.state, t.lease_token IS NULL FROM rota.tasks t JOIN l2 USING (id)$$,
                  $$VALUES ('queued', true)$$, 'concurrency 1: the second waits in the queue, no lease');
SELECT is((SELECT count(*) FROM rota.claim('d1', ARRAY['direct1'], 5)), 0::bigint, 'concurrency 1: no claim either');
SELECT is((SELECT slot FROM rota.tasks WHERE id = (SELECT id FROM l1)), 1, 'concurrency 1: the start holds slot 1');
SELECT is((SELECT rota.complete(id, 1, NULL, lease_token) FROM l1), true, 'concurrency 1: the first completes');
SELECT is((SELECT id FROM rota.claim('d1', ARRAY['direct1'], 5)), (SELECT id FROM l2),
          'concurrency 1: its freed slot goes to the queued one');
SELECT results_eq($$SELECT started FROM rota.start('direct_rate', 'flow', '{}', 'd1')
                    UNION ALL SELECT started FROM rota.start('direct_rate', 'flow', '{}', 'd1')$$,
                  $$VALUES (true), (false)$$, 'rate limit 1 per hour: one start, then queued');
SELECT results_eq($$SELECT started FROM rota.start('direct_keys', 'flow', '{}', 'd1', concurrency_key => 'k')
                    UNION ALL SELECT started FROM rota.start('direct_keys', 'flow', '{}', 'd1', concurrency_key => 'k')
                    UNION ALL SELECT started FROM rota.start('direct_keys', 'flow', '{}', 'd1', concurrency_key => 'other')$$,
                  $$VALUES (true), (false), (true)$$, 'key limit 1: one start per key, the next of the key queued');
SELECT is((SELECT running FROM rota._key_counts WHERE queue = 'direct_keys' AND concurrency_key = 'k'), 1,
          'key limit 1: the start counts as running');
SELECT rota.pause_queue('direct');
SELECT is((SELECT started FROM rota.start('direct', 'flow', '{}', 'd1')), false, 'a paused queue: queued, not started');
SELECT rota.resume_queue('direct');

-- a key: the task of the key, started if it waits, else as it is
SELECT rota.enqueue('direct', 'flow', '{"first": true}', key => 'k1');
SELECT results_eq($$SELECT payload, started FROM rota.start('direct', 'flow', '{"second": true}', 'd1', key => 'k1')$$,
                  $$VALUES ('{"first": true}'::jsonb, true)$$, 'key: the queued task of the key is started');
SELECT results_eq($$SELECT payload, started, attempt FROM rota.start('direct', 'flow', '{"third": true}', 'd1', key => 'k1')$$,
                  $$VALUES ('{"first": true}'::jsonb, false, 1)$$, 'key: a running task of the key is returned as it is');

-- a stopped executor starts nothing
SELECT rota.register_executor('d2');
SELECT rota.stop_executor('d2');
SELECT is((SELECT started FROM rota.start('direct', 'flow', '{}', 'd2')), false, 'a stopped executor: queued, not started');

-- final states: failed and cancelled unmark too; a retry (queued again) does not
CREATE TEMP TABLE f1 AS SELECT * FROM rota.start('direct', 'flow', '{}', 'd1', max_attempts => 2);
SELECT rota.fail(id, 1, 'boom', retry_in => '0', token => lease_token) FROM f1;
SELECT is((SELECT count(*) FROM rota._awaited_tasks WHERE task_id = (SELECT id FROM f1)), 1::bigint,
          'fail with a retry: still awaited');
SELECT rota.fail(c.id, 2, 'boom again', token => c.lease_token) FROM rota.claim('d1', ARRAY['direct'], 10) AS c
WHERE c.id = (SELECT id FROM f1);
SELECT results_eq(format('SELECT state, last_error FROM rota.await_task(%s)', (SELECT id FROM f1)),
                  $$VALUES ('failed', 'boom again')$$, 'fail out of attempts: failed with its error');
SELECT is((SELECT count(*) FROM rota._awaited_tasks WHERE task_id = (SELECT id FROM f1)), 0::bigint,
          'failed: unmarked');
SELECT rota.enqueue('direct', 'later', run_at => now() + interval '1 hour', key => 'later');
SELECT is((SELECT state FROM rota.await_task(rota.enqueue('direct', 'later', key => 'later'))), 'queued',
          'await_task: a queued task, now marked');
SELECT rota.cancel(rota.enqueue('direct', 'later', key => 'later'));
SELECT is((SELECT count(*) FROM rota._awaited_tasks t JOIN rota.tasks x ON x.id = t.task_id WHERE x.key = 'later'),
          0::bigint, 'cancel: unmarked');

-- bad input: a clear error naming the value, nothing written
CREATE TEMP TABLE before AS SELECT (SELECT count(*) FROM rota.tasks) AS tasks, (SELECT count(*) FROM rota._awaited_tasks) AS awaited;
SELECT throws_ok($$SELECT * FROM rota.start('nope', 'flow', '{}', 'd1')$$, 'RO001', 'rota.start: unknown queue ''nope''',
                 'start: an unknown queue');
SELECT throws_ok($$SELECT * FROM rota.start('direct', 'flow', '{}', 'ghost')$$, 'RO004',
                 'rota.start: unknown executor ''ghost'' (call rota.register_executor first)', 'start: an unknown executor');
SELECT throws_ok($$SELECT * FROM rota.start('direct', 'flow', jsonb_build_object('s', repeat('x', 2 * 1024 * 1024)), 'd1')$$,
                 'RO011', NULL, 'start: a payload over 1 MiB');
SELECT throws_ok($$SELECT * FROM rota.start('direct', 'bad name', '{}', 'd1')$$, 'RO010', NULL, 'start: a bad task name');
SELECT throws_ok($$SELECT * FROM rota.start('direct', 'flow', '{}', 'd1', key => 'schedule:x')$$, 'RO010', NULL,
                 'start: a key in the schedule: namespace');
SELECT results_eq('SELECT (SELECT count(*) FROM rota.tasks), (SELECT count(*) FROM rota._awaited_tasks)',
                  'SELECT tasks, awaited FROM before', 'bad input: nothing written');
SELECT throws_ok('SELECT * FROM rota.await_task(-1)', 'RO002', 'rota.await_task: unknown task id -1',
                 'await_task: an unknown task');

SELECT * FROM finish();
ROLLBACK;
