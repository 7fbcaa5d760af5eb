-- Claim: order, delays, pause, batch size, concurrency slots, rate tokens, key limits.
BEGIN;
SELECT plan(76);

SELECT rota.register_executor('w1');
SELECT rota.register_executor('w2');
SELECT rota.define_queue('q', lease => '45 seconds');

-- order: priority, then run_at, then id
SELECT rota.enqueue('q', 'p5', priority => 5);
SELECT rota.enqueue('q', 'p0-late', run_at => now() - interval '1 minute');
SELECT rota.enqueue('q', 'p0-early', run_at => now() - interval '2 minutes');
SELECT rota.enqueue('q', 'p0-a', run_at => now() - interval '1 minute');
SELECT rota.enqueue('q', 'pneg', priority => -1);
SELECT rota.enqueue('q', 'delayed', run_at => now() + interval '10 seconds');

SELECT is((SELECT task FROM rota.claim('w1', ARRAY['q'])), 'pneg', 'lowest priority value first');
SELECT is((SELECT task FROM rota.claim('w1', ARRAY['q'])), 'p0-early', 'then the earliest run_at');
SELECT is((SELECT array_agg(task) FROM rota.claim('w1', ARRAY['q'], 2)), ARRAY['p0-late', 'p0-a'], 'then by id, two at once');
SELECT is((SELECT array_agg(task) FROM rota.claim('w1', ARRAY['q'], 10)), ARRAY['p5'], 'max is an upper bound; delayed tasks wait');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['q'], 10)), 0::bigint, 'nothing ready: empty result');
UPDATE rota.tasks SET run_at = now() WHERE task = 'delayed';
SELECT is((SELECT task FROM rota.claim('w1', ARRAY['q'])), 'delayed', 'a delayed task is claimed once due');

-- what a claim writes and returns
SELECT results_eq($$SELECT state, executor, attempts, started_at BETWEEN now() AND clock_timestamp(), lease_expires_at = now() + interval '45 seconds'
                    FROM rota.tasks WHERE task = 'pneg'$$,
                  $$VALUES ('running', 'w1', 1, true, true)$$, 'a claimed task is running under a lease of the queue, started when claimed');
SELECT rota.enqueue('q', 'shape', '{"k": 1}', key => 'shape-1', max_attempts => 3, concurrency_key => 'ck');
SELECT results_eq($$SELECT queue, task, payload, attempt, key, parent_id, max_attempts, concurrency_key,
                           lease_expires_at = now() + interval '45 seconds', enqueued_at = now(), run_at = now()
                    FROM rota.claim('w2', ARRAY['q'])$$,
                  $$VALUES ('q', 'shape', '{"k": 1}'::jsonb, 1, 'shape-1', NULL::bigint, 3, 'ck', true, true, true)$$,
                  'claim returns the task with its attempt number');
UPDATE rota.tasks SET state = 'queued', lease_expires_at = NULL WHERE task = 'shape';
SELECT is((SELECT attempt FROM rota.claim('w2', ARRAY['q'])), 2, 'every claim increments the attempt (the fence)');

-- paused queues are skipped
SELECT rota.define_queue('paused');
SELECT rota.enqueue('paused', 'job');
SELECT rota.pause_queue('paused');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['paused'], 5)), 0::bigint, 'a paused queue gives nothing');
SELECT rota.resume_queue('paused');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['paused'], 5)), 1::bigint, 'resumed: claimable again');

-- several queues at once: merged order
SELECT rota.define_queue('a');
SELECT rota.define_queue('b');
SELECT rota.enqueue('a', 'a1', priority => 2);
SELECT rota.enqueue('b', 'b1', priority => 1);
SELECT rota.enqueue('a', 'a2', priority => 0);
SELECT rota.enqueue('b', 'b2', priority => 3);
SELECT is((SELECT array_agg(task) FROM rota.claim('w1', ARRAY['a', 'b'], 3)), ARRAY['a2', 'b1', 'a1'],
          'several queues: one claim in priority order across them');
SELECT is((SELECT array_agg(task) FROM rota.claim('w1', ARRAY['b', 'a', 'b'], 3)), ARRAY['b2'], 'duplicated queue names are fine');

