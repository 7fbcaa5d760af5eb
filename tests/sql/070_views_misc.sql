-- Views, next_run_at, prune, steps.
BEGIN;
SELECT plan(27);

SELECT rota.register_executor('w1', host => 'h', pid => 42);
SELECT rota.register_executor('old');
UPDATE rota.executors SET last_heartbeat_at = now() - interval '10 minutes' WHERE id = 'old';
SELECT rota.define_queue('v', concurrency => 4, rate_limit => 9, rate_period => '1 minute', max_attempts => 1, lease => '1 minute');
SELECT rota.define_queue('idle');
SELECT rota.enqueue_many('v', 'job', array_fill('{}'::jsonb, ARRAY[6]), ARRAY['a', 'b', 'c', 'd', 'e', 'f']);
UPDATE rota.tasks SET run_at = now() - interval '30 seconds' WHERE key IN ('a', 'b', 'c', 'd', 'e');
SELECT rota.enqueue('v', 'job', key => 'later', run_at => now() + interval '1 hour');
SELECT rota.claim('w1', ARRAY['v'], 3);
SELECT rota.complete((SELECT id FROM rota.tasks WHERE key = 'a'), 1);
SELECT rota.fail((SELECT id FROM rota.tasks WHERE key = 'b'), 1, 'kaput');
SELECT rota.cancel((SELECT id FROM rota.tasks WHERE key = 'f'));

-- queue_stats
SELECT results_eq($$SELECT ready, delayed, running, succeeded, failed, cancelled, oldest_ready_age, concurrency, slots_in_use, rate_limit, paused
                    FROM rota.queue_stats WHERE queue = 'v'$$,
                  $$VALUES (2::bigint, 1::bigint, 1::bigint, 1::bigint, 1::bigint, 1::bigint, interval '30 seconds', 4, 1::bigint, 9, false)$$,
                  'queue_stats counts by state, oldest ready age, limits');
SELECT results_eq($$SELECT ready, running, oldest_ready_age, concurrency FROM rota.queue_stats WHERE queue = 'idle'$$,
                  $$VALUES (0::bigint, 0::bigint, NULL::interval, NULL::int)$$, 'an empty queue has a zero row');

-- failures
SELECT results_eq($$SELECT queue, task, attempt, executor, error, final, failed_at = now() FROM rota.failures$$,
                  $$VALUES ('v', 'job', 1, 'w1', 'kaput', true, true)$$, 'failures lists the failed attempt with its context');

-- executor_status
SELECT results_eq($$SELECT executor, host, pid, alive, stopped, running FROM rota.executor_status ORDER BY executor$$,
                  $$VALUES ('old', NULL::text, NULL::int, false, false, 0::bigint), ('w1', 'h', 42, true, false, 1::bigint)$$,
                  'executor_status: alive by heartbeat, running count');
SELECT rota.stop_executor('w1');
SELECT results_eq($$SELECT alive, stopped, running FROM rota.executor_status WHERE executor = 'w1'$$,
                  $$VALUES (false, true, 0::bigint)$$, 'a stopped executor is not alive');

-- next_run_at
SELECT is(rota.next_run_at(ARRAY['v']), now() - interval '30 seconds', 'next_run_at: the earliest queued run_at');
SELECT is(rota.next_run_at(ARRAY['idle']), NULL, 'NULL when nothing is queued');
UPDATE rota.tasks SET state = 'cancelled', finished_at = now(), lease_expires_at = NULL WHERE queue = 'v' AND state = 'queued' AND key <> 'later';
SELECT is(rota.next_run_at(ARRAY['v', 'idle']), now() + interval '1 hour', 'delayed tasks count');
SELECT rota.pause_queue('v');
SELECT is(rota.next_run_at(ARRAY['v']), NULL, 'paused queues are ignored');
SELECT rota.resume_queue('v');

