-- Executors: register, heartbeat, stop (release without spending an attempt), reap.
BEGIN;
SELECT plan(43);

SELECT rota.define_queue('q', concurrency => 3, max_attempts => 2, lease => '20 seconds', backoff_base => '1 second', backoff_max => '10 seconds');
SELECT rota.define_queue('k', concurrency_key_limit => 1, max_attempts => 5);

-- register
SELECT lives_ok($$SELECT rota.register_executor('w1', ARRAY['q'], 'host-a', 1234, '{"version": "1.0"}')$$, 'register_executor');
SELECT results_eq($$SELECT host, pid, queues, meta, started_at = now(), last_heartbeat_at = now(), stopped_at FROM rota.executors WHERE id = 'w1'$$,
                  $$VALUES ('host-a', 1234, ARRAY['q'], '{"version": "1.0"}'::jsonb, true, true, NULL::timestamptz)$$, 'stored');
SELECT lives_ok($$SELECT rota.register_executor('w1', host => 'host-b')$$, 're-register (upsert)');
SELECT is((SELECT host FROM rota.executors WHERE id = 'w1'), 'host-b', 'updated');
SELECT rota.register_executor('w2');

-- heartbeat renews leases
SELECT rota.enqueue_many('q', 'job', array_fill('{}'::jsonb, ARRAY[3]), ARRAY['h1', 'h2', 'h3']);
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['q'], 2)), 2::bigint, 'w1 runs two');
SELECT is((SELECT count(*) FROM rota.claim('w2', ARRAY['q'], 1)), 1::bigint, 'w2 runs one');
UPDATE rota.tasks SET lease_expires_at = now() - interval '5 seconds' WHERE state = 'running';
UPDATE rota.executors SET last_heartbeat_at = now() - interval '1 hour';
SELECT is((SELECT count(*) FROM rota.heartbeat('w1')), 0::bigint, 'nothing to abort');
SELECT is((SELECT count(*) FROM rota.tasks WHERE executor = 'w1' AND state = 'running' AND lease_expires_at = now() + interval '20 seconds'),
          2::bigint, 'the heartbeat renewed both leases of w1');
SELECT is((SELECT lease_expires_at FROM rota.tasks WHERE executor = 'w2'), now() - interval '5 seconds', 'not the lease of w2');
SELECT is((SELECT last_heartbeat_at FROM rota.executors WHERE id = 'w1'), now(), 'last_heartbeat_at updated');
SELECT is((SELECT array_agg(x ORDER BY x) FROM rota.heartbeat('w1', ARRAY[(SELECT id FROM rota.tasks WHERE key = 'h3'), -7]) AS x),
          ARRAY[-7, (SELECT id FROM rota.tasks WHERE key = 'h3')]::bigint[], 'held ids it no longer runs are returned');
-- a process restarted under a killed one's id holds none of its tasks: they must expire
UPDATE rota.tasks SET lease_expires_at = now() - interval '5 seconds' WHERE executor = 'w1' AND state = 'running';
SELECT is((SELECT count(*) FROM rota.heartbeat('w1', ARRAY[(SELECT min(id) FROM rota.tasks WHERE executor = 'w1' AND state = 'running')])),
          0::bigint, 'heartbeat with held');
SELECT is((SELECT count(*) FROM rota.tasks WHERE executor = 'w1' AND state = 'running' AND lease_expires_at > now()),
          1::bigint, 'with held, only the held task is renewed');
SELECT is((SELECT count(*) FROM rota.heartbeat('w1')), 0::bigint, 'without held, every task of the executor is renewed');

-- reap: an expired lease goes back to queued with backoff and an attempt row
SELECT is(rota.reap(), 1, 'reap recovers the expired task of w2');
SELECT results_eq($$SELECT state, lease_expires_at, attempts, run_at > now(), run_at <= now() + interval '1.25 seconds'
                    FROM rota.tasks WHERE key = 'h3'$$,
                  $$VALUES ('queued', NULL::timestamptz, 1, true, true)$$, 'queued again after a backoff');
SELECT results_eq($$SELECT attempt, executor, outcome, error FROM rota.task_attempts WHERE task_id = (SELECT id FROM rota.tasks WHERE key = 'h3')$$,
                  $$VALUES (1, 'w2', 'lease_expired', 'lease expired (executor w2)')$$, 'the lost attempt is recorded');
