-- Workflow waits: durable sleep (rota.sleep), children (rota.enqueue_child, rota.children)
-- and the durable wait for them (rota.wait_for_children), cancelling a parent, and bad input
-- refused with a stable code and nothing written.
BEGIN;
SELECT plan(63);

SELECT rota.register_executor('w1');
SELECT rota.define_queue('wf', concurrency => 1, max_attempts => 2);
CREATE TEMP TABLE ids (name text PRIMARY KEY, id bigint);
CREATE FUNCTION pg_temp.id(p_name text) RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT id FROM ids WHERE name = p_name $$;

-- ---------------------------------------------------------------- sleep
INSERT INTO ids VALUES ('sleeper', rota.enqueue('wf', 'flow', key => 'sleeper'));
INSERT INTO ids VALUES ('other', rota.enqueue('wf', 'other', key => 'other', run_at => now() + interval '1 millisecond'));
SELECT is((SELECT id FROM rota.claim('w1', ARRAY['wf'])), pg_temp.id('sleeper'), 'the sleeper runs first');
SELECT rota.record_step(pg_temp.id('sleeper'), 1, 'before', '"done"', token(pg_temp.id('sleeper'), 1));

-- bad input first: nothing written
SELECT throws_ok(format('SELECT rota.sleep(%s, 1, %L, now() - interval ''1 second'')', pg_temp.id('sleeper'),
                        token(pg_temp.id('sleeper'), 1)),
                 'RO010', NULL, 'sleep: until in the past is refused');
SELECT throws_ok(format('SELECT rota.sleep(%s, 1, %L, ''infinity'')', pg_temp.id('sleeper'), token(pg_temp.id('sleeper'), 1)),
                 'RO010', 'rota.sleep: until must be between now and 1 year ahead (got infinity)', 'sleep: until infinity is refused');
SELECT throws_ok(format('SELECT rota.sleep(%s, 1, %L, now() + interval ''1 year 1 day'')', pg_temp.id('sleeper'),
                        token(pg_temp.id('sleeper'), 1)),
                 'RO010', NULL, 'sleep: until more than a year ahead is refused');
SELECT throws_ok(format('SELECT rota.sleep(%s, 1, %L, NULL)', pg_temp.id('sleeper'), token(pg_temp.id('sleeper'), 1)),
                 'RO010', 'rota.sleep: until must be between now and 1 year ahead (got NULL)', 'sleep: no until is refused');
