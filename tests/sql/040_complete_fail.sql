-- Complete and fail: fencing, backoff, dead letter, batches.
BEGIN;
SELECT plan(50);

SELECT rota.register_executor('w1');
SELECT rota.define_queue('q', concurrency => 10, max_attempts => 3, backoff_base => '10 seconds', backoff_max => '25 seconds');
CREATE TEMP TABLE snap (id bigint, state text, attempts int, result jsonb, last_error text, finished_at timestamptz);
-- a lease runs out and the reaper puts the task back, ready at once
CREATE FUNCTION pg_temp.expire(p_key text) RETURNS void LANGUAGE sql AS $$
    UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE key = p_key;
    SELECT rota.reap();
    UPDATE rota.tasks SET run_at = now() WHERE key = p_key;
$$;
CREATE FUNCTION pg_temp.row_of(p_id bigint) RETURNS text LANGUAGE sql AS
$$ SELECT row(t.*)::text FROM rota.tasks t WHERE t.id = p_id $$;

-- complete
SELECT rota.enqueue('q', 'ok', '{}', key => 'c1');
SELECT is((SELECT attempt FROM rota.claim('w1', ARRAY['q'])), 1, 'claimed attempt 1');
CREATE TEMP TABLE t1 AS SELECT id FROM rota.tasks WHERE key = 'c1';
SELECT is(rota.complete((SELECT id FROM t1), 1, '{"sent": true}'), true, 'complete under the current attempt');
SELECT results_eq($$SELECT state, result, finished_at = now(), lease_expires_at, slot IS NOT NULL FROM rota.tasks WHERE key = 'c1'$$,
                  $$VALUES ('succeeded', '{"sent": true}'::jsonb, true, NULL::timestamptz, true)$$, 'succeeded with its result');
SELECT is((SELECT count(*) FROM rota._queue_slots WHERE queue = 'q' AND task_id IS NOT NULL), 0::bigint, 'its slot is free');
SELECT is((SELECT count(*) FROM rota.task_attempts), 0::bigint, 'success writes no attempt row');
CREATE TEMP TABLE before AS SELECT pg_temp.row_of((SELECT id FROM t1)) AS r;
SELECT is(rota.complete((SELECT id FROM t1), 1, '{"again": true}'), false, 'a second complete is fenced off');
SELECT is(pg_temp.row_of((SELECT id FROM t1)), (SELECT r FROM before), '... and changes nothing');
SELECT is(rota.fail((SELECT id FROM t1), 1, 'late'), NULL, 'fail after complete is fenced off');
SELECT is(pg_temp.row_of((SELECT id FROM t1)), (SELECT r FROM before), '... and changes nothing');
SELECT throws_ok(format('SELECT rota.complete(%s, 2)', (SELECT id FROM t1)), 'RO021',
                 format('rota.complete: attempt 2 of task %s was never claimed (it has 1 attempts)', (SELECT id FROM t1)),
                 'an attempt beyond the claims is an error');
SELECT throws_ok(format('SELECT rota.complete(%s, 0)', (SELECT id FROM t1)), 'RO021',
                 format('rota.complete: attempt 0 of task %s was never claimed (it has 1 attempts)', (SELECT id FROM t1)),
                 'attempt 0 is an error');
SELECT throws_ok('SELECT rota.complete(-42, 1)', 'RO002', 'rota.complete: unknown task id -42', 'unknown id is an error');
SELECT throws_ok('SELECT rota.fail(-42, 1, $e$x$e$)', 'RO002', 'rota.fail: unknown task id -42', 'fail of an unknown id is an error');
SELECT is(pg_temp.row_of((SELECT id FROM t1)), (SELECT r FROM before), 'errors changed nothing');

-- stale attempt after a re-claim
SELECT rota.enqueue('q', 'stale', key => 's1');
SELECT rota.claim('w1', ARRAY['q']);
SELECT pg_temp.expire('s1');
SELECT is((SELECT attempt FROM rota.claim('w1', ARRAY['q'])), 2, 're-claimed as attempt 2');
CREATE TEMP TABLE t2 AS SELECT id FROM rota.tasks WHERE key = 's1';
DELETE FROM before; INSERT INTO before SELECT pg_temp.row_of((SELECT id FROM t2));
SELECT is(rota.complete((SELECT id FROM t2), 1), false, 'the superseded attempt cannot complete');
SELECT is(rota.fail((SELECT id FROM t2), 1, 'old run failed'), NULL, 'nor fail');
SELECT is(pg_temp.row_of((SELECT id FROM t2)), (SELECT r FROM before), 'the current attempt is untouched');
SELECT is((SELECT count(*) FROM rota.task_attempts WHERE task_id = (SELECT id FROM t2)), 1::bigint, 'no attempt row for a fenced fail (only the lease_expired one)');
SELECT is(rota.complete((SELECT id FROM t2), 2), true, 'the current attempt completes');

