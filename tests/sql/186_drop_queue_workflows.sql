-- drop_queue and workflows: a waiting task keeps a queue from being dropped without force;
-- with force, its unfinished tasks end cancelled before they go, so that a parent in another
-- queue waiting for them resumes and an awaited task's waiter is notified.
BEGIN;
SELECT plan(8);

SELECT rota.register_executor('w1');
SELECT rota.define_queue('dq_parents');
SELECT rota.define_queue('dq_children');
CREATE TEMP TABLE ids (name text PRIMARY KEY, id bigint);
CREATE FUNCTION pg_temp.id(p_name text) RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT id FROM ids WHERE name = p_name $$;

-- a parent in dq_parents waiting for two children in dq_children
INSERT INTO ids VALUES ('parent', rota.enqueue('dq_parents', 'flow', key => 'parent'));
SELECT is((SELECT id FROM rota.claim('w1', ARRAY['dq_parents'])), pg_temp.id('parent'), 'the parent runs');
INSERT INTO ids SELECT 'child-' || i, rota.enqueue_child(pg_temp.id('parent'), 1, token(pg_temp.id('parent'), 1),
                                                     'leaf', 'c' || i, queue => 'dq_children')
FROM generate_series(1, 2) AS i;
SELECT is(rota.wait_for_children(pg_temp.id('parent'), 1, token(pg_temp.id('parent'), 1)), 2, 'the parent waits for 2 children');

SELECT throws_ok($$SELECT rota.drop_queue('dq_parents')$$, 'RO030',
                 'rota.drop_queue: queue ''dq_parents'' is not empty (1 queued, running or waiting tasks)',
                 'a waiting task keeps its queue from being dropped without force');

-- one child is running and awaited, with a recorded step and a failed attempt behind it
SELECT is((SELECT id FROM rota.claim('w1', ARRAY['dq_children'], 1)), pg_temp.id('child-1'), 'a child runs');
INSERT INTO rota.task_steps (task_id, name, attempt) VALUES (pg_temp.id('child-1'), 'fetched', 1);
INSERT INTO rota.task_attempts (task_id, attempt, outcome) VALUES (pg_temp.id('child-1'), 0, 'failed');
SELECT is((SELECT state FROM rota.await_task(pg_temp.id('child-1'))), 'running', 'the running child is awaited');

SELECT lives_ok($$SELECT rota.drop_queue('dq_children', force => true)$$, 'drop_queue with force');
SELECT results_eq(format($$SELECT (SELECT state FROM rota.tasks WHERE id = %s),
                                  (SELECT count(*)::int FROM rota.tasks WHERE queue = 'dq_children'),
                                  (SELECT count(*)::int FROM rota._awaited_tasks)$$, pg_temp.id('parent')),
                  $$VALUES ('queued', 0, 0)$$,
                  'the waiting parent is queued again, the children are gone, and no awaited mark is left');
SELECT is((SELECT count(*) FROM rota.task_steps WHERE task_id = pg_temp.id('child-1'))
          + (SELECT count(*) FROM rota.task_attempts WHERE task_id = pg_temp.id('child-1')), 0::bigint,
          'the dropped tasks'' steps and attempts are gone too');

SELECT * FROM finish();
ROLLBACK;