-- a stopped executor claims nothing until it registers again
SELECT rota.enqueue('a', 'a3');
SELECT rota.register_executor('gone');
SELECT rota.stop_executor('gone');
SELECT is((SELECT count(*) FROM rota.claim('gone', ARRAY['a'])), 0::bigint, 'a stopped executor claims nothing');
SELECT rota.register_executor('gone');
SELECT is((SELECT task FROM rota.claim('gone', ARRAY['a'])), 'a3', 're-registered: it claims again');

-- concurrency limit K: the K+1th claim gets nothing until a slot is freed
SELECT rota.define_queue('lim', concurrency => 2);
SELECT rota.enqueue_many('lim', 'job', array_fill('{}'::jsonb, ARRAY[5]));
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['lim'])), 1::bigint, 'first claim under concurrency 2');
SELECT is((SELECT count(*) FROM rota.claim('w2', ARRAY['lim'], 5)), 1::bigint, 'second claim takes the last slot only');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['lim'], 5)), 0::bigint, 'the K+1th claim gets nothing');
SELECT is((SELECT count(*) FROM rota._queue_slots WHERE queue = 'lim' AND task_id IS NOT NULL), 2::bigint, 'both slots in use');
SELECT is((SELECT count(*) FROM rota.tasks t JOIN rota._queue_slots s ON s.queue = t.queue AND s.slot = t.slot AND s.task_id = t.id
           WHERE t.queue = 'lim' AND t.state = 'running'), 2::bigint, 'each running task holds its own slot');
SELECT ok(rota.complete((SELECT min(id) FROM rota.tasks WHERE queue = 'lim' AND state = 'running'), 1), 'complete one');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['lim'], 5)), 1::bigint, 'a freed slot lets one more start');
SELECT lives_ok($$SELECT rota.define_queue('lim', concurrency => 3)$$, 'raise the limit');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['lim'], 5)), 1::bigint, 'the raised limit applies at once');
SELECT lives_ok($$SELECT rota.define_queue('lim', concurrency => 1)$$, 'lower the limit under the running count');
SELECT is((SELECT count(*) FROM rota._queue_slots WHERE queue = 'lim'), 3::bigint, 'busy slots above the limit stay until freed');
SELECT ok(rota.complete((SELECT min(id) FROM rota.tasks WHERE queue = 'lim' AND state = 'running'), 1), 'complete another');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['lim'], 5)), 0::bigint, 'still over the lowered limit: nothing starts');

-- a lowered limit holds after frees (K=2, both slots busy, then K=1)
SELECT rota.define_queue('low', concurrency => 2);
SELECT rota.enqueue_many('low', 'job', array_fill('{}'::jsonb, ARRAY[5]));
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['low'], 2)), 2::bigint, 'low: both slots busy');
SELECT rota.define_queue('low', concurrency => 1);
SELECT ok(rota.complete((SELECT id FROM rota.tasks WHERE queue = 'low' AND state = 'running' AND slot = 1), 1),
          'low: the task in slot 1 completes');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['low'], 5)), 0::bigint,
          'low: busy slot 2 above K=1 counts: nothing starts');
SELECT ok(rota.complete((SELECT id FROM rota.tasks WHERE queue = 'low' AND state = 'running' AND slot = 2), 1),
          'low: the task above the limit completes');
SELECT is((SELECT array_agg(slot ORDER BY slot) FROM rota._queue_slots WHERE queue = 'low'), ARRAY[1],
          'low: its slot row went with it');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['low'], 5)), 1::bigint, 'low: one start under K=1');
SELECT is((SELECT count(*) FROM rota.tasks WHERE queue = 'low' AND state = 'running'), 1::bigint, 'low: one running');

-- fail and stop_executor also delete the slot rows above the limit that they free
SELECT rota.register_executor('w3');
SELECT rota.define_queue('shrink', concurrency => 3);
SELECT rota.enqueue_many('shrink', 'job', array_fill('{}'::jsonb, ARRAY[4]));
SELECT is((SELECT count(*) FROM rota.claim('w3', ARRAY['shrink'], 3)), 3::bigint, 'shrink: three start');
SELECT rota.define_queue('shrink', concurrency => 1);
SELECT is(rota.fail((SELECT id FROM rota.tasks WHERE queue = 'shrink' AND state = 'running' AND slot = 3), 1, 'boom'),
          'queued', 'shrink: the task in slot 3 (above K) fails');