-- fail: backoff within [base * 2^(n-1) * 0.75, * 1.25], capped at backoff_max, then dead letter
SELECT rota.enqueue('q', 'flaky', key => 'f1');
CREATE TEMP TABLE t3 AS SELECT id FROM rota.tasks WHERE key = 'f1';
SELECT rota.claim('w1', ARRAY['q']);
SELECT is(rota.fail((SELECT id FROM t3), 1, 'boom 1'), 'queued', 'first failure: back to queued');
SELECT results_eq($$SELECT state, last_error, executor, lease_expires_at, finished_at FROM rota.tasks WHERE key = 'f1'$$,
                  $$VALUES ('queued', 'boom 1', 'w1', NULL::timestamptz, NULL::timestamptz)$$, 'queued with the error kept');
SELECT ok((SELECT run_at - now() BETWEEN interval '7.5 seconds' AND interval '12.5 seconds' FROM rota.tasks WHERE key = 'f1'),
          'retry after base * 2^0 +- 25%');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['q'])), 0::bigint, 'not claimable during the backoff');
UPDATE rota.tasks SET run_at = now() WHERE key = 'f1';
SELECT is((SELECT attempt FROM rota.claim('w1', ARRAY['q'])), 2, 'second attempt');
SELECT is(rota.fail((SELECT id FROM t3), 2, 'boom 2'), 'queued', 'second failure: queued');
SELECT ok((SELECT run_at - now() BETWEEN interval '15 seconds' AND interval '25 seconds' FROM rota.tasks WHERE key = 'f1'),
          'retry after base * 2^1 +- 25%, capped at 25 s');
UPDATE rota.tasks SET run_at = now() WHERE key = 'f1';
SELECT is((SELECT attempt FROM rota.claim('w1', ARRAY['q'])), 3, 'third attempt');
SELECT is(rota.fail((SELECT id FROM t3), 3, 'boom 3'), 'failed', 'out of attempts: failed');
SELECT results_eq($$SELECT state, finished_at = now(), last_error FROM rota.tasks WHERE key = 'f1'$$,
                  $$VALUES ('failed', true, 'boom 3')$$, 'failed is final and keeps the last error');
SELECT results_eq($$SELECT attempt, executor, outcome, error, started_at IS NOT NULL, finished_at = now()
                    FROM rota.task_attempts WHERE task_id = (SELECT id FROM t3) ORDER BY attempt$$,
                  $$VALUES (1, 'w1', 'failed', 'boom 1', true, true), (2, 'w1', 'failed', 'boom 2', true, true),
                           (3, 'w1', 'failed', 'boom 3', true, true)$$, 'every attempt is recorded');
SELECT is((SELECT count(*) FROM rota._queue_slots WHERE queue = 'q' AND task_id IS NOT NULL), 0::bigint, 'no slot held after failures');

-- backoff is capped for large attempt numbers
SELECT rota.define_queue('capped', max_attempts => 100, backoff_base => '1 second', backoff_max => '5 minutes');
SELECT rota.enqueue('capped', 'c', key => 'cap');
UPDATE rota.tasks SET attempts = 80 WHERE key = 'cap';
SELECT rota.claim('w1', ARRAY['capped']);
SELECT is(rota.fail((SELECT id FROM rota.tasks WHERE key = 'cap'), 81, 'x'), 'queued', 'attempt 81 fails');
SELECT ok((SELECT run_at - now() BETWEEN interval '3 minutes 45 seconds' AND interval '5 minutes' FROM rota.tasks WHERE key = 'cap'),
          'huge attempt numbers stay within the cap');