SELECT throws_ok(format('SELECT rota.sleep(%s, 1, %L, now() + interval ''1 hour'', %L)', pg_temp.id('sleeper'),
                        token(pg_temp.id('sleeper'), 1), ''),
                 'RO010', 'rota.sleep: step must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got '''')',
                 'sleep: an empty step name is refused');
SELECT throws_ok(format('SELECT rota.sleep(%s, 1, %L, now() + interval ''1 hour'')', pg_temp.id('sleeper'), gen_random_uuid()),
                 'RO022', NULL, 'sleep: a wrong lease token is refused');
SELECT throws_ok(format('SELECT rota.sleep(%s, 2, %L, now() + interval ''1 hour'')', pg_temp.id('sleeper'), gen_random_uuid()),
                 'RO021', NULL, 'sleep: an attempt never claimed is refused');
SELECT throws_ok('SELECT rota.sleep(-1, 1, gen_random_uuid(), now() + interval ''1 hour'')', 'RO002',
                 'rota.sleep: unknown task id -1', 'sleep: an unknown task');
SELECT results_eq(format('SELECT state, attempts_refunded FROM rota.tasks WHERE id = %s', pg_temp.id('sleeper')),
                  $$VALUES ('running', 0)$$, 'the refused sleeps wrote nothing');

SELECT is(rota.sleep(pg_temp.id('sleeper'), 1, token(pg_temp.id('sleeper'), 1), now() + interval '1 hour', 'nap'), true,
          'sleep: an hour');
SELECT results_eq(format($$SELECT state, run_at = now() + interval '1 hour', attempts, attempts_refunded, lease_token IS NULL
                           FROM rota.tasks WHERE id = %s$$, pg_temp.id('sleeper')),
                  $$VALUES ('queued', true, 1, 1, true)$$, 'the sleeper is queued for later, its attempt refunded');
SELECT results_eq(format($$SELECT outcome, error LIKE 'released by rota.sleep until %%' FROM rota.task_attempts WHERE task_id = %s$$,
                         pg_temp.id('sleeper')),
                  $$VALUES ('released', true)$$, 'its attempt is recorded as released');
SELECT results_eq(format('SELECT name, output ? ''until'' FROM rota.task_steps WHERE task_id = %s ORDER BY name', pg_temp.id('sleeper')),
                  $$VALUES ('before', false), ('nap', true)$$, 'its steps are kept and the sleep is recorded as step nap');
SELECT is((SELECT count(*) FROM rota._queue_slots WHERE queue = 'wf' AND task_id IS NOT NULL), 0::bigint, 'its slot is free');
UPDATE rota.tasks SET run_at = now() - interval '1 second' WHERE id = pg_temp.id('other');
SELECT is((SELECT id FROM rota.claim('w1', ARRAY['wf'])), pg_temp.id('other'), 'another task runs in the only slot meanwhile');
SELECT is(rota.sleep(pg_temp.id('sleeper'), 1, token(pg_temp.id('sleeper'), 1), now() + interval '1 hour'), false,
          'sleep: a stale attempt is fenced off');
SELECT rota.complete(pg_temp.id('other'), 1, token => token(pg_temp.id('other'), 1));
UPDATE rota.tasks SET run_at = now() - interval '1 second' WHERE id = pg_temp.id('sleeper');
SELECT results_eq($$SELECT id, attempt FROM rota.claim('w1', ARRAY['wf'])$$,
                  format('VALUES (%s::bigint, 2)', pg_temp.id('sleeper')), 'the sleeper resumes as attempt 2');
SELECT is((SELECT count(*) FROM rota.steps(pg_temp.id('sleeper'), 2, token(pg_temp.id('sleeper'), 2))), 2::bigint,
          '... and finds its steps');
SELECT is(rota.fail(pg_temp.id('sleeper'), 2, 'once', token => token(pg_temp.id('sleeper'), 2)), 'queued',
          'the sleep did not spend an attempt (max_attempts 2: a first failure retries)');
SELECT rota.cancel(pg_temp.id('sleeper'));

-- a sleep with a cancel requested ends cancelled
INSERT INTO ids VALUES ('cancelled-sleeper', rota.enqueue('wf', 'flow', key => 'cancelled-sleeper'));
SELECT rota.claim('w1', ARRAY['wf']);
SELECT rota.cancel(pg_temp.id('cancelled-sleeper'));
SELECT rota.sleep(pg_temp.id('cancelled-sleeper'), 1, token(pg_temp.id('cancelled-sleeper'), 1), now() + interval '1 hour');
SELECT is((SELECT state FROM rota.tasks WHERE id = pg_temp.id('cancelled-sleeper')), 'cancelled',
          'sleep: a task whose cancel was requested ends cancelled');

-- ---------------------------------------------------------------- children and the wait
SELECT rota.define_queue('kids');
INSERT INTO ids VALUES ('parent', rota.enqueue('kids', 'parent', key => 'parent'));
SELECT rota.claim('w1', ARRAY['kids']);
SELECT throws_ok(format('SELECT rota.wait_for_children(%s, 1, %L)', pg_temp.id('parent'), token(pg_temp.id('parent'), 1)),
                 'RO023', format('rota.wait_for_children: task %s has no children to wait for', pg_temp.id('parent')),
                 'wait_for_children: a task without children');
SELECT throws_ok(format('SELECT rota.enqueue_child(%s, 1, %L, ''child'', NULL)', pg_temp.id('parent'), token(pg_temp.id('parent'), 1)),
                 'RO010', NULL, 'enqueue_child: a key is required');
SELECT throws_ok(format('SELECT rota.enqueue_child(%s, 1, %L, ''child'', ''k'')', pg_temp.id('parent'), gen_random_uuid()),
                 'RO022', NULL, 'enqueue_child: a wrong lease token');
SELECT throws_ok(format('SELECT rota.enqueue_child(%s, 1, %L, ''child'', ''k'', queue => ''nope'')', pg_temp.id('parent'),
                        token(pg_temp.id('parent'), 1)),
                 'RO001', NULL, 'enqueue_child: an unknown queue');
SELECT is((SELECT count(*) FROM rota.tasks WHERE parent_id = pg_temp.id('parent')), 0::bigint, 'the refused children were not written');

SELECT is((SELECT count(DISTINCT rota.enqueue_child(pg_temp.id('parent'), 1, token(pg_temp.id('parent'), 1), 'child',
                                                   'parent/' || g, jsonb_build_object('n', g)))
           FROM generate_series(1, 1000) AS g), 1000::bigint, 'enqueue_child: 1,000 children');
SELECT is(rota.enqueue_child(pg_temp.id('parent'), 1, token(pg_temp.id('parent'), 1), 'child', 'parent/7'),
          (SELECT id FROM rota.tasks WHERE key = 'parent/7'), 'enqueue_child: a key given again returns the existing child');
SELECT results_eq(format('SELECT DISTINCT parent_id, queue FROM rota.tasks WHERE key LIKE ''parent/%%''', pg_temp.id('parent')),
                  format('VALUES (%s::bigint, ''kids'')', pg_temp.id('parent')), 'children: parent_id set, the parent''s queue');

