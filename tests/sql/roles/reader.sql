-- Logged in as rota_test_reader, a login role holding only rota_reader: it reads the
-- views and nothing else.
BEGIN;
SELECT plan(14);

SELECT is(session_user::text, 'rota_test_reader', 'logged in as rota_test_reader');
SELECT lives_ok($$SELECT * FROM rota.queue_stats$$, 'queue_stats');
SELECT lives_ok($$SELECT * FROM rota.failures$$, 'failures');
SELECT lives_ok($$SELECT * FROM rota.executor_status$$, 'executor_status');
SELECT lives_ok($$SELECT * FROM rota.schedule_status$$, 'schedule_status');
SELECT lives_ok($$SELECT * FROM rota.schedule_fire_status$$, 'schedule_fire_status');
SELECT lives_ok($$SELECT id, state, result, last_error FROM rota.task_details$$, 'task_details');
SELECT lives_ok($$SELECT * FROM rota.task_attempt_history$$, 'task_attempt_history');
SELECT throws_ok($$SELECT lease_token FROM rota.task_details$$, '42703', NULL,
                 'task_details leaves out the lease token');
SELECT throws_ok($$SELECT * FROM rota.tasks$$, '42501', NULL, 'it cannot read tables');
SELECT throws_ok($$SELECT * FROM rota._queue_slots$$, '42501', NULL, 'nor internal tables');
SELECT throws_ok($$SELECT rota.enqueue('roles', 'x')$$, '42501', NULL, 'nor enqueue');
SELECT throws_ok($$SELECT * FROM rota.claim('roles-w', ARRAY['roles'])$$, '42501', NULL, 'nor claim');
SELECT throws_ok($$SELECT * FROM rota.task_status(1)$$, '42501', NULL, 'nor ask for a task''s result');

SELECT * FROM finish();
ROLLBACK;
