-- Logged in as rota_test_worker, a login role holding only rota_worker: it runs tasks
-- (claim, heartbeat, steps, children, sleep, wait, complete, fail), recovers and prunes, fires schedules, and
-- nothing else (test-sql.sh sets up queue `roles` with a ready task).
BEGIN;
SELECT plan(27);

SELECT is(session_user::text, 'rota_test_worker', 'logged in as rota_test_worker');

-- may
SELECT lives_ok($$SELECT rota.register_executor('roles-w', ARRAY['roles'])$$, 'register_executor');
CREATE TEMP TABLE claimed AS SELECT * FROM rota.claim('roles-w', ARRAY['roles'], 1);
SELECT is((SELECT count(*) FROM claimed), 1::bigint, 'claim');
SELECT is((SELECT count(*) FROM rota.heartbeat('roles-w', ARRAY(SELECT id FROM claimed), ARRAY(SELECT lease_token FROM claimed))),
          0::bigint, 'heartbeat with its tokens');
SELECT is((SELECT rota.record_step(id, attempt, 'one', '{"n": 1}', token => lease_token) FROM claimed), true, 'record_step');
SELECT is((SELECT rota.step(id, attempt, 'one', token => lease_token) FROM claimed), '{"n": 1}'::jsonb, 'step');
SELECT isnt((SELECT rota.enqueue_child(id, attempt, lease_token, 'kid', 'roles-kid') FROM claimed), NULL::bigint, 'enqueue_child');
SELECT is((SELECT count(*) FROM claimed c, rota.children(c.id, c.attempt, c.lease_token)), 1::bigint, 'children');
SELECT throws_ok((SELECT format('SELECT rota.complete(%s, %s, token => gen_random_uuid())', id, attempt) FROM claimed), 'RO022', NULL,
                 'a wrong token is refused');
SELECT throws_ok((SELECT format('SELECT rota.complete_in_transaction(%s, %s, NULL, gen_random_uuid())', id, attempt) FROM claimed),
                 'RO022', NULL, 'complete_in_transaction (a wrong token: RO022, not a privilege error)');
SELECT is((SELECT rota.complete(id, attempt, '{"done": true}', token => lease_token) FROM claimed), true, 'complete with the token');
CREATE TEMP TABLE kid AS SELECT * FROM rota.claim('roles-w', ARRAY['roles'], 1);
SELECT is((SELECT task FROM kid), 'kid', 'the child runs');
SELECT throws_ok((SELECT format('SELECT rota.wait_for_children(%s, %s, %L)', id, attempt, lease_token) FROM kid), 'RO023', NULL,
                 'wait_for_children (a task without children: RO023, not a privilege error)');
SELECT is((SELECT rota.sleep(id, attempt, lease_token, now() + interval '1 minute') FROM kid), true, 'sleep');
SELECT lives_ok($$SELECT rota.reap(), rota.prune(), rota.next_run_at(ARRAY['roles']), rota.next_fire_at(),
                         rota.cron_next('* * * * *', now())$$, 'reap, prune, next_run_at, next_fire_at, cron_next');
SELECT lives_ok($$SELECT * FROM rota.fire_due('roles-w')$$, 'fire_due');
SELECT lives_ok($$SELECT * FROM rota.fire_due('roles-w', 50)$$, 'fire_due with a bound');
SELECT lives_ok($$SELECT rota.stop_executor('roles-w')$$, 'stop_executor');

-- may not
SELECT throws_ok($$SELECT rota.define_queue('mine')$$, '42501', NULL, 'it cannot define queues');
SELECT throws_ok($$SELECT rota.apply('{"version": 1}')$$, '42501', NULL, 'nor apply definitions');
SELECT throws_ok($$SELECT rota.retry(1)$$, '42501', NULL, 'nor retry');
SELECT throws_ok($$SELECT rota.enqueue('roles', 'x')$$, '42501', NULL, 'nor enqueue (grant rota_producer too for that)');
SELECT throws_ok($$SELECT * FROM rota.tasks$$, '42501', NULL, 'nor read tables');
SELECT throws_ok($$UPDATE rota.tasks SET lease_expires_at = 'infinity'$$, '42501', NULL, 'nor extend leases by hand');
SELECT throws_ok($$SELECT * FROM rota.executor_status$$, '42501', NULL, 'nor read the views');
SELECT throws_ok($$SELECT rota._start_tasks('roles-w', ARRAY[1::bigint], NULL)$$, '42501', NULL, 'nor call private functions');

SELECT throws_ok($$SELECT * FROM rota.start('roles', 'x', '{}', 'roles-w')$$, '42501',
                 'rota.start: permission denied: rota_test_worker may run tasks but not create them (grant it rota_producer)',
                 'nor start a task directly (it creates one: rota_producer too)');
SELECT * FROM finish();
ROLLBACK;