SELECT is((SELECT count(*) FROM rota._queue_slots WHERE task_id = (SELECT id FROM rota.tasks WHERE key = 'h3')), 0::bigint, 'its slot is freed');
SELECT is(rota.complete((SELECT id FROM rota.tasks WHERE key = 'h3'), 1), false, 'the dead executor''s late completion is fenced off');
SELECT is(rota.reap(), 0, 'a second reap finds nothing');
SELECT is((SELECT count(*) FROM rota.tasks WHERE state = 'running'), 2::bigint, 'leases that were renewed are not reaped');

-- reap when out of attempts: failed
UPDATE rota.tasks SET run_at = now() WHERE key = 'h3';
SELECT is((SELECT attempt FROM rota.claim('w2', ARRAY['q'])), 2, 'w2 claims it again as attempt 2');
UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE key = 'h3';
SELECT is(rota.reap(), 1, 'expires again');
SELECT results_eq($$SELECT state, finished_at = now() FROM rota.tasks WHERE key = 'h3'$$, $$VALUES ('failed', true)$$,
                  'out of attempts: failed');
SELECT is((SELECT count(*) FROM rota.task_attempts WHERE task_id = (SELECT id FROM rota.tasks WHERE key = 'h3')), 2::bigint,
          'both lost attempts recorded');

-- reap of a cancel-requested task: cancelled
SELECT rota.enqueue('q', 'job', key => 'cx');
SELECT rota.claim('w2', ARRAY['q']);
SELECT rota.cancel((SELECT id FROM rota.tasks WHERE key = 'cx'));
UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE key = 'cx';
SELECT is(rota.reap(), 1, 'reap a cancel-requested task');
SELECT is((SELECT state FROM rota.tasks WHERE key = 'cx'), 'cancelled', '... it ends cancelled');

-- stop_executor releases without spending an attempt
SELECT rota.enqueue('k', 'job', key => 'kk', concurrency_key => 'c1');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['k'])), 1::bigint, 'w1 runs a keyed task too');
SELECT is(rota.stop_executor('w1'), 3, 'stop_executor releases its three running tasks');
SELECT results_eq($$SELECT state, attempts, attempts_refunded, run_at = now(), lease_expires_at FROM rota.tasks WHERE key IN ('h1', 'h2', 'kk') ORDER BY key$$,
                  $$VALUES ('queued', 1, 1, true, NULL::timestamptz), ('queued', 1, 1, true, NULL::timestamptz), ('queued', 1, 1, true, NULL::timestamptz)$$,
                  'queued at once, the attempt refunded');
SELECT is((SELECT count(*) FROM rota.task_attempts WHERE outcome = 'released' AND executor = 'w1'), 3::bigint, 'released attempts recorded');
SELECT is((SELECT count(*) FROM rota._queue_slots WHERE task_id IS NOT NULL) + (SELECT count(*) FROM rota._key_slots WHERE task_id IS NOT NULL),
          0::bigint, 'slots and key slots freed');
SELECT isnt((SELECT stopped_at FROM rota.executors WHERE id = 'w1'), NULL, 'w1 is stopped');
SELECT is((SELECT attempt FROM rota.claim('w2', ARRAY['k'])), 2, 'the next claim is attempt 2 (fence moves on)');
SELECT is(rota.complete((SELECT id FROM rota.tasks WHERE key = 'kk'), 1), false, 'the released attempt cannot complete');
UPDATE rota.tasks SET run_at = now(), max_attempts = 1 WHERE key = 'h1';
SELECT is((SELECT count(*) FROM rota.claim('w2', ARRAY['q'])), 1::bigint, 'claim h1 again');
SELECT is(rota.fail((SELECT id FROM rota.tasks WHERE key = 'h1'), 2, 'x'), 'failed',
          'with max_attempts 1, the released attempt did not count: this failure is the first counted one');
SELECT rota.register_executor('w1');
SELECT is((SELECT stopped_at FROM rota.executors WHERE id = 'w1'), NULL, 're-registering clears stopped_at');
SELECT rota.enqueue('q', 'job', key => 'sc');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['q'], 10) WHERE key = 'sc'), 1::bigint, 'w1 claims the task (and the rest of q)');
SELECT is(rota.cancel((SELECT id FROM rota.tasks WHERE key = 'sc')), 'cancelling', 'its cancel is requested');
SELECT ok(rota.stop_executor('w1') >= 1, 'stop_executor releases it');
SELECT results_eq($$SELECT state, finished_at = now() FROM rota.tasks WHERE key = 'sc'$$, $$VALUES ('cancelled', true)$$,
                  'a released task whose cancel was requested ends cancelled, not queued');
SELECT rota.register_executor('w1');
SELECT is(rota.stop_executor('w1'), 0, 'stopping an executor with nothing running');

SELECT * FROM finish();
ROLLBACK;