SELECT is((SELECT array_agg(slot ORDER BY slot) FROM rota._queue_slots WHERE queue = 'shrink'), ARRAY[1, 2],
          'shrink: its slot row went with it');
SELECT is(rota.stop_executor('w3'), 2, 'shrink: stop releases the other two');
SELECT is((SELECT array_agg(coalesce(task_id, 0) ORDER BY slot) FROM rota._queue_slots WHERE queue = 'shrink'), ARRAY[0::bigint],
          'shrink: only slot 1 is left, free');

-- a limit introduced while tasks run: they take slots (above K when more run than K)
SELECT rota.define_queue('grow');
SELECT rota.enqueue_many('grow', 'job', array_fill('{}'::jsonb, ARRAY[8]));
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['grow'], 3)), 3::bigint, 'grow: three run without a limit');
SELECT rota.define_queue('grow', concurrency => 2);
SELECT is((SELECT count(*) FROM rota.tasks t JOIN rota._queue_slots s ON s.queue = t.queue AND s.slot = t.slot AND s.task_id = t.id
           WHERE t.queue = 'grow' AND t.state = 'running'), 3::bigint, 'grow: every running task holds a slot');
SELECT is((SELECT array_agg(slot ORDER BY slot) FROM rota._queue_slots WHERE queue = 'grow' AND over_limit), ARRAY[3],
          'grow: the third one above K=2');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['grow'], 5)), 0::bigint, 'grow: nothing starts over the new limit');
SELECT ok(rota.complete((SELECT min(id) FROM rota.tasks WHERE queue = 'grow' AND state = 'running'), 1), 'grow: one completes');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['grow'], 5)), 0::bigint, 'grow: two running = K: still nothing');
SELECT ok(rota.complete((SELECT min(id) FROM rota.tasks WHERE queue = 'grow' AND state = 'running'), 1), 'grow: another completes');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['grow'], 5)), 1::bigint, 'grow: now one starts');
SELECT is((SELECT count(*) FROM rota.tasks WHERE queue = 'grow' AND state = 'running'), 2::bigint, 'grow: K running');
-- raising the limit: the new room is K minus what runs
SELECT rota.define_queue('grow', concurrency => 3);
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['grow'], 5)), 1::bigint, 'grow: raised to 3: one more');
SELECT is((SELECT array_agg(slot ORDER BY slot) FROM rota._queue_slots WHERE queue = 'grow' AND task_id IS NOT NULL), ARRAY[1, 2, 3],
          'grow: slots 1..3 busy, none above');

-- removing the limit drops every slot row; running tasks still complete; a new limit
-- gives them slots again
SELECT rota.define_queue('grow');
SELECT is((SELECT count(*) FROM rota._queue_slots WHERE queue = 'grow'), 0::bigint, 'grow: no limit, no slot rows');
SELECT ok(rota.complete((SELECT min(id) FROM rota.tasks WHERE queue = 'grow' AND state = 'running'),
                        (SELECT attempts FROM rota.tasks WHERE id = (SELECT min(id) FROM rota.tasks WHERE queue = 'grow' AND state = 'running'))),
          'grow: a task that held a removed slot completes');
SELECT rota.define_queue('grow', concurrency => 1);
SELECT is((SELECT count(*) FROM rota._queue_slots WHERE queue = 'grow' AND task_id IS NOT NULL), 2::bigint,
          'grow: the two still running hold slots again');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['grow'], 5)), 0::bigint, 'grow: nothing starts over K=1');

-- rate limit: N starts per period, exactly
SELECT rota.define_queue('rate', rate_limit => 3, rate_period => '1 hour');
SELECT rota.enqueue_many('rate', 'job', array_fill('{}'::jsonb, ARRAY[10]));
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['rate'], 2)), 2::bigint, 'two starts');
SELECT is((SELECT count(*) FROM rota.claim('w2', ARRAY['rate'], 5)), 1::bigint, 'the third start uses the last token');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['rate'], 5)), 0::bigint, 'no fourth start within the period');
SELECT is((SELECT count(*) FROM rota._queue_rate_tokens WHERE queue = 'rate' AND used_at = now()), 3::bigint, 'three tokens stamped');
UPDATE rota._queue_rate_tokens SET used_at = now() - interval '1 hour' WHERE queue = 'rate' AND token = 2;
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['rate'], 5)), 1::bigint, 'a token unused for a whole period allows one start');
UPDATE rota._queue_rate_tokens SET used_at = now() - interval '59 minutes' WHERE queue = 'rate';
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['rate'], 5)), 0::bigint, 'tokens used less than a period ago do not');

