-- Logged in as rota_test_admin, a login role holding only rota_admin: queues, schedules,
-- definitions, retry and cancel of any task, plus what producer, worker and reader may.
BEGIN;
SELECT plan(11);

SELECT is(session_user::text, 'rota_test_admin', 'logged in as rota_test_admin');
SELECT lives_ok($$SELECT rota.define_queue('admin-q', concurrency => 2)$$, 'define_queue');
SELECT lives_ok($$SELECT rota.define_schedule('admin-s', '0 * * * *', 'admin-q', 'tick')$$, 'define_schedule');
SELECT lives_ok($$SELECT rota.pause_queue('admin-q'), rota.resume_queue('admin-q'), rota.pause_schedule('admin-s'),
                         rota.resume_schedule('admin-s')$$, 'pause and resume');
SELECT is((SELECT rota.apply('{"version": 1, "queues": [{"name": "admin-q2"}]}') ->> 'status'), 'applied', 'apply');
SELECT lives_ok($$SELECT rota.register_executor('admin-w')$$, 'it may do what a worker does');
SELECT rota.enqueue('admin-q', 'job', key => 'admin-1');
CREATE TEMP TABLE claimed AS SELECT * FROM rota.claim('admin-w', ARRAY['admin-q'], 1);
SELECT is((SELECT rota.fail(id, attempt, 'no', retryable => false, token => lease_token) FROM claimed), 'failed',
          'it may enqueue, claim and fail');
SELECT lives_ok(format('SELECT rota.retry(%s)', (SELECT id FROM claimed)), 'retry');
SELECT is(rota.cancel(current_setting('rota_test.their_task')::bigint), 'cancelled', 'it may cancel any task');
SELECT is((SELECT count(*) FROM rota.queue_stats WHERE queue LIKE 'admin-%'), 2::bigint, 'it reads the views');

SELECT is((SELECT started FROM rota.start('admin-q', 'direct', '{}', 'admin-w')), true,
          'start: it may create and run a task (producer and worker)');
SELECT * FROM finish();
ROLLBACK;