-- prune: finished tasks past retention, in bounded batches
SELECT rota.define_queue('p', retention => '1 day');
SELECT rota.enqueue_many('p', 'old', array_fill('{}'::jsonb, ARRAY[5]));
SELECT rota.enqueue('p', 'recent');
SELECT rota.enqueue('p', 'waiting');
UPDATE rota.tasks SET state = 'succeeded', finished_at = now() - interval '2 days' WHERE task = 'old';
UPDATE rota.tasks SET state = 'failed', finished_at = now() - interval '1 hour' WHERE task = 'recent';
UPDATE rota.tasks SET enqueued_at = now() - interval '1 year' WHERE task = 'waiting';
INSERT INTO rota.task_attempts (task_id, attempt, outcome) SELECT id, 1, 'failed' FROM rota.tasks WHERE task = 'old';
SELECT is(rota.prune(3), 3, 'prune deletes at most max_rows');
SELECT is(rota.prune(), 2, 'the rest on the next call');
SELECT is(rota.prune(), 0, 'nothing left to prune');
SELECT is((SELECT array_agg(task ORDER BY task) FROM rota.tasks WHERE queue = 'p'), ARRAY['recent', 'waiting'],
          'recent finished and unfinished tasks stay');
SELECT is((SELECT count(*) FROM rota.task_attempts a WHERE NOT EXISTS (SELECT 1 FROM rota.tasks t WHERE t.id = a.task_id)), 0::bigint,
          'attempt rows go with their tasks');
SELECT is((SELECT count(*) FROM rota.tasks WHERE queue = 'v'), 7::bigint, 'other queues keep theirs (retention 7 days)');

-- prune also drops key slots of idle keys
SELECT rota.define_queue('kq', concurrency_key_limit => 2);
SELECT rota.register_executor('w2');
SELECT rota.enqueue('kq', 'j', concurrency_key => 'x', key => 'kx');
SELECT rota.claim('w2', ARRAY['kq']);
SELECT is((SELECT count(*) FROM rota._key_slots WHERE queue = 'kq'), 2::bigint, 'key slots created on first use');
SELECT rota.prune();
SELECT is((SELECT count(*) FROM rota._key_slots WHERE queue = 'kq'), 2::bigint, 'a busy key keeps its slots');
SELECT rota.complete((SELECT id FROM rota.tasks WHERE key = 'kx'), 1);
SELECT rota.prune();
SELECT is((SELECT count(*) FROM rota._key_slots WHERE queue = 'kq'), 0::bigint, 'an idle key''s slots are pruned');

-- steps
SELECT rota.enqueue('kq', 's', key => 'steps');
CREATE TEMP TABLE st AS SELECT id FROM rota.tasks WHERE key = 'steps';
SELECT rota.claim('w2', ARRAY['kq']);
SELECT is(rota.step((SELECT id FROM st), 1, 'charge'), NULL, 'a step not yet recorded');
SELECT is(rota.record_step((SELECT id FROM st), 1, 'charge', '{"charge_id": "ch_1"}'), true, 'record_step');
SELECT is(rota.step((SELECT id FROM st), 1, 'charge'), '{"charge_id": "ch_1"}'::jsonb, 'step returns the recorded output');
UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE id = (SELECT id FROM st);
SELECT rota.reap();
UPDATE rota.tasks SET run_at = now() WHERE id = (SELECT id FROM st);
SELECT is((SELECT attempt FROM rota.claim('w2', ARRAY['kq'])), 2, 'attempt 2 after a crash');
SELECT is(rota.step((SELECT id FROM st), 2, 'charge'), '{"charge_id": "ch_1"}'::jsonb, 'the next attempt sees the checkpoint');
SELECT is(rota.record_step((SELECT id FROM st), 1, 'charge', '{"charge_id": "ch_2"}'), false, 'the old attempt is fenced off');
SELECT is(rota.step((SELECT id FROM st), 2, 'charge'), '{"charge_id": "ch_1"}'::jsonb, '... and wrote nothing');
SELECT is(rota.record_step((SELECT id FROM st), 2, 'ship', 'null'), true, 'the current attempt records another step');
SELECT throws_ok(format('SELECT rota.step(%s, 3, %L)', (SELECT id FROM st), 'charge'), 'RO021',
                 format('rota.step: attempt 3 of task %s was never claimed (it has 2 attempts)', (SELECT id FROM st)),
                 'step with an impossible attempt');

SELECT * FROM finish();
ROLLBACK;
