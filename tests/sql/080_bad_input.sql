-- Bad input: every argument check raises its SQLSTATE with a message naming the argument
-- and the value, and writes nothing.
BEGIN;
SELECT plan(93);

SELECT rota.define_queue('q');
SELECT rota.register_executor('w');
SELECT rota.enqueue('q', 'job');
CREATE TEMP TABLE t0 AS SELECT id FROM rota.claim('w', ARRAY['q']);

-- a fingerprint of every rota table, compared after all the failed calls
CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(row(q.*)::text, ',' ORDER BY q.name) FROM rota.queues q),
        (SELECT string_agg(row(t.*)::text, ',' ORDER BY t.id) FROM rota.tasks t),
        (SELECT string_agg(row(a.*)::text, ',' ORDER BY a.task_id, a.attempt) FROM rota.task_attempts a),
        (SELECT string_agg(row(s.*)::text, ',' ORDER BY s.task_id, s.name) FROM rota.task_steps s),
        (SELECT string_agg(row(e.*)::text, ',' ORDER BY e.id) FROM rota.executors e),
        (SELECT string_agg(row(s.*)::text, ',' ORDER BY s.queue, s.slot) FROM rota._queue_slots s),
        (SELECT string_agg(row(r.*)::text, ',' ORDER BY r.queue, r.token) FROM rota._queue_rate_tokens r),
        (SELECT string_agg(row(k.*)::text, ',' ORDER BY k.queue, k.concurrency_key) FROM rota._key_counts k)));
$$;
CREATE TEMP TABLE fp AS SELECT pg_temp.fingerprint() AS before;

SELECT throws_ok($s$SELECT rota.define_queue('bad name')$s$,
                 'RO010', $m$rota.define_queue: name must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got 'bad name')$m$,
                 $d$define_queue name$d$);
SELECT throws_ok($s$SELECT rota.define_queue(NULL)$s$,
                 'RO010', $m$rota.define_queue: name must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got NULL)$m$,
                 $d$define_queue name null$d$);
SELECT throws_ok($s$SELECT rota.define_queue(repeat('x', 129))$s$,
                 'RO010', $m$rota.define_queue: name must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got 'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...)$m$,
                 $d$define_queue name long$d$);
SELECT throws_ok($s$SELECT rota.define_queue('-q')$s$,
                 'RO010', $m$rota.define_queue: name must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got '-q')$m$,
                 $d$define_queue name leading dash$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', concurrency => -1)$s$,
                 'RO010', $m$rota.define_queue: concurrency must be > 0 (got -1)$m$,
                 $d$define_queue concurrency$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', concurrency => 0)$s$,
                 'RO010', $m$rota.define_queue: concurrency must be > 0 (got 0)$m$,
                 $d$define_queue concurrency 0$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', concurrency => 1000000)$s$,
                 'RO010', $m$rota.define_queue: concurrency must be <= 100000 (got 1000000)$m$,
                 $d$define_queue concurrency huge$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', rate_limit => 0, rate_period => '1 second')$s$,
                 'RO010', $m$rota.define_queue: rate_limit must be > 0 (got 0)$m$,
                 $d$define_queue rate_limit$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', rate_limit => 5, rate_period => '-1 second')$s$,
                 'RO010', $m$rota.define_queue: rate_period must be > 0 (got -00:00:01)$m$,
                 $d$define_queue rate_period$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', rate_limit => 5)$s$,
                 'RO010', $m$rota.define_queue: rate_limit/rate_period must be given together (got 5/NULL)$m$,
                 $d$define_queue rate pair$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', rate_period => '1 minute')$s$,
                 'RO010', $m$rota.define_queue: rate_limit/rate_period must be given together (got NULL/00:01:00)$m$,
                 $d$define_queue rate pair 2$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', max_attempts => 0)$s$,
                 'RO010', $m$rota.define_queue: max_attempts must be >= 1 (got 0)$m$,
                 $d$define_queue max_attempts$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', max_attempts => NULL)$s$,
                 'RO010', $m$rota.define_queue: max_attempts must be >= 1 (got NULL)$m$,
                 $d$define_queue max_attempts null$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', lease => '0 seconds')$s$,
                 'RO010', $m$rota.define_queue: lease must be > 0 (got 00:00:00)$m$,
                 $d$define_queue lease$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', lease => NULL)$s$,
                 'RO010', $m$rota.define_queue: lease must be > 0 (got NULL)$m$,
                 $d$define_queue lease null$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', concurrency_key_limit => 0)$s$,
                 'RO010', $m$rota.define_queue: concurrency_key_limit must be between 1 and 10000 (got 0)$m$,
                 $d$define_queue key limit$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', backoff_base => '-5 seconds')$s$,
                 'RO010', $m$rota.define_queue: backoff_base must be > 0 (got -00:00:05)$m$,
                 $d$define_queue backoff_base$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', backoff_base => '1 minute', backoff_max => '30 seconds')$s$,
                 'RO010', $m$rota.define_queue: backoff_max must be >= backoff_base (00:01:00) (got 00:00:30)$m$,
                 $d$define_queue backoff_max$d$);
