-- Workflow steps: rota.steps (all checkpoints in one call), the step_outputs view, and bad
-- step input (size, names) refused with a stable code and nothing written.
BEGIN;
SELECT plan(18);

SELECT rota.register_executor('w1');
SELECT rota.define_queue('wf', max_attempts => 3);
SELECT rota.enqueue('wf', 'flow', key => 'one');
CREATE TEMP TABLE t1 AS SELECT id FROM rota.tasks WHERE key = 'one';
SELECT rota.claim('w1', ARRAY['wf']);

SELECT is((SELECT count(*) FROM rota.steps((SELECT id FROM t1), 1, token((SELECT id FROM t1), 1))), 0::bigint,
          'steps: none recorded yet');
SELECT rota.record_step((SELECT id FROM t1), 1, 'step-1', '{"n": 1}', token => token((SELECT id FROM t1), 1));
SELECT rota.record_step((SELECT id FROM t1), 1, 'step-2', '[2]', token => token((SELECT id FROM t1), 1));
SELECT results_eq(format('SELECT name, output FROM rota.steps(%s, 1, %L) ORDER BY name', (SELECT id FROM t1),
                         token((SELECT id FROM t1), 1)),
                  $$VALUES ('step-1', '{"n": 1}'::jsonb), ('step-2', '[2]'::jsonb)$$,
                  'steps: every recorded step with its output');

-- the next attempt reads them; the stale one still may read (it is fenced off only for writes)
UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE id = (SELECT id FROM t1);
SELECT rota.reap();
UPDATE rota.tasks SET run_at = now() WHERE id = (SELECT id FROM t1);
SELECT is((SELECT attempt FROM rota.claim('w1', ARRAY['wf'])), 2, 'attempt 2 after a lost lease');
SELECT is((SELECT count(*) FROM rota.steps((SELECT id FROM t1), 2, token((SELECT id FROM t1), 2))), 2::bigint,
          'steps: the next attempt sees both checkpoints');
SELECT throws_ok(format('SELECT * FROM rota.steps(%s, 2, %L)', (SELECT id FROM t1), gen_random_uuid()), 'RO022',
                 format('rota.steps: wrong lease token for attempt 2 of task %s (nothing was written)', (SELECT id FROM t1)),
                 'steps: the current attempt with a wrong token');
SELECT throws_ok(format('SELECT * FROM rota.steps(%s, 3, %L)', (SELECT id FROM t1), gen_random_uuid()), 'RO021',
                 format('rota.steps: attempt 3 of task %s was never claimed (it has 2 attempts)', (SELECT id FROM t1)),
                 'steps: an attempt never claimed');
SELECT throws_ok('SELECT * FROM rota.steps(-1, 1, gen_random_uuid())', 'RO002', 'rota.steps: unknown task id -1',
                 'steps: an unknown task');

-- the view for readers
SELECT results_eq(format($$SELECT queue, task, task_state, step, attempt, output FROM rota.step_outputs
                           WHERE task_id = %s ORDER BY step$$, (SELECT id FROM t1)),
                  $$VALUES ('wf', 'flow', 'running', 'step-1', 1, '{"n": 1}'::jsonb),
                           ('wf', 'flow', 'running', 'step-2', 1, '[2]'::jsonb)$$,
                  'step_outputs: each step with its task and the attempt that recorded it');
SELECT ok(has_table_privilege('rota_reader', 'rota.step_outputs', 'SELECT'), 'rota_reader reads step_outputs');
SELECT ok(has_function_privilege('rota_worker', 'rota.steps(bigint, integer, uuid)', 'EXECUTE'),
          'rota_worker may call rota.steps');

-- bad input: stable codes, nothing written
SELECT throws_ok(format('SELECT rota.record_step(%s, 2, %L, %L::jsonb, %L)', (SELECT id FROM t1), 'big',
                        jsonb_build_object('s', repeat('x', 1048577)), token((SELECT id FROM t1), 2)),
                 'RO011', 'rota.record_step: output is larger than 1 MiB (got 1048586 bytes)',
                 'record_step: an output over 1 MiB');
SELECT throws_ok(format('SELECT rota.record_step(%s, 2, %L, %L::jsonb, %L)', (SELECT id FROM t1), '', '{}',
                        token((SELECT id FROM t1), 2)),
                 'RO010', 'rota.record_step: name must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got '''')',
                 'record_step: an empty step name');
SELECT throws_ok(format('SELECT rota.record_step(%s, 2, %L, %L::jsonb, %L)', (SELECT id FROM t1), repeat('s', 129), '{}',
                        token((SELECT id FROM t1), 2)),
                 'RO010', 'rota.record_step: name must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got '''
                          || repeat('s', 63) || '...)',
                 'record_step: a step name of 129 characters');
SELECT is(rota.record_step((SELECT id FROM t1), 2, repeat('s', 128), '{}', token => token((SELECT id FROM t1), 2)), true,
          'record_step: a step name of 128 characters is fine');
SELECT throws_ok(format('SELECT rota.record_step(%s, 2, NULL, %L::jsonb, %L)', (SELECT id FROM t1), '{}',
                        token((SELECT id FROM t1), 2)),
                 'RO010', 'rota.record_step: name must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got NULL)',
                 'record_step: no step name');
SELECT is((SELECT array_agg(name ORDER BY name COLLATE "C") FROM rota.task_steps WHERE task_id = (SELECT id FROM t1)),
          ARRAY[repeat('s', 128), 'step-1', 'step-2'], 'the refused steps wrote nothing');

-- a cancel request fences the running attempt's steps off
SELECT is(rota.cancel((SELECT id FROM t1)), 'cancelling', 'cancel of the running task');
SELECT is(rota.record_step((SELECT id FROM t1), 2, 'after-cancel', '{}', token => token((SELECT id FROM t1), 2)), false,
          'record_step: false (nothing written) once a cancel was requested');

SELECT * FROM finish();
ROLLBACK;
