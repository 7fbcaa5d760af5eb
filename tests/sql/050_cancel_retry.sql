-- Cancel (queued and running) and retry (failed and cancelled; other states refused).
BEGIN;
SELECT plan(27);

SELECT rota.register_executor('w1');
SELECT rota.define_queue('q', concurrency => 5, max_attempts => 1);

-- cancel a queued task: at once
SELECT rota.enqueue('q', 'a', key => 'queued');
SELECT is(rota.cancel((SELECT id FROM rota.tasks WHERE key = 'queued')), 'cancelled', 'a queued task is cancelled at once');
SELECT results_eq($$SELECT state, finished_at = now() FROM rota.tasks WHERE key = 'queued'$$, $$VALUES ('cancelled', true)$$, 'cancelled is final');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['q'])), 0::bigint, 'a cancelled task is never claimed');
SELECT is(rota.cancel((SELECT id FROM rota.tasks WHERE key = 'queued')), 'cancelled', 'cancel again reports the final state');

-- cancel a running task: requested, the executor learns at its heartbeat, its outcome lands as cancelled
SELECT rota.enqueue('q', 'b', key => 'running');
SELECT rota.claim('w1', ARRAY['q']);
SELECT is(rota.cancel((SELECT id FROM rota.tasks WHERE key = 'running')), 'cancelling', 'a running task: cancel requested');
SELECT results_eq($$SELECT state, cancel_requested FROM rota.tasks WHERE key = 'running'$$, $$VALUES ('running', true)$$, 'still running until it stops');
SELECT is((SELECT array_agg(x) FROM rota.heartbeat('w1') AS x), ARRAY[(SELECT id FROM rota.tasks WHERE key = 'running')],
          'the heartbeat returns the task to abort');
SELECT is(rota.complete((SELECT id FROM rota.tasks WHERE key = 'running'), 1), true, 'its completion is accepted');
SELECT is((SELECT state FROM rota.tasks WHERE key = 'running'), 'cancelled', '... and lands as cancelled');
SELECT is((SELECT count(*) FROM rota._queue_slots WHERE task_id IS NOT NULL), 0::bigint, 'its slot is free');

SELECT rota.enqueue('q', 'c', key => 'running2');
SELECT rota.claim('w1', ARRAY['q']);
SELECT rota.cancel((SELECT id FROM rota.tasks WHERE key = 'running2'));
SELECT is(rota.fail((SELECT id FROM rota.tasks WHERE key = 'running2'), 1, 'aborted'), 'cancelled', 'a failure after a cancel request lands as cancelled');

-- cancel of finished tasks: no change
SELECT rota.enqueue('q', 'd', key => 'done');
SELECT rota.claim('w1', ARRAY['q']);
SELECT rota.complete((SELECT id FROM rota.tasks WHERE key = 'done'), 1);
SELECT is(rota.cancel((SELECT id FROM rota.tasks WHERE key = 'done')), 'succeeded', 'cancel of a succeeded task changes nothing');
SELECT is((SELECT state FROM rota.tasks WHERE key = 'done'), 'succeeded', 'still succeeded');

-- retry of failed
SELECT rota.enqueue('q', 'e', key => 'failed');
SELECT rota.claim('w1', ARRAY['q']);
SELECT is(rota.fail((SELECT id FROM rota.tasks WHERE key = 'failed'), 1, 'no'), 'failed', 'max_attempts 1: failed');
SELECT lives_ok($$SELECT rota.retry((SELECT id FROM rota.tasks WHERE key = 'failed'))$$, 'retry a failed task');
SELECT results_eq($$SELECT state, run_at = now(), finished_at, attempts, attempts_refunded FROM rota.tasks WHERE key = 'failed'$$,
                  $$VALUES ('queued', true, NULL::timestamptz, 1, 1)$$, 'queued now, the attempt counter (fence) kept');
SELECT is((SELECT attempt FROM rota.claim('w1', ARRAY['q'])), 2, 'claimed as attempt 2');
SELECT is(rota.fail((SELECT id FROM rota.tasks WHERE key = 'failed'), 2, 'no again'), 'failed',
          'a fresh budget of max_attempts (1) after retry');
SELECT is((SELECT count(*) FROM rota.task_attempts WHERE task_id = (SELECT id FROM rota.tasks WHERE key = 'failed')), 2::bigint,
          'both attempts recorded across the retry');

-- retry of cancelled
SELECT lives_ok($$SELECT rota.retry((SELECT id FROM rota.tasks WHERE key = 'queued'))$$, 'retry a cancelled task');
SELECT results_eq($$SELECT state, cancel_requested FROM rota.tasks WHERE key = 'queued'$$, $$VALUES ('queued', false)$$, 'queued again');
SELECT lives_ok($$SELECT rota.retry((SELECT id FROM rota.tasks WHERE key = 'running'))$$, 'retry a cancelled (was running) task');
SELECT is((SELECT cancel_requested FROM rota.tasks WHERE key = 'running'), false, 'the cancel request is cleared');

-- retry of other states
SELECT throws_ok(format('SELECT rota.retry(%s)', (SELECT id FROM rota.tasks WHERE key = 'done')), 'RO020',
                 format('rota.retry: task %s is succeeded, only failed or cancelled tasks can be retried', (SELECT id FROM rota.tasks WHERE key = 'done')),
                 'retry of a succeeded task is refused');
SELECT throws_ok(format('SELECT rota.retry(%s)', (SELECT id FROM rota.tasks WHERE key = 'queued')), 'RO020',
                 format('rota.retry: task %s is queued, only failed or cancelled tasks can be retried', (SELECT id FROM rota.tasks WHERE key = 'queued')),
                 'retry of a queued task is refused');
SELECT throws_ok('SELECT rota.retry(-5)', 'RO002', 'rota.retry: unknown task id -5', 'retry of an unknown id');
SELECT throws_ok('SELECT rota.cancel(-5)', 'RO002', 'rota.cancel: unknown task id -5', 'cancel of an unknown id');

SELECT * FROM finish();
ROLLBACK;
