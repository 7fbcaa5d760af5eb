-- rota.complete_in_transaction: the completion commits with the caller's writes or not at
-- all; a stale attempt or a requested cancel writes nothing (so the caller rolls back), and
-- bad input is refused with a stable code.
BEGIN;
SELECT plan(17);

SELECT rota.register_executor('cit');
SELECT rota.define_queue('cit', concurrency => 1, max_attempts => 3);
CREATE TEMP TABLE effects (task_id bigint PRIMARY KEY);
CREATE TEMP TABLE ids AS
SELECT (SELECT rota.enqueue('cit', 'charge', key => 'one')) AS one;
CREATE FUNCTION pg_temp.one() RETURNS bigint LANGUAGE sql AS $$ SELECT one FROM ids $$;

SELECT is((SELECT attempt FROM rota.claim('cit', ARRAY['cit'])), 1, 'claimed');

-- rolled back with the caller: neither the write nor the completion stays
SAVEPOINT handler;
INSERT INTO effects VALUES (pg_temp.one());
SELECT is(rota.complete_in_transaction(pg_temp.one(), 1, '{"charged": 1}', token(pg_temp.one(), 1)), true,
          'completed inside the transaction');
SELECT is((SELECT state FROM rota.tasks WHERE id = pg_temp.one()), 'succeeded', 'succeeded, seen inside it');
ROLLBACK TO SAVEPOINT handler;
SELECT is((SELECT state FROM rota.tasks WHERE id = pg_temp.one()), 'running', 'a rollback undoes the completion');
SELECT is((SELECT count(*) FROM effects), 0::bigint, '... and the write');
SELECT is((SELECT task_id FROM rota._queue_slots WHERE queue = 'cit'), pg_temp.one(), '... and the freed slot');

-- bad input: stable codes
SELECT throws_ok(format('SELECT rota.complete_in_transaction(%s, 1, NULL, %L)', pg_temp.one(), gen_random_uuid()), 'RO022',
                 format('rota.complete_in_transaction: wrong lease token for attempt 1 of task %s (nothing was written)',
                        pg_temp.one()), 'a wrong token');
SELECT throws_ok(format('SELECT rota.complete_in_transaction(%s, 1)', pg_temp.one()), 'RO010',
                 format('rota.complete_in_transaction: token is required (the lease_token rota.claim returned) for task %s (got NULL)',
                        pg_temp.one()), 'no token');
SELECT throws_ok(format('SELECT rota.complete_in_transaction(%s, 2, NULL, %L)', pg_temp.one(), token(pg_temp.one(), 1)),
                 'RO021', format('rota.complete_in_transaction: attempt 2 of task %s was never claimed (it has 1 attempts)',
                                 pg_temp.one()), 'an attempt never claimed');
SELECT throws_ok('SELECT rota.complete_in_transaction(-1, 1, NULL, gen_random_uuid())', 'RO002',
                 'rota.complete_in_transaction: unknown task id -1', 'an unknown task');
SELECT throws_ok(format('SELECT rota.complete_in_transaction(%s, 1, %L::jsonb, %L)', pg_temp.one(),
                        jsonb_build_object('s', repeat('x', 1048577)), token(pg_temp.one(), 1)),
                 'RO011', 'rota.complete_in_transaction: result is larger than 1 MiB (got 1048586 bytes)', 'a result over 1 MiB');

-- a requested cancel refuses: the caller rolls back, and the attempt's failure ends it cancelled
SELECT is(rota.cancel(pg_temp.one()), 'cancelling', 'cancel requested while the handler runs');
SELECT is(rota.complete_in_transaction(pg_temp.one(), 1, '{}', token(pg_temp.one(), 1)), false,
          'false once a cancel was requested');
SELECT is((SELECT state FROM rota.tasks WHERE id = pg_temp.one()), 'running', 'nothing written');
SELECT is(rota.fail(pg_temp.one(), 1, 'fenced off', token => token(pg_temp.one(), 1)), 'cancelled',
          'the failure that follows ends it cancelled');

-- a stale attempt (its lease ended and another executor took the task over) writes nothing
SELECT rota.enqueue('cit', 'charge', key => 'two');
SELECT rota.claim('cit', ARRAY['cit']);
UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE key = 'two';
SELECT rota.reap();
UPDATE rota.tasks SET run_at = now() WHERE key = 'two';
SELECT rota.claim('cit', ARRAY['cit']);
SELECT is(rota.complete_in_transaction((SELECT id FROM rota.tasks WHERE key = 'two'), 1, '{}',
                                       token((SELECT id FROM rota.tasks WHERE key = 'two'), 1)),
          false, 'false for the stale attempt');
SELECT results_eq($$SELECT state, attempts FROM rota.tasks WHERE key = 'two'$$, $$VALUES ('running', 2)$$,
                  'the new attempt keeps the task');

SELECT * FROM finish();
ROLLBACK;
