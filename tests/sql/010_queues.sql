-- Queues: schema objects, define/pause/resume/drop and the limit rows they maintain.
BEGIN;
SELECT plan(65);

SELECT has_schema('rota');
SELECT has_table('rota', t, 'table rota.' || t) FROM unnest(ARRAY['queues', 'tasks', 'task_attempts', 'task_steps',
    'executors', '_queue_slots', '_queue_rate_tokens', '_key_counts', '_migrations', '_code']) AS t;
SELECT has_view('rota', v, 'view rota.' || v) FROM unnest(ARRAY['queue_stats', 'failures', 'executor_status']) AS v;
SELECT has_function('rota', f, 'function rota.' || f) FROM unnest(ARRAY['define_queue', 'drop_queue', 'pause_queue',
    'resume_queue', 'enqueue', 'enqueue_many', 'claim', 'complete', 'complete_many', 'fail', 'fail_many', 'cancel',
    'retry', 'next_run_at', 'prune', 'step', 'record_step', 'register_executor', 'heartbeat', 'stop_executor',
    'reap']) AS f;

-- every public function is commented and has declared volatility other than the default where it reads only
SELECT is((SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
           WHERE n.nspname = 'rota' AND p.proname !~ '^_' AND obj_description(p.oid, 'pg_proc') IS NULL), 0::bigint,
          'every public rota function has a COMMENT');
SELECT is((SELECT array_agg(conname::text ORDER BY conname) FROM pg_constraint
           WHERE conrelid = 'rota.tasks'::regclass AND contype = 'c' AND conname IN
           ('tasks_state_valid', 'tasks_running_owned', 'tasks_lease_only_when_running', 'tasks_finished_iff_final')),
          ARRAY['tasks_finished_iff_final', 'tasks_lease_only_when_running', 'tasks_running_owned', 'tasks_state_valid'],
          'the task state machine is enforced by named CHECK constraints');
SELECT ok((SELECT reloptions @> ARRAY['fillfactor=50'] FROM pg_class WHERE oid = 'rota._queue_slots'::regclass),
          'queue_slots keeps free space for HOT frees');
SELECT ok(NOT EXISTS (SELECT 1 FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
                      WHERE i.indrelid = 'rota._queue_slots'::regclass AND a.attname = 'task_id'),
          'queue_slots.task_id is not indexed (frees stay HOT)');
SELECT has_index('rota', 'tasks', 'tasks_ready_idx', ARRAY['queue', 'priority', 'run_at', 'id'], 'partial index over ready tasks');

-- define_queue: defaults
SELECT lives_ok($$SELECT rota.define_queue('plain')$$, 'define_queue with defaults');
SELECT results_eq($$SELECT concurrency, rate_limit, rate_period, max_attempts, lease, concurrency_key_limit,
                           backoff_base, backoff_max, retention, paused FROM rota.queues WHERE name = 'plain'$$,
                  $$VALUES (NULL::int, NULL::int, NULL::interval, 5, interval '30 seconds', NULL::int,
                            interval '1 second', interval '1 hour', interval '7 days', false)$$,
                  'defaults follow the contract');
SELECT is((SELECT count(*) FROM rota._queue_slots WHERE queue = 'plain'), 0::bigint, 'no slot rows without a concurrency limit');

-- define_queue: limits create rows, redefinition updates them
SELECT lives_ok($$SELECT rota.define_queue('lim', concurrency => 3, rate_limit => 4, rate_period => '1 minute',
                                           max_attempts => 2, lease => '10 seconds', concurrency_key_limit => 2,
                                           backoff_base => '2 seconds', backoff_max => '1 minute', retention => '1 day')$$,
                'define_queue with every limit');
SELECT is((SELECT array_agg(slot ORDER BY slot) FROM rota._queue_slots WHERE queue = 'lim'), ARRAY[1, 2, 3], 'one slot row per concurrency');
SELECT is((SELECT count(*) FROM rota._queue_rate_tokens WHERE queue = 'lim'), 4::bigint, 'one token row per allowed start');
SELECT lives_ok($$SELECT rota.define_queue('lim', concurrency => 3, rate_limit => 4, rate_period => '1 minute',
                                           max_attempts => 2, lease => '10 seconds', concurrency_key_limit => 2,
                                           backoff_base => '2 seconds', backoff_max => '1 minute', retention => '1 day')$$,
                'define_queue again with the same values');
SELECT is((SELECT count(*) FROM rota.queues WHERE name = 'lim'), 1::bigint, 'still one queue');
SELECT lives_ok($$SELECT rota.define_queue('lim', concurrency => 1, rate_limit => 2, rate_period => '1 minute')$$, 'lower the limits');
SELECT is((SELECT array_agg(slot ORDER BY slot) FROM rota._queue_slots WHERE queue = 'lim'), ARRAY[1], 'free slots above the new limit are removed');
SELECT is((SELECT count(*) FROM rota._queue_rate_tokens WHERE queue = 'lim'), 2::bigint, 'tokens above the new limit are removed');
SELECT results_eq($$SELECT max_attempts, lease, concurrency_key_limit FROM rota.queues WHERE name = 'lim'$$,
                  $$VALUES (5, interval '30 seconds', NULL::int)$$, 'omitted arguments go back to their defaults');
SELECT lives_ok($$SELECT rota.define_queue('lim')$$, 'drop all limits');
SELECT is((SELECT count(*) FROM rota._queue_slots WHERE queue = 'lim') + (SELECT count(*) FROM rota._queue_rate_tokens WHERE queue = 'lim'),
          0::bigint, 'no limit rows left');

-- pause / resume keep across define_queue
SELECT lives_ok($$SELECT rota.pause_queue('plain')$$, 'pause_queue');
SELECT is((SELECT paused FROM rota.queues WHERE name = 'plain'), true, 'paused');
SELECT lives_ok($$SELECT rota.define_queue('plain', max_attempts => 3)$$, 'redefine a paused queue');
SELECT is((SELECT paused FROM rota.queues WHERE name = 'plain'), true, 'define_queue keeps the paused flag');
SELECT lives_ok($$SELECT rota.resume_queue('plain')$$, 'resume_queue');
SELECT is((SELECT paused FROM rota.queues WHERE name = 'plain'), false, 'resumed');

-- drop_queue
SELECT rota.enqueue('plain', 'job');
SELECT throws_ok($$SELECT rota.drop_queue('plain')$$, 'RO030',
                 'rota.drop_queue: queue ''plain'' is not empty (1 queued, running or waiting tasks)', 'drop_queue refuses a queue with work');
SELECT is((SELECT count(*) FROM rota.tasks WHERE queue = 'plain'), 1::bigint, 'nothing deleted');
SELECT lives_ok($$SELECT rota.drop_queue('plain', force => true)$$, 'drop_queue with force');
SELECT is((SELECT count(*) FROM rota.queues WHERE name = 'plain') + (SELECT count(*) FROM rota.tasks WHERE queue = 'plain'),
          0::bigint, 'queue and its tasks gone');
SELECT lives_ok($$SELECT rota.drop_queue('lim')$$, 'drop_queue of an empty queue');

SELECT * FROM finish();
ROLLBACK;
