-- Lease tokens: finishing, renewing or checkpointing a task needs the token its claim
-- handed out. A session that never claimed the task (no token, or a guessed one) changes
-- nothing and is told so; a stale claim (with its own token) is fenced off as before.
BEGIN;
SELECT plan(37);

SELECT rota.register_executor('w1');
SELECT rota.define_queue('q', concurrency => 5, max_attempts => 5);
SELECT rota.enqueue_many('q', 'job', array_fill('{}'::jsonb, ARRAY[4]), ARRAY['a', 'b', 'c', 'd']);
CREATE TEMP TABLE claimed AS SELECT * FROM rota.claim('w1', ARRAY['q'], 4);
CREATE FUNCTION pg_temp.id_of(p_key text) RETURNS bigint LANGUAGE sql AS
$$ SELECT t.id FROM rota.tasks t WHERE t.key = p_key $$;
CREATE FUNCTION pg_temp.row_of(p_key text) RETURNS text LANGUAGE sql AS
$$ SELECT row(t.*)::text FROM rota.tasks t WHERE t.key = p_key $$;
CREATE TEMP TABLE before AS SELECT t.key, pg_temp.row_of(t.key) AS r FROM rota.tasks t WHERE t.queue = 'q';

SELECT is((SELECT count(DISTINCT lease_token) FROM claimed WHERE lease_token IS NOT NULL), 4::bigint,
          'claim returns a lease token per task, all different');
SELECT is((SELECT proargnames[cardinality(proargnames)] FROM pg_proc WHERE oid = 'rota.claim(text, text[], integer)'::regprocedure),
          'lease_token', 'lease_token is the last column of rota.claim');

-- no token
SELECT throws_ok(format('SELECT rota.complete(%s, 1)', pg_temp.id_of('a')), 'RO010',
                 format('rota.complete: token is required (the lease_token rota.claim returned) for task %s (got NULL)', pg_temp.id_of('a')),
                 'complete without a token is an error');
SELECT throws_ok(format('SELECT rota.fail(%s, 1, %L)', pg_temp.id_of('a'), 'e'), 'RO010', NULL, 'fail without a token is an error');
SELECT throws_ok(format('SELECT rota.complete_many(ARRAY[%s], ARRAY[1])', pg_temp.id_of('a')), 'RO010',
                 'rota.complete_many: tokens is required (the lease_token rota.claim returned for each task) (got NULL)',
                 'complete_many without tokens is an error');
SELECT throws_ok(format('SELECT rota.complete_many(ARRAY[%s], ARRAY[1], tokens => ARRAY[NULL]::uuid[])', pg_temp.id_of('a')),
                 'RO010', NULL, 'complete_many with a NULL token is an error');
SELECT throws_ok(format('SELECT rota.fail_many(ARRAY[%s], ARRAY[1], ARRAY[%L])', pg_temp.id_of('a'), 'e'), 'RO010', NULL,
                 'fail_many without tokens is an error');
SELECT throws_ok(format('SELECT rota.record_step(%s, 1, %L, %L)', pg_temp.id_of('a'), 's', '{}'), 'RO010', NULL,
                 'record_step without a token is an error');
SELECT throws_ok(format('SELECT rota.step(%s, 1, %L)', pg_temp.id_of('a'), 's'), 'RO010', NULL, 'step without a token is an error');
SELECT throws_ok($$SELECT rota.heartbeat('w1')$$, 'RO010',
                 'rota.heartbeat: held/tokens are required (the ids and lease_tokens rota.claim returned; empty arrays when none) (got NULL)',
                 'heartbeat without held tokens is an error');
SELECT throws_ok(format('SELECT rota.heartbeat(%L, ARRAY[%s], %L::uuid[])', 'w1', pg_temp.id_of('a'), '{}'), 'RO010', NULL,
                 'heartbeat with fewer tokens than held ids is an error');

-- a guessed token on the current attempt: RO022, nothing written
SELECT throws_ok(format('SELECT rota.complete(%s, 1, token => gen_random_uuid())', pg_temp.id_of('a')), 'RO022',
                 format('rota.complete: wrong lease token for attempt 1 of task %s (nothing was written)', pg_temp.id_of('a')),
                 'complete with a wrong token is an error that says so');
SELECT throws_ok(format('SELECT rota.fail(%s, 1, %L, token => gen_random_uuid())', pg_temp.id_of('a'), 'e'), 'RO022',
                 format('rota.fail: wrong lease token for attempt 1 of task %s (nothing was written)', pg_temp.id_of('a')),
                 'fail with a wrong token too');