-- 10 children end before the wait: the wait counts the other 990
CREATE TEMP TABLE early AS SELECT id, attempt FROM rota.claim('w1', ARRAY['kids'], 10);
SELECT rota.complete_many(array_agg(c.id), array_agg(c.attempt), array_agg(jsonb_build_object('child', c.id)),
                          tokens(array_agg(c.id), array_agg(c.attempt)))
FROM early AS c;
SELECT is(rota.wait_for_children(pg_temp.id('parent'), 1, token(pg_temp.id('parent'), 1)), 990,
          'wait_for_children: waits for the 990 children not ended');
SELECT results_eq(format('SELECT state, children_open, attempts_refunded, lease_token IS NULL FROM rota.tasks WHERE id = %s',
                         pg_temp.id('parent')),
                  $$VALUES ('waiting', 990, 1, true)$$, 'the parent waits, out of its worker, its attempt refunded');
SELECT is(rota.wait_for_children(pg_temp.id('parent'), 1, token(pg_temp.id('parent'), 1)), NULL::integer,
          'wait_for_children: the released attempt is fenced off');
SELECT is(rota.enqueue_child(pg_temp.id('parent'), 1, token(pg_temp.id('parent'), 1), 'child', 'late'), NULL::bigint,
          'enqueue_child: the released attempt is fenced off (nothing written)');
SELECT is((SELECT count(*) FROM rota.claim('w1', ARRAY['kids'], 10000) WHERE task = 'parent'), 0::bigint,
          'a waiting parent is never claimed (the 990 children are, and run now)');

-- the children end every way: succeeded, failed, cancelled, in batches and one by one
SELECT rota.cancel(id) FROM rota.tasks WHERE parent_id = pg_temp.id('parent') AND key IN ('parent/500', 'parent/501');
SELECT rota.fail_many(array_agg(id), array_agg(attempts), array_fill('broken'::text, ARRAY[count(*)::int]), NULL,
                      array_fill(false, ARRAY[count(*)::int]), tokens(array_agg(id), array_agg(attempts)))
FROM rota.tasks WHERE parent_id = pg_temp.id('parent') AND state = 'running' AND key IN ('parent/11', 'parent/12', 'parent/13');
SELECT rota.complete_many(array_agg(id), array_agg(attempts), array_agg(jsonb_build_object('child', id)),
                          tokens(array_agg(id), array_agg(attempts)))
FROM (SELECT id, attempts FROM rota.tasks WHERE parent_id = pg_temp.id('parent') AND state = 'running' ORDER BY id OFFSET 1) AS c;
SELECT results_eq(format('SELECT state, children_open FROM rota.tasks WHERE id = %s', pg_temp.id('parent')),
                  $$VALUES ('waiting', 1)$$, 'one child left: the parent still waits');
SELECT rota.complete(id, attempts, '{"last": true}', token(id, attempts))
FROM rota.tasks WHERE parent_id = pg_temp.id('parent') AND state = 'running';
SELECT results_eq(format('SELECT state, children_open, run_at <= now() FROM rota.tasks WHERE id = %s', pg_temp.id('parent')),
                  $$VALUES ('queued', NULL::integer, true)$$, 'the last child ended: the parent is queued to run now');
SELECT results_eq($$SELECT task, attempt FROM rota.claim('w1', ARRAY['kids'], 10)$$, $$VALUES ('parent', 2)$$,
                  'the parent resumes as attempt 2');
SELECT is(rota.wait_for_children(pg_temp.id('parent'), 2, token(pg_temp.id('parent'), 2)), 0,
          'wait_for_children: nothing left to wait for, it keeps running');
