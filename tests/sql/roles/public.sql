-- Logged in as rota_test_nobody, a login role with no rota role (what PUBLIC may): nothing.
BEGIN;
SELECT plan(8);

SELECT is(session_user::text, 'rota_test_nobody', 'logged in as rota_test_nobody');
SELECT throws_ok($$SELECT rota.enqueue('roles', 'x')$$, '42501', NULL, 'no enqueue');
SELECT throws_ok($$SELECT * FROM rota.claim('roles-w', ARRAY['roles'])$$, '42501', NULL, 'no claim');
SELECT throws_ok($$SELECT rota.cron_next('* * * * *', now())$$, '42501', NULL, 'not even a pure function');
SELECT throws_ok($$SELECT * FROM rota.queue_stats$$, '42501', NULL, 'no views');
SELECT throws_ok($$SELECT * FROM rota.tasks$$, '42501', NULL, 'no tables');
SELECT throws_ok($$SELECT rota._migrate(99, 'x', 'DROP SCHEMA rota CASCADE')$$, '42501', NULL, 'no migrator');

SELECT throws_ok($$SELECT * FROM rota.await_task(1)$$, '42501', NULL, 'no await_task');
SELECT * FROM finish();
ROLLBACK;