SELECT throws_ok($s$SELECT rota.define_queue('nq', retention => '0 days')$s$,
                 'RO010', $m$rota.define_queue: retention must be > 0 (got 00:00:00)$m$,
                 $d$define_queue retention$d$);
SELECT throws_ok($s$SELECT rota.drop_queue('nope')$s$,
                 'RO001', $m$rota.drop_queue: unknown queue 'nope'$m$,
                 $d$drop_queue unknown$d$);
SELECT throws_ok($s$SELECT rota.drop_queue('no pe')$s$,
                 'RO010', $m$rota.drop_queue: name must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got 'no pe')$m$,
                 $d$drop_queue bad name$d$);
SELECT throws_ok($s$SELECT rota.pause_queue('nope')$s$,
                 'RO001', $m$rota.pause_queue: unknown queue 'nope'$m$,
                 $d$pause_queue unknown$d$);
SELECT throws_ok($s$SELECT rota.resume_queue('nope')$s$,
                 'RO001', $m$rota.resume_queue: unknown queue 'nope'$m$,
                 $d$resume_queue unknown$d$);
SELECT throws_ok($s$SELECT rota.enqueue('nope', 'job')$s$,
                 'RO001', $m$rota.enqueue: unknown queue 'nope'$m$,
                 $d$enqueue unknown queue$d$);
SELECT throws_ok($s$SELECT rota.enqueue(NULL, 'job')$s$,
                 'RO001', $m$rota.enqueue: unknown queue NULL$m$,
                 $d$enqueue null queue$d$);
SELECT throws_ok($s$SELECT rota.enqueue('q', 'bad task')$s$,
                 'RO010', $m$rota.enqueue: task must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got 'bad task')$m$,
                 $d$enqueue bad task$d$);
SELECT throws_ok($s$SELECT rota.enqueue('q', NULL)$s$,
                 'RO010', $m$rota.enqueue: task must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got NULL)$m$,
                 $d$enqueue null task$d$);
SELECT throws_ok($s$SELECT rota.enqueue('q', 'job', max_attempts => 0)$s$,
                 'RO010', $m$rota.enqueue: max_attempts must be >= 1 (got 0)$m$,
                 $d$enqueue max_attempts$d$);
SELECT throws_ok($s$SELECT rota.enqueue('q', 'job', key => '')$s$,
                 'RO010', $m$rota.enqueue: key must be 1 to 512 characters (got '')$m$,
                 $d$enqueue empty key$d$);