SELECT throws_ok(format('SELECT rota.complete_many(ARRAY[%1$s, %2$s], ARRAY[1, 1], tokens => ARRAY[token(%1$s, 1), gen_random_uuid()])',
                        pg_temp.id_of('a'), pg_temp.id_of('b')), 'RO022', NULL,
                 'complete_many with one wrong token in the batch');
SELECT throws_ok(format('SELECT rota.fail_many(ARRAY[%1$s], ARRAY[1], ARRAY[%2$L], tokens => ARRAY[gen_random_uuid()])',
                        pg_temp.id_of('a'), 'e'), 'RO022', NULL, 'fail_many with a wrong token');
SELECT throws_ok(format('SELECT rota.record_step(%s, 1, %L, %L, token => gen_random_uuid())', pg_temp.id_of('a'), 's', '{}'),
                 'RO022', NULL, 'record_step with a wrong token');
SELECT throws_ok(format('SELECT rota.step(%s, 1, %L, token => gen_random_uuid())', pg_temp.id_of('a'), 's'),
                 'RO022', NULL, 'step with a wrong token');
SELECT is((SELECT count(*) FROM before b WHERE pg_temp.row_of(b.key) IS DISTINCT FROM b.r), 0::bigint,
          'none of the refused calls changed a task');
SELECT is((SELECT count(*) FROM rota.task_steps), 0::bigint, '... nor recorded a step');
SELECT is((SELECT count(*) FROM rota.task_attempts), 0::bigint, '... nor an attempt');

-- heartbeat: a wrong token renews nothing and the id comes back to abort
UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE key = 'c';
SELECT is((SELECT array_agg(x) FROM rota.heartbeat('w1', ARRAY[pg_temp.id_of('c')], ARRAY[gen_random_uuid()]) AS x),
          ARRAY[pg_temp.id_of('c')], 'a heartbeat with a wrong token is told to abort the task');
SELECT is((SELECT lease_expires_at < now() FROM rota.tasks WHERE key = 'c'), true, '... and did not renew its lease');
SELECT is((SELECT count(*) FROM rota.heartbeat('w1', ARRAY[pg_temp.id_of('c')], ARRAY[token(pg_temp.id_of('c'), 1)])),
          0::bigint, 'with its token the heartbeat keeps it');
SELECT is((SELECT lease_expires_at > now() FROM rota.tasks WHERE key = 'c'), true, '... and renews its lease');

-- the right token works, once
SELECT is(rota.record_step(pg_temp.id_of('a'), 1, 's', '{"n": 1}', token => token(pg_temp.id_of('a'), 1)), true,
          'record_step with the token');
SELECT is(rota.step(pg_temp.id_of('a'), 1, 's', token => token(pg_temp.id_of('a'), 1)), '{"n": 1}'::jsonb, 'step with the token');
SELECT is(rota.complete(pg_temp.id_of('a'), 1, '{"ok": true}', token => token(pg_temp.id_of('a'), 1)), true,
          'complete with the token');
SELECT is((SELECT lease_token FROM rota.tasks WHERE key = 'a'), NULL, 'a finished task keeps no token');
SELECT is(rota.complete(pg_temp.id_of('a'), 1, token => token(pg_temp.id_of('a'), 1)), false,
          'a second complete with the same token is fenced off');
SELECT is(rota.fail(pg_temp.id_of('b'), 1, 'boom', token => token(pg_temp.id_of('b'), 1)), 'queued', 'fail with the token');
SELECT is((SELECT lease_token FROM rota.tasks WHERE key = 'b'), NULL, 'a queued task keeps no token');

-- a new claim gets a new token; the old claim's token is stale, not wrong
UPDATE rota.tasks SET run_at = now() WHERE key = 'b';
SELECT is((SELECT attempt FROM rota.claim('w1', ARRAY['q'])), 2, 'claimed again as attempt 2');
SELECT isnt(token(pg_temp.id_of('b'), 2), token(pg_temp.id_of('b'), 1), 'with a new token');
SELECT is(rota.complete(pg_temp.id_of('b'), 1, token => token(pg_temp.id_of('b'), 1)), false,
          'the old claim with its own token is fenced off (false), as before');
SELECT throws_ok(format('SELECT rota.complete(%s, 2, token => token(%s, 1))', pg_temp.id_of('b'), pg_temp.id_of('b')), 'RO022',
                 NULL, 'the old token on the new attempt is wrong');
SELECT is(rota.complete(pg_temp.id_of('b'), 2, token => token(pg_temp.id_of('b'), 2)), true, 'the new claim completes');

-- stop_executor clears the token (fail and reap share the after-failure rule)
SELECT rota.stop_executor('w1');
SELECT is((SELECT count(*) FROM rota.tasks WHERE queue = 'q' AND lease_token IS NOT NULL), 0::bigint,
          'released tasks keep no token');

SELECT * FROM finish();
ROLLBACK;
