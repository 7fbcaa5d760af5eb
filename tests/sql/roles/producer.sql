-- Logged in as rota_test_producer, a login role holding only rota_producer: it enqueues,
-- sees and cancels its own tasks, and nothing else (test-sql.sh sets up queue `roles` and
-- a task of another role, rota_test.their_task).
BEGIN;
SELECT plan(25);

SELECT is(session_user::text, 'rota_test_producer', 'logged in as rota_test_producer');
SELECT is(pg_has_role('rota_owner', 'MEMBER') OR pg_has_role('rota_worker', 'MEMBER'), false, 'it holds rota_producer only');

-- may
SELECT lives_ok($$SELECT rota.enqueue('roles', 'mine', '{"n": 1}', key => 'producer-1')$$, 'enqueue');
SELECT is((SELECT count(*) FROM rota.enqueue_many('roles', 'mine', ARRAY['{}', '{}']::jsonb[])), 2::bigint, 'enqueue_many');
SELECT results_eq($$SELECT state, result, last_error, attempts FROM rota.task_status(rota.enqueue('roles', 'mine', key => 'producer-1'))$$,
                  $$VALUES ('queued', NULL::jsonb, NULL::text, 0)$$, 'task_status of its own task');
SELECT is(rota.cancel(rota.enqueue('roles', 'mine', key => 'producer-1')), 'cancelled', 'cancel its own task');
SELECT throws_ok($$SELECT rota.enqueue('nope', 'x')$$, 'RO001', NULL, 'an unknown queue is still refused by name');
SELECT throws_ok($$SELECT rota.enqueue('roles', 'big', jsonb_build_object('s', repeat('x', 10 * 1024 * 1024)))$$, 'RO011', NULL,
                 'a 10 MB payload is refused');
SELECT results_eq($$SELECT state FROM rota.await_task(rota.enqueue('roles', 'mine', key => 'producer-1'))$$,
                  $$VALUES ('cancelled')$$, 'await_task of its own task');

-- may not
SELECT throws_ok(format('SELECT * FROM rota.task_status(%s)', current_setting('rota_test.their_task')), 'RO002', NULL,
                 'another role''s task is unknown to it');
SELECT throws_ok(format('SELECT rota.cancel(%s)', current_setting('rota_test.their_task')), 'RO002', NULL,
                 '... and it cannot cancel it');
SELECT throws_ok($$SELECT * FROM rota.claim('roles-w', ARRAY['roles'])$$, '42501', NULL, 'it cannot claim');
SELECT throws_ok($$SELECT rota.complete(1, 1, token => gen_random_uuid())$$, '42501', NULL, 'nor complete');
SELECT throws_ok($$SELECT rota.define_queue('mine')$$, '42501', NULL, 'nor define queues');
SELECT throws_ok($$SELECT * FROM rota.tasks$$, '42501', NULL, 'it cannot read the tasks table');
SELECT throws_ok($$INSERT INTO rota.tasks (queue, task, state, max_attempts, attempts, finished_at, result)
                   VALUES ('roles', 'forged', 'succeeded', 1, 1, now(), '{"forged": true}')$$, '42501', NULL,
                 'nor forge a succeeded row');
SELECT throws_ok($$INSERT INTO rota.tasks (queue, task, payload, max_attempts)
                   VALUES ('roles', 'big', jsonb_build_object('s', repeat('x', 10 * 1024 * 1024)), 1)$$, '42501', NULL,
                 'nor insert a 10 MB payload past the function');
SELECT throws_ok($$INSERT INTO rota.tasks (queue, task, max_attempts) VALUES ('no-such-queue', 'x', 1)$$, '42501', NULL,
                 'nor a task of a queue that does not exist');
SELECT throws_ok($$UPDATE rota.tasks SET state = 'cancelled'$$, '42501', NULL, 'nor update tasks');
SELECT throws_ok($$SELECT * FROM rota.queue_stats$$, '42501', NULL, 'nor read the views');
SELECT throws_ok($$SELECT rota._enqueue('x', 'roles', 'x', ARRAY['{}']::jsonb[], NULL, NULL, 0, NULL, NULL, NULL)$$, '42501', NULL,
                 'nor call private functions');
SELECT throws_ok($$SELECT rota._migrate(99, 'x', 'DROP SCHEMA rota CASCADE')$$, '42501', NULL, 'nor the migrator, which executes text');
SELECT throws_ok($$LOCK TABLE rota._migrations IN EXCLUSIVE MODE$$, '42501', NULL, 'nor take the install lock');

SELECT throws_ok(format('SELECT * FROM rota.await_task(%s)', current_setting('rota_test.their_task')), 'RO002', NULL,
                 'nor await another role''s task');
SELECT throws_ok($$SELECT * FROM rota.start('roles', 'x', '{}', 'roles-w')$$, '42501', NULL, 'nor start a task directly (a worker''s call)');
SELECT * FROM finish();
ROLLBACK;