SELECT results_eq(format($$SELECT state, count(*) FROM rota.children(%s, 2, %L) GROUP BY state ORDER BY state$$,
                         pg_temp.id('parent'), token(pg_temp.id('parent'), 2)),
                  $$VALUES ('cancelled', 2::bigint), ('failed', 3::bigint), ('succeeded', 995::bigint)$$,
                  'children: every child''s state');
SELECT results_eq(format($$SELECT c.result = jsonb_build_object('child', c.child_id) OR c.result = '{"last": true}', c.last_error
                           FROM rota.children(%s, 2, %L) AS c WHERE c.key IN ('parent/1', 'parent/11')
                           ORDER BY c.child_id$$, pg_temp.id('parent'), token(pg_temp.id('parent'), 2)),
                  $$VALUES (true, NULL::text), (NULL::boolean, 'broken')$$, 'children: results and errors');
SELECT is((SELECT count(*) FROM rota.task_attempts WHERE task_id = pg_temp.id('parent') AND outcome = 'released'), 1::bigint,
          'the parent was released once (one wait) and woken once');
SELECT throws_ok(format('SELECT * FROM rota.children(%s, 2, %L)', pg_temp.id('parent'), gen_random_uuid()), 'RO022', NULL,
                 'children: a wrong lease token');

-- ---------------------------------------------------------------- cancelling a parent
INSERT INTO ids VALUES ('doomed', rota.enqueue('kids', 'parent', key => 'doomed'));
UPDATE rota.tasks SET run_at = now() + interval '1 hour' WHERE queue = 'kids' AND state = 'queued' AND id <> pg_temp.id('doomed');
SELECT rota.claim('w1', ARRAY['kids']);
SELECT rota.enqueue_child(pg_temp.id('doomed'), 1, token(pg_temp.id('doomed'), 1), 'child', 'doomed/' || g)
FROM generate_series(1, 3) AS g;
SELECT rota.claim('w1', ARRAY['kids']);  -- doomed/1 runs
SELECT is(rota.wait_for_children(pg_temp.id('doomed'), 1, token(pg_temp.id('doomed'), 1)), 3, 'the doomed parent waits for 3');
INSERT INTO ids VALUES ('grandchild', rota.enqueue_child((SELECT id FROM rota.tasks WHERE key = 'doomed/1'), 1,
                                                         token((SELECT id FROM rota.tasks WHERE key = 'doomed/1'), 1),
                                                         'child', 'doomed/1/1'));
SELECT is(rota.cancel(pg_temp.id('doomed')), 'cancelled', 'cancel: a waiting parent is cancelled at once');
SELECT results_eq($$SELECT key, state, cancel_requested FROM rota.tasks WHERE key LIKE 'doomed/%' ORDER BY key$$,
                  $$VALUES ('doomed/1', 'running', true), ('doomed/1/1', 'cancelled', false),
                           ('doomed/2', 'cancelled', false), ('doomed/3', 'cancelled', false)$$,
                  'cancel: queued children and grandchildren cancelled at once, running ones asked to stop');
SELECT is(rota.record_step((SELECT id FROM rota.tasks WHERE key = 'doomed/1'), 1, 's', '{}',
                           token((SELECT id FROM rota.tasks WHERE key = 'doomed/1'), 1)), false,
          'the running child is fenced off from checkpoints');

-- ---------------------------------------------------------------- a child retried while its parent waits
-- It is open again for the parent, so its second end does not wake the parent before its
-- sibling ends.
SELECT rota.define_queue('rk', max_attempts => 1);
INSERT INTO ids VALUES ('rparent', rota.enqueue('rk', 'parent', key => 'rparent'));
SELECT is((SELECT id FROM rota.claim('w1', ARRAY['rk'])), pg_temp.id('rparent'), 'retried child: the parent runs');
INSERT INTO ids SELECT 'rchild-' || g, rota.enqueue_child(pg_temp.id('rparent'), 1, token(pg_temp.id('rparent'), 1),
                                                          'child', 'rparent/' || g)
FROM generate_series(1, 2) AS g;
SELECT is(rota.wait_for_children(pg_temp.id('rparent'), 1, token(pg_temp.id('rparent'), 1)), 2,
          'retried child: the parent waits for its 2 children');
SELECT rota.claim('w1', ARRAY['rk'], 2);
SELECT rota.fail(pg_temp.id('rchild-1'), 1, 'boom', token => token(pg_temp.id('rchild-1'), 1));
SELECT rota.retry(pg_temp.id('rchild-1'));
SELECT is((SELECT children_open FROM rota.tasks WHERE id = pg_temp.id('rparent')), 2,
          'retried child: open again for its waiting parent');