-- retry_in overrides the backoff; retryable => false fails at once
SELECT rota.enqueue('q', 'r', key => 'r1');
SELECT rota.claim('w1', ARRAY['q']);
SELECT is(rota.fail((SELECT id FROM rota.tasks WHERE key = 'r1'), 1, 'rate limited', retry_in => '2 hours'), 'queued', 'retry_in');
SELECT is((SELECT run_at - now() FROM rota.tasks WHERE key = 'r1'), interval '2 hours', 'retry_in is used as given');
UPDATE rota.tasks SET run_at = now() WHERE key = 'r1';
SELECT rota.claim('w1', ARRAY['q']);
SELECT is(rota.fail((SELECT id FROM rota.tasks WHERE key = 'r1'), 2, 'bad input', retry_in => '0 seconds'), 'queued', 'retry_in 0');
SELECT is((SELECT run_at FROM rota.tasks WHERE key = 'r1'), now(), 'retry_in 0 means now');
SELECT rota.claim('w1', ARRAY['q']);
SELECT is(rota.fail((SELECT id FROM rota.tasks WHERE key = 'r1'), 3, 'permanent', retryable => false), 'failed', 'retryable => false');
SELECT rota.define_queue('q', concurrency => 10, max_attempts => 3, backoff_base => '10 seconds', backoff_max => '25 seconds');
SELECT rota.enqueue('q', 'nr', key => 'nr1');
SELECT rota.claim('w1', ARRAY['q']);
SELECT is(rota.fail((SELECT id FROM rota.tasks WHERE key = 'nr1'), 1, 'permanent', retryable => false), 'failed',
          'retryable => false fails on the first attempt');

-- complete_many / fail_many
SELECT rota.enqueue_many('q', 'batch', array_fill('{}'::jsonb, ARRAY[6]), ARRAY['b1', 'b2', 'b3', 'b4', 'b5', 'b6']);
CREATE TEMP TABLE b AS SELECT id, key FROM rota.tasks WHERE task = 'batch';
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['q'], 6)), 6::bigint, 'six claimed');
SELECT is((SELECT array_agg(x ORDER BY x) FROM rota.complete_many(
              (SELECT array_agg(id ORDER BY key) FROM b WHERE key IN ('b1', 'b2', 'b3')) || (SELECT id FROM b WHERE key = 'b1'),
              ARRAY[1, 1, 1, 1], ARRAY['{"n": 1}', '{"n": 2}', NULL, '{"dup": true}']::jsonb[]) AS x),
          (SELECT array_agg(id ORDER BY id) FROM b WHERE key IN ('b1', 'b2', 'b3')), 'complete_many returns the completed ids');
SELECT is((SELECT array_agg(result ORDER BY key) FROM rota.tasks WHERE key IN ('b1', 'b2', 'b3')),
          ARRAY['{"n": 1}', '{"n": 2}', NULL]::jsonb[], 'each gets its result');
SELECT pg_temp.expire('b4');
SELECT rota.claim('w1', ARRAY['q']);
SELECT is((SELECT array_agg(x) FROM rota.complete_many(ARRAY[(SELECT id FROM b WHERE key = 'b4'), (SELECT id FROM b WHERE key = 'b5')],
                                                     ARRAY[1, 1]) AS x),
          ARRAY[(SELECT id FROM b WHERE key = 'b5')], 'a stale attempt in a batch is left out');
SELECT is((SELECT state FROM rota.tasks WHERE key = 'b4'), 'running', 'the stale one is untouched');
SELECT throws_ok(format('SELECT rota.complete_many(ARRAY[%s, -1], ARRAY[2, 1])', (SELECT id FROM b WHERE key = 'b4')), 'RO002',
                 'rota.complete_many: unknown task id -1', 'an unknown id in a batch is an error');
SELECT is((SELECT state FROM rota.tasks WHERE key = 'b4'), 'running', '... and the batch wrote nothing');
SELECT results_eq(format('SELECT id, state FROM rota.fail_many(ARRAY[%s, %s], ARRAY[2, 1], ARRAY[%L, %L], ARRAY[NULL, %L]::interval[], ARRAY[true, false])',
                         (SELECT id FROM b WHERE key = 'b4'), (SELECT id FROM b WHERE key = 'b6'), 'e4', 'e6', '1 minute'),
                  format('VALUES (%s::bigint, %L), (%s, %L)', (SELECT id FROM b WHERE key = 'b4'), 'queued',
                         (SELECT id FROM b WHERE key = 'b6'), 'failed'),
                  'fail_many returns each new state');
SELECT is((SELECT count(*) FROM rota.task_attempts WHERE task_id IN (SELECT id FROM b) AND outcome = 'failed'), 2::bigint, 'fail_many recorded both attempts');
SELECT is((SELECT count(*) FROM rota._queue_slots WHERE queue = 'q' AND task_id IS NOT NULL), 0::bigint, 'all slots free again');

SELECT * FROM finish();
ROLLBACK;
