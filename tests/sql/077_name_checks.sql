-- Names: rota._is_name and the *_format CHECK constraints (migration 0019) spell the rule
-- of rota._name_pattern() as `*` plus a length, which PostgreSQL matches ~12 times faster
-- than the pattern's {0,127}; they must accept and reject exactly what the pattern does.
BEGIN;
SELECT plan(10);

CREATE TEMP TABLE samples (value text);
INSERT INTO samples VALUES
    ('a'), ('Z9'), ('send_mail'), ('task:1/x'), ('a.b:c-d_e'), ('0'), (repeat('a', 127)), (repeat('a', 128)),
    (repeat('a', 129)), (''), ('_a'), ('-a'), ('.a'), (':a'), ('a b'), ('a/b'), ('ä'), ('aä'), (E'a\n'), (E'\na'),
    ('a$'), ('a^'), ('a*'), (repeat('é', 10)), ('a' || repeat('_', 127)), ('a' || repeat('_', 128));

SELECT is((SELECT count(*) FROM samples WHERE rota._is_name(value) IS DISTINCT FROM (value ~ rota._name_pattern())),
          0::bigint, 'rota._is_name agrees with rota._name_pattern() on every sample');
SELECT is((SELECT count(*) FROM samples WHERE rota._is_name(value)), 8::bigint,
          'the samples hold both names and non-names (8 names)');
SELECT is(rota._is_name(NULL), NULL, 'NULL is neither');

SELECT rota.define_queue('q');
SELECT rota.enqueue('q', 'parent') AS task_id \gset
SELECT lives_ok(format($$INSERT INTO rota.tasks (queue, task, max_attempts) VALUES ('q', %L, 1)$$, repeat('t', 128)),
                'tasks: a task name of 128 characters is stored');
SELECT throws_ok(format($$INSERT INTO rota.tasks (queue, task, max_attempts) VALUES ('q', %L, 1)$$, repeat('t', 129)),
                 '23514', NULL, 'tasks: a task name of 129 characters violates tasks_task_format');
SELECT throws_ok($$INSERT INTO rota.tasks (queue, task, max_attempts) VALUES ('q', '_x', 1)$$,
                 '23514', NULL, 'tasks: a task name starting with _ violates tasks_task_format');
SELECT throws_ok(format($$INSERT INTO rota.task_steps (task_id, name, attempt) VALUES (%s, %L, 1)$$, :task_id, repeat('s', 129)),
                 '23514', NULL, 'task_steps: a step name of 129 characters violates task_steps_name_format');
SELECT throws_ok(format($$INSERT INTO rota.executors (id) VALUES (%L)$$, 'w ' || 1),
                 '23514', NULL, 'executors: an id with a space violates executors_id_format');
SELECT throws_ok(format($$INSERT INTO rota.queues SELECT (jsonb_populate_record(q, jsonb_build_object('name', %L))).*
                         FROM rota.queues q WHERE q.name = 'q'$$, repeat('q', 129)),
                 '23514', NULL, 'queues: a name of 129 characters violates queues_name_format');
SELECT throws_ok($$SELECT rota.enqueue('q', repeat('t', 129))$$, 'RO010', NULL,
                 'rota.enqueue: a task name of 129 characters is RO010');

SELECT * FROM finish();
ROLLBACK;