SELECT is((SELECT id FROM rota.claim('w1', ARRAY['rk'])), pg_temp.id('rchild-1'), 'retried child: it runs again');
SELECT rota.complete(pg_temp.id('rchild-1'), 2, token => token(pg_temp.id('rchild-1'), 2));
SELECT is((SELECT state FROM rota.tasks WHERE id = pg_temp.id('rparent')), 'waiting',
          'retried child: its end leaves the parent waiting for the sibling');
SELECT rota.complete(pg_temp.id('rchild-2'), 1, token => token(pg_temp.id('rchild-2'), 1));
SELECT is((SELECT state FROM rota.tasks WHERE id = pg_temp.id('rparent')), 'queued',
          'retried child: the sibling''s end wakes the parent');

-- ---------------------------------------------------------------- children that end cancelled
-- Without a completion, by a release or at once, each still counts itself off its waiting
-- parent (the parent ids come from the ending UPDATE itself).
SELECT rota.define_queue('ck');
INSERT INTO ids VALUES ('cparent', rota.enqueue('ck', 'parent', key => 'cparent'));
SELECT rota.claim('w1', ARRAY['ck']);
INSERT INTO ids SELECT 'cchild-' || g, rota.enqueue_child(pg_temp.id('cparent'), 1, token(pg_temp.id('cparent'), 1),
                                                          'child', 'cparent/' || g)
FROM generate_series(1, 2) AS g;
SELECT is(rota.wait_for_children(pg_temp.id('cparent'), 1, token(pg_temp.id('cparent'), 1)), 2,
          'cancelled children: the parent waits for 2');
SELECT is((SELECT id FROM rota.claim('w1', ARRAY['ck'])), pg_temp.id('cchild-1'), 'cancelled children: the first one runs');
SELECT is(rota.cancel(pg_temp.id('cchild-1')), 'cancelling', 'cancelled children: a cancel is asked of the running one');
SELECT rota.sleep(pg_temp.id('cchild-1'), 1, token(pg_temp.id('cchild-1'), 1), now() + interval '1 hour');
SELECT results_eq(format('SELECT (SELECT state FROM rota.tasks WHERE id = %s), state, children_open FROM rota.tasks WHERE id = %s',
                         pg_temp.id('cchild-1'), pg_temp.id('cparent')),
                  $$VALUES ('cancelled', 'waiting', 1)$$,
                  'cancelled children: released with its cancel, it ends cancelled and counts itself off');
SELECT is(rota.cancel(pg_temp.id('cchild-2')), 'cancelled', 'cancelled children: the queued one is cancelled at once');
SELECT results_eq(format('SELECT state, children_open FROM rota.tasks WHERE id = %s', pg_temp.id('cparent')),
                  $$VALUES ('queued', NULL::integer)$$, 'cancelled children: the last one''s cancel wakes the parent');

-- ---------------------------------------------------------------- views, metrics, constraints
INSERT INTO ids VALUES ('watcher', rota.enqueue('kids', 'parent', key => 'watcher'));
SELECT rota.claim('w1', ARRAY['kids']);
SELECT rota.enqueue_child(pg_temp.id('watcher'), 1, token(pg_temp.id('watcher'), 1), 'child', 'watcher/1');
SELECT rota.wait_for_children(pg_temp.id('watcher'), 1, token(pg_temp.id('watcher'), 1));
SELECT is((SELECT waiting FROM rota.queue_stats WHERE queue = 'kids'), 1::bigint, 'queue_stats: waiting tasks');
SELECT is((SELECT waiting FROM rota.queue_overview WHERE queue = 'kids'), 1::bigint, 'queue_overview: waiting tasks');
SELECT ok(rota.metrics() LIKE '%rota_queue_waiting{queue="kids"} 1%', 'metrics: rota_queue_waiting');
SELECT throws_ok(format($$INSERT INTO rota.task_steps (task_id, name, output, attempt) VALUES (%s, '', '{}', 1)$$,
                        pg_temp.id('watcher')),
                 '23514', NULL, 'task_steps: an empty name violates task_steps_name_format');
SELECT throws_ok(format($$UPDATE rota.tasks SET state = 'waiting', children_open = NULL WHERE id = %s$$, pg_temp.id('other')),
                 '23514', NULL, 'tasks: waiting without a count violates tasks_waiting_counted');

SELECT * FROM finish();
ROLLBACK;