-- rate limit and concurrency together: the tighter wins, tokens only for real starts
SELECT rota.define_queue('both', concurrency => 5, rate_limit => 2, rate_period => '1 hour');
SELECT rota.enqueue('both', 'only-one');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['both'], 5)), 1::bigint, 'one task, one start');
SELECT is((SELECT count(*) FROM rota._queue_rate_tokens WHERE queue = 'both' AND used_at = now()), 1::bigint,
          'only one token spent for one start');

-- key limit: at most L running tasks per concurrency key
SELECT rota.define_queue('keyed', concurrency_key_limit => 1);
SELECT rota.enqueue('keyed', 'k', concurrency_key => 'cust-1');
SELECT rota.enqueue('keyed', 'k', concurrency_key => 'cust-1');
SELECT rota.enqueue('keyed', 'k', concurrency_key => 'cust-2');
SELECT rota.enqueue('keyed', 'nokey');
SELECT is((SELECT array_agg(coalesce(concurrency_key, '-') ORDER BY id) FROM rota.claim('w1', ARRAY['keyed'], 10)),
          ARRAY['cust-1', 'cust-2', '-'], 'one per key, keyless tasks are not limited');
SELECT is((SELECT count(*) FROM rota.claim('w2', ARRAY['keyed'], 10)), 0::bigint, 'the second cust-1 task waits');
SELECT ok(rota.complete((SELECT min(id) FROM rota.tasks WHERE queue = 'keyed'), 1), 'the running cust-1 task completes');
SELECT is((SELECT concurrency_key FROM rota.claim('w2', ARRAY['keyed'], 10)), 'cust-1', 'now the second cust-1 task starts');
SELECT rota.define_queue('keyed', concurrency_key_limit => 2);
SELECT rota.enqueue('keyed', 'k', concurrency_key => 'cust-1');
SELECT is((SELECT count(*) FROM rota.claim('w2', ARRAY['keyed'], 10)), 1::bigint, 'a raised key limit adds key slots on demand');
SELECT is((SELECT count(*) FROM rota._key_slots WHERE queue = 'keyed' AND concurrency_key = 'cust-1' AND task_id IS NOT NULL),
          2::bigint, 'two cust-1 key slots in use');

-- a lowered key limit: busy key slots above it count against it (3 running, limit 3 -> 1)
SELECT rota.define_queue('keylow', concurrency_key_limit => 3);
SELECT rota.enqueue_many('keylow', 'k', ARRAY['{}', '{}', '{}', '{}', '{}']::jsonb[], concurrency_key => 'c');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['keylow'], 10)), 3::bigint, 'three start under key limit 3');
SELECT rota.define_queue('keylow', concurrency_key_limit => 1);
SELECT ok(rota.complete((SELECT id FROM rota.tasks WHERE queue = 'keylow' AND state = 'running' AND key_slot = 1), 1),
          'the task in key slot 1 completes');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['keylow'], 10)), 0::bigint,
          'two still run above the lowered key limit 1: nothing starts in the freed slot');
SELECT ok(rota.complete((SELECT id FROM rota.tasks WHERE queue = 'keylow' AND state = 'running' AND key_slot = 3), 1),
          'the task in key slot 3 completes');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['keylow'], 10)), 0::bigint, 'one still runs: at the limit, nothing starts');
SELECT rota.complete((SELECT id FROM rota.tasks WHERE queue = 'keylow' AND state = 'running' AND key_slot = 2), 1);
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['keylow'], 10)), 1::bigint,
          'once all above the limit ended, exactly one starts');
SELECT is((SELECT array_agg(slot) FROM rota._key_slots WHERE queue = 'keylow' AND task_id IS NOT NULL), ARRAY[1],
          'in key slot 1');

SELECT * FROM finish();
ROLLBACK;