SELECT throws_ok($s$SELECT rota.enqueue('q', 'job', key => repeat('k', 513))$s$,
                 'RO010', $m$rota.enqueue: key must be 1 to 512 characters (got 'kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk...)$m$,
                 $d$enqueue long key$d$);
SELECT throws_ok($s$SELECT rota.enqueue('q', 'job', concurrency_key => '')$s$,
                 'RO010', $m$rota.enqueue: concurrency_key must be 1 to 512 characters (got '')$m$,
                 $d$enqueue empty concurrency_key$d$);
SELECT throws_ok($s$SELECT rota.enqueue('q', 'job', parent_id => -1)$s$,
                 'RO002', $m$rota.enqueue: unknown task id -1 (parent_id)$m$,
                 $d$enqueue unknown parent$d$);
SELECT throws_ok($s$SELECT rota.enqueue('q', 'job', '{"a": }')$s$,
                 '22P02', NULL,
                 $d$enqueue malformed json$d$);
SELECT throws_ok($s$SELECT rota.enqueue_many('q', 'job', NULL)$s$,
                 'RO010', $m$rota.enqueue_many: payloads must not be NULL (got NULL)$m$,
                 $d$enqueue_many null payloads$d$);
SELECT throws_ok($s$SELECT rota.enqueue_many('q', 'job', ARRAY['{}', '{}']::jsonb[], ARRAY['a'])$s$,
                 'RO010', $m$rota.enqueue_many: keys must have as many elements as payloads (2) (got 1)$m$,
                 $d$enqueue_many keys length$d$);
SELECT throws_ok($s$SELECT rota.enqueue_many('q', 'job', ARRAY[ARRAY['{}'::jsonb], ARRAY['{}'::jsonb]])$s$,
                 'RO010', $m$rota.enqueue_many: payloads must be one-dimensional (got 2)$m$,
                 $d$enqueue_many 2d$d$);
SELECT throws_ok($s$SELECT rota.enqueue_many('nope', 'job', ARRAY['{}']::jsonb[])$s$,
                 'RO001', $m$rota.enqueue_many: unknown queue 'nope'$m$,
                 $d$enqueue_many unknown queue$d$);
SELECT throws_ok($s$SELECT rota.enqueue_many('q', 'job', ARRAY['{}', jsonb_build_object('s', repeat('x', 1100000))])$s$,
                 'RO011', $m$rota.enqueue_many: payloads[2] is larger than 1 MiB (got 1100009 bytes)$m$,
                 $d$enqueue_many big payload$d$);
SELECT throws_ok($s$SELECT rota.enqueue_many('q', 'job', ARRAY['{}', '{}']::jsonb[], ARRAY['ok', ''])$s$,
                 'RO010', $m$rota.enqueue_many: keys[2] must be 1 to 512 characters (got '')$m$,
                 $d$enqueue_many bad key$d$);
SELECT throws_ok($s$SELECT rota.claim('nobody', ARRAY['q'])$s$,
                 'RO004', $m$rota.claim: unknown executor 'nobody' (call rota.register_executor first)$m$,
                 $d$claim unknown executor$d$);
SELECT throws_ok($s$SELECT rota.claim(NULL, ARRAY['q'])$s$,
                 'RO004', $m$rota.claim: unknown executor NULL (call rota.register_executor first)$m$,
                 $d$claim null executor$d$);
SELECT throws_ok($s$SELECT rota.claim('w', ARRAY['q', 'nope'])$s$,
                 'RO001', $m$rota.claim: unknown queue 'nope'$m$,
                 $d$claim unknown queue$d$);
SELECT throws_ok($s$SELECT rota.claim('w', ARRAY[]::text[])$s$,
                 'RO010', $m$rota.claim: queues must name at least one queue (got '{}')$m$,
                 $d$claim no queues$d$);
SELECT throws_ok($s$SELECT rota.claim('w', NULL)$s$,
                 'RO010', $m$rota.claim: queues must name at least one queue (got NULL)$m$,
                 $d$claim null queues$d$);
SELECT throws_ok($s$SELECT rota.claim('w', ARRAY['q'], 0)$s$,
                 'RO010', $m$rota.claim: max must be between 1 and 10000 (got 0)$m$,
                 $d$claim max 0$d$);
SELECT throws_ok($s$SELECT rota.claim('w', ARRAY['q'], NULL)$s$,
                 'RO010', $m$rota.claim: max must be between 1 and 10000 (got NULL)$m$,
                 $d$claim max null$d$);
SELECT throws_ok($s$SELECT rota.claim('w', ARRAY['q'], 100000)$s$,
                 'RO010', $m$rota.claim: max must be between 1 and 10000 (got 100000)$m$,
                 $d$claim max huge$d$);
SELECT throws_ok($s$SELECT rota.complete(-1, 1, token => token(-1, 1))$s$,
                 'RO002', $m$rota.complete: unknown task id -1$m$,
                 $d$complete unknown$d$);
SELECT throws_ok(replace($s$SELECT rota.complete(:id, 0, token => token(:id, 0))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO021', replace($m$rota.complete: attempt 0 of task 1 was never claimed (it has 1 attempts)$m$, 'task 1 ', 'task ' || (SELECT id FROM t0) || ' '),
                 $d$complete attempt 0$d$);
SELECT throws_ok(replace($s$SELECT rota.complete(:id, NULL, token => token(:id, NULL))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO021', replace($m$rota.complete: attempt NULL of task 1 was never claimed (it has 1 attempts)$m$, 'task 1 ', 'task ' || (SELECT id FROM t0) || ' '),
                 $d$complete attempt null$d$);
SELECT throws_ok(replace($s$SELECT rota.complete(:id, 2, token => token(:id, 2))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO021', replace($m$rota.complete: attempt 2 of task 1 was never claimed (it has 1 attempts)$m$, 'task 1 ', 'task ' || (SELECT id FROM t0) || ' '),
                 $d$complete attempt future$d$);
SELECT throws_ok(replace($s$SELECT rota.complete(:id, 1, jsonb_build_object('s', repeat('x', 1100000)), token => token(:id, 1))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO011', $m$rota.complete: result is larger than 1 MiB (got 1100009 bytes)$m$,
                 $d$complete big result$d$);
SELECT throws_ok(replace($s$SELECT rota.complete_many(ARRAY[:id], ARRAY[1, 1], tokens => tokens(ARRAY[:id], ARRAY[1, 1]))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO010', $m$rota.complete_many: attempts must have as many elements as ids (1) (got 2)$m$,
                 $d$complete_many lengths$d$);
SELECT throws_ok(replace($s$SELECT rota.complete_many(ARRAY[:id], ARRAY[1], ARRAY['{}', '{}']::jsonb[], tokens => tokens(ARRAY[:id], ARRAY[1]))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO010', $m$rota.complete_many: results must have as many elements as ids (1) (got 2)$m$,
                 $d$complete_many results length$d$);
SELECT throws_ok($s$SELECT rota.complete_many(NULL, NULL, tokens => tokens(NULL, NULL))$s$,
                 'RO010', $m$rota.complete_many: ids/attempts must not be NULL (got NULL)$m$,
                 $d$complete_many null$d$);
SELECT throws_ok(replace($s$SELECT rota.complete_many(ARRAY[:id], ARRAY[5], tokens => tokens(ARRAY[:id], ARRAY[5]))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO021', replace($m$rota.complete_many: attempt 5 of task 1 was never claimed (it has 1 attempts)$m$, 'task 1 ', 'task ' || (SELECT id FROM t0) || ' '),
                 $d$complete_many bad attempt$d$);
SELECT throws_ok($s$SELECT rota.fail(-1, 1, 'e', token => token(-1, 1))$s$,
                 'RO002', $m$rota.fail: unknown task id -1$m$,
                 $d$fail unknown$d$);
SELECT throws_ok(replace($s$SELECT rota.fail(:id, 0, 'e', token => token(:id, 0))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO021', replace($m$rota.fail: attempt 0 of task 1 was never claimed (it has 1 attempts)$m$, 'task 1 ', 'task ' || (SELECT id FROM t0) || ' '),
                 $d$fail attempt 0$d$);
SELECT throws_ok(replace($s$SELECT rota.fail(:id, 1, 'e', retry_in => '-1 second', token => token(:id, 1))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO010', $m$rota.fail: retry_in must be between 0 and 30 days (got -00:00:01)$m$,
                 $d$fail negative retry_in$d$);
SELECT throws_ok(replace($s$SELECT rota.fail_many(ARRAY[:id], ARRAY[1], ARRAY['a', 'b'], tokens => tokens(ARRAY[:id], ARRAY[1]))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO010', $m$rota.fail_many: errors must have as many elements as ids (1) (got 2)$m$,
                 $d$fail_many lengths$d$);
SELECT throws_ok(replace($s$SELECT rota.fail_many(ARRAY[:id], ARRAY[1, 2], ARRAY['a'], tokens => tokens(ARRAY[:id], ARRAY[1, 2]))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO010', $m$rota.fail_many: attempts must have as many elements as ids (1) (got 2)$m$,
                 $d$fail_many attempts length$d$);
SELECT throws_ok(replace($s$SELECT rota.fail_many(ARRAY[:id], ARRAY[1], ARRAY['a'], ARRAY['1 s', '2 s']::interval[], tokens => tokens(ARRAY[:id], ARRAY[1]))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO010', $m$rota.fail_many: retry_ins must have as many elements as ids (1) (got 2)$m$,
                 $d$fail_many retry_ins length$d$);
SELECT throws_ok(replace($s$SELECT rota.fail_many(ARRAY[:id], ARRAY[1], ARRAY['a'], NULL, ARRAY[true, false], tokens => tokens(ARRAY[:id], ARRAY[1]))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO010', $m$rota.fail_many: retryables must have as many elements as ids (1) (got 2)$m$,
                 $d$fail_many retryables length$d$);
SELECT throws_ok($s$SELECT rota.fail_many(NULL, ARRAY[1], ARRAY['a'], tokens => tokens(NULL, ARRAY[1]))$s$,
                 'RO010', $m$rota.fail_many: ids/attempts/errors must not be NULL (got NULL)$m$,
                 $d$fail_many null$d$);
SELECT throws_ok($s$SELECT rota.cancel(-1)$s$,
                 'RO002', $m$rota.cancel: unknown task id -1$m$,
                 $d$cancel unknown$d$);
SELECT throws_ok($s$SELECT rota.cancel(NULL)$s$,
                 'RO002', $m$rota.cancel: unknown task id NULL$m$,
                 $d$cancel null$d$);
SELECT throws_ok($s$SELECT rota.retry(NULL)$s$,
                 'RO002', $m$rota.retry: unknown task id NULL$m$,
                 $d$retry null$d$);
SELECT throws_ok($s$SELECT * FROM rota.task_status(NULL)$s$,
                 'RO002', $m$rota.task_status: unknown task id NULL$m$,
                 $d$task_status null$d$);
SELECT throws_ok($s$SELECT rota.complete(NULL, 1, token => gen_random_uuid())$s$,
                 'RO002', $m$rota.complete: unknown task id NULL$m$,
                 $d$complete null id$d$);
SELECT throws_ok(replace($s$SELECT rota.retry(:id)$s$, ':id', (SELECT id FROM t0)::text),
                 'RO020', replace($m$rota.retry: task 1 is running, only failed or cancelled tasks can be retried$m$, 'task 1 ', 'task ' || (SELECT id FROM t0) || ' '),
                 $d$retry running$d$);
SELECT throws_ok($s$SELECT rota.next_run_at(ARRAY['nope'])$s$,
                 'RO001', $m$rota.next_run_at: unknown queue 'nope'$m$,
                 $d$next_run_at unknown$d$);
SELECT throws_ok($s$SELECT rota.next_run_at(ARRAY[]::text[])$s$,
                 'RO010', $m$rota.next_run_at: queues must name at least one queue (got '{}')$m$,
                 $d$next_run_at empty$d$);
SELECT throws_ok($s$SELECT rota.prune(0)$s$,
                 'RO010', $m$rota.prune: max_rows must be >= 1 (got 0)$m$,
                 $d$prune zero$d$);
SELECT throws_ok($s$SELECT rota.prune(NULL)$s$,
                 'RO010', $m$rota.prune: max_rows must be >= 1 (got NULL)$m$,
                 $d$prune null$d$);
SELECT throws_ok($s$SELECT rota.step(-1, 1, 'x', token => token(-1, 1))$s$,
                 'RO002', $m$rota.step: unknown task id -1$m$,
                 $d$step unknown$d$);
SELECT throws_ok(replace($s$SELECT rota.step(:id, 1, 'bad name', token => token(:id, 1))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO010', $m$rota.step: name must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got 'bad name')$m$,
                 $d$step bad name$d$);
SELECT throws_ok(replace($s$SELECT rota.record_step(:id, 9, 'x', '{}', token => token(:id, 9))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO021', replace($m$rota.record_step: attempt 9 of task 1 was never claimed (it has 1 attempts)$m$, 'task 1 ', 'task ' || (SELECT id FROM t0) || ' '),
                 $d$record_step bad attempt$d$);
SELECT throws_ok($s$SELECT rota.record_step(-1, 1, 'x', '{}', token => token(-1, 1))$s$,
                 'RO002', $m$rota.record_step: unknown task id -1$m$,
                 $d$record_step unknown$d$);
SELECT throws_ok(replace($s$SELECT rota.record_step(:id, 1, 'x', jsonb_build_object('s', repeat('x', 1100000)), token => token(:id, 1))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO011', $m$rota.record_step: output is larger than 1 MiB (got 1100009 bytes)$m$,
                 $d$record_step big$d$);
SELECT throws_ok($s$SELECT rota.register_executor('bad executor')$s$,
                 'RO010', $m$rota.register_executor: executor must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got 'bad executor')$m$,
                 $d$register bad name$d$);
SELECT throws_ok($s$SELECT rota.register_executor(NULL)$s$,
                 'RO010', $m$rota.register_executor: executor must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got NULL)$m$,
                 $d$register null$d$);
SELECT throws_ok($s$SELECT rota.register_executor('w9', ARRAY['ok', 'not ok'])$s$,
                 'RO010', $m$rota.register_executor: queues[2] must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got 'not ok')$m$,
                 $d$register bad queue$d$);
SELECT throws_ok($s$SELECT rota.register_executor('w9', pid => 0)$s$,
                 'RO010', $m$rota.register_executor: pid must be > 0 (got 0)$m$,
                 $d$register bad pid$d$);
SELECT throws_ok($s$SELECT rota.register_executor('w9', meta => '[1, 2]')$s$,
                 'RO010', $m$rota.register_executor: meta must be a JSON object (got a JSON array)$m$,
                 $d$register bad meta$d$);
SELECT throws_ok($s$SELECT rota.register_executor('w9', host => repeat('h', 300))$s$,
                 'RO010', $m$rota.register_executor: host must be at most 255 characters (got 'hhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhhh...)$m$,
                 $d$register long host$d$);
SELECT throws_ok($s$SELECT rota.heartbeat('nobody', held_ids('nobody'), held_tokens('nobody'))$s$,
                 'RO004', $m$rota.heartbeat: unknown executor 'nobody'$m$,
                 $d$heartbeat unknown$d$);
SELECT throws_ok($s$SELECT rota.stop_executor('nobody')$s$,
                 'RO004', $m$rota.stop_executor: unknown executor 'nobody'$m$,
                 $d$stop unknown$d$);

SELECT throws_ok(replace($s$SELECT rota.complete_many(ARRAY[:id], ARRAY[1], ARRAY[jsonb_build_object('s', repeat('x', 1100000))], tokens => tokens(ARRAY[:id], ARRAY[1]))$s$, ':id', (SELECT id FROM t0)::text),
                 'RO011', $m$rota.complete_many: results[1] is larger than 1 MiB (got 1100009 bytes)$m$,
                 $d$complete_many big result$d$);
SELECT throws_ok($s$SELECT rota.enqueue('q', 'job', jsonb_build_object('s', repeat('x', 1100000)))$s$,
                 'RO011', $m$rota.enqueue: payload is larger than 1 MiB (got 1100009 bytes)$m$,
                 $d$enqueue big payload$d$);

SELECT is(pg_temp.fingerprint(), (SELECT before FROM fp), 'no failed call wrote anything');
SELECT is((SELECT count(*) FROM rota.queues), 1::bigint, 'no queue was created by a failed define_queue');
SELECT is((SELECT count(*) FROM rota.tasks), 1::bigint, 'no task was created by a failed enqueue');
SELECT is((SELECT state FROM rota.tasks), 'running', 'the claimed task is still running, untouched');

SELECT * FROM finish();
ROLLBACK;
