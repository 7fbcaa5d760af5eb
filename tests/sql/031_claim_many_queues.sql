-- Claim over many queues (more than 8: the walk of tasks_ready_any_queue_idx): claim order
-- across the queues, paused and foreign queues left out, each task's own lease, and the
-- probe per queue when the claimer's tasks lie behind more than 2,000 ready rows of others;
-- a paused queue left out on that probe too, an unknown queue named, duplicate names, every
-- queue paused, and a limited queue among many (served queue by queue, within its limit).
BEGIN;
SELECT plan(20);

SELECT rota.register_executor('w1');
SELECT rota.define_queue('m' || g, lease => (g || ' minutes')::interval) FROM generate_series(1, 12) AS g;
SELECT rota.define_queue('other');
-- m1..m12 get one task each, enqueued in reverse, so id order is m12 .. m1
SELECT rota.enqueue('m' || g, 't' || g, run_at => now() - (g || ' seconds')::interval)
FROM generate_series(12, 1, -1) AS g;
SELECT rota.enqueue('other', 'foreign', run_at => now() - interval '1 hour');
SELECT rota.enqueue('m3', 'urgent', priority => -1);

SELECT is((SELECT array_agg(task ORDER BY ord) FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 12) g), 4)
                                                WITH ORDINALITY AS c(id, queue, task, payload, attempt, key, parent_id, enqueued_at,
                                                                      run_at, max_attempts, concurrency_key, lease_expires_at,
                                                                      scheduled_at, lease_token, ord)),
          ARRAY['urgent', 't12', 't11', 't10'], 'priority, then run_at across twelve queues; another queue''s task is left');
SELECT is((SELECT lease_expires_at - now() FROM rota.tasks WHERE task = 't11'), interval '11 minutes',
          'each task gets its own queue''s lease');

SELECT rota.pause_queue('m9');
SELECT is((SELECT array_agg(task ORDER BY task) FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 12) g), 100)),
          ARRAY['t1', 't2', 't3', 't4', 't5', 't6', 't7', 't8'], 'a paused queue''s task stays queued');
SELECT is((SELECT state FROM rota.tasks WHERE task = 'foreign'), 'queued', 'the other queue''s task too');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 12) g), 10)), 0::bigint,
          'nothing ready: empty');

-- 2,500 older ready tasks of another queue ahead of the claimer's: found by the probe per queue
SELECT count(*) FROM rota.enqueue_many('other', 'backlog', array_fill('{}'::jsonb, ARRAY[2500]),
                                       run_at => now() - interval '2 hours');
SELECT rota.enqueue('m5', 'behind');
SELECT is((SELECT array_agg(task) FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 12) g), 10)),
          ARRAY['behind'], 'a task behind more than 2,000 ready rows of other queues is claimed');
SELECT is((SELECT count(*) FROM rota.tasks WHERE queue = 'other' AND state = 'queued'), 2501::bigint,
          'and none of theirs');

-- the probe per queue leaves the paused queue out too
SELECT rota.enqueue('m9', 'paused-behind');
SELECT rota.enqueue('m6', 'open-behind');
SELECT is((SELECT array_agg(task ORDER BY task) FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 12) g), 10)),
          ARRAY['open-behind'], 'behind the backlog, a paused queue''s task stays queued');
SELECT is((SELECT state FROM rota.tasks WHERE task = 'paused-behind'), 'queued', 'as it was');

SELECT throws_ok($$SELECT * FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 12) g) || 'nope'::text, 1)$$,
                 'RO001', $m$rota.claim: unknown queue 'nope'$m$, 'an unknown queue among many is named');

SELECT rota.enqueue('m7', 'twice-named');
SELECT is((SELECT array_agg(task) FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 12) g)
                                                        || ARRAY(SELECT 'm' || g FROM generate_series(1, 12) g), 10)),
          ARRAY['twice-named'], 'queues named twice: each ready task once');

SELECT rota.enqueue('m8', 'all-paused');
SELECT rota.pause_queue('m' || g) FROM generate_series(1, 12) AS g WHERE g <> 9;
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 12) g), 10)), 0::bigint,
          'every queue paused: empty');
SELECT rota.resume_queue('m' || g) FROM generate_series(1, 12) AS g;

-- a limited queue among many: at most its concurrency starts
SELECT rota.define_queue('m13', concurrency => 1);
SELECT rota.enqueue('m13', 'limited-' || g) FROM generate_series(1, 3) AS g;
SELECT is((SELECT array_agg(task ORDER BY task) FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 13) g), 10)),
          ARRAY['all-paused', 'limited-1', 'paused-behind', 't9'], 'a limited queue among many starts within its limit, the others all');
SELECT is((SELECT count(*) FROM rota.tasks WHERE queue = 'm13' AND state = 'queued'), 2::bigint, 'the rest stay queued');

-- what a claim learned of its queues is kept per executor, and read again after a change
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 12) g), 10)), 0::bigint,
          'twelve open queues without limits, nothing ready');
SELECT is((SELECT count(*) FROM rota._executor_subscriptions WHERE executor = 'w1'), 0::bigint,
          'nothing is kept of the list in a transaction that changed a queue (kept across transactions: isolation spec subscription_vs_queue_change)');
UPDATE rota.queues SET paused = true WHERE name = 'm4';
SELECT rota.enqueue('m4', 'paused-by-update');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 12) g), 10)), 0::bigint,
          'a queue paused by a plain UPDATE of rota.queues (the trigger moves the version on) gives nothing');
SELECT rota.complete(id, 1, token => token(id, 1)) FROM rota.tasks WHERE task = 't2';
SELECT rota.enqueue('m2', 'was-open-' || g) FROM generate_series(1, 2) AS g;
SELECT rota.define_queue('m2', concurrency => 1);
SELECT is((SELECT array_agg(task) FROM rota.claim('w1', ARRAY(SELECT 'm' || g FROM generate_series(1, 12) g), 10)),
          ARRAY['was-open-1'], 'a listed queue given a limit since the last claim: the same list claims within it');
SELECT is((SELECT array_agg(queue || ':' || task) FROM rota.claim('w1', ARRAY(SELECT name FROM rota.queues), 1)),
          ARRAY['other:backlog'], 'a list of every queue there is claims from all of them (the oldest ready task)');
SELECT rota.register_executor('w2');
SELECT throws_ok($$SELECT * FROM rota.claim('w2', ARRAY(SELECT 'm' || g FROM generate_series(1, 12) g) || 'gone'::text, 1)$$,
                 'RO001', $m$rota.claim: unknown queue 'gone'$m$, 'a list with an unknown queue is never kept');

SELECT * FROM finish();
ROLLBACK;
