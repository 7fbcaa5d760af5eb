-- Bounds and failures that stay local (issue 9): the schedule: key namespace, a failing
-- schedule among others, interval limits and rows past them, catch-up without walking the
-- missed instants, size limits and truncated echoes, typed definitions documents.
BEGIN;
SELECT plan(79);

SELECT rota.define_queue('q');
SELECT rota.register_executor('w');

-- a fingerprint of every rota table, compared after the failed calls of each section
CREATE FUNCTION pg_temp.fingerprint() RETURNS text LANGUAGE sql AS $$
    SELECT md5(concat_ws('|',
        (SELECT string_agg(row(q.*)::text, ',' ORDER BY q.name) FROM rota.queues q),
        (SELECT string_agg(row(t.*)::text, ',' ORDER BY t.id) FROM rota.tasks t),
        (SELECT string_agg(row(e.*)::text, ',' ORDER BY e.id) FROM rota.executors e),
        (SELECT string_agg(row(s.*)::text, ',' ORDER BY s.name) FROM rota.schedules s),
        (SELECT string_agg(row(f.*)::text, ',' ORDER BY f.schedule, f.fire_at) FROM rota.schedule_fires f),
        (SELECT string_agg(row(d.*)::text, ',') FROM rota.definitions d)));
$$;

-- 1. The schedule: key namespace belongs to the scheduler
CREATE TEMP TABLE fp AS SELECT pg_temp.fingerprint() AS before;
SELECT throws_ok($$SELECT rota.enqueue('q', 'evil', '{"planted": true}', key => 'schedule:nightly:2026-11-29T03:00:00Z')$$,
    'RO010', $m$rota.enqueue: key must not start with "schedule:" (reserved for the fires of schedules) (got 'schedule:nightly:2026-11-29T03:00:00Z')$m$,
    'enqueue: a schedule: key is refused');
SELECT throws_ok($$SELECT rota.enqueue_many('q', 'evil', ARRAY['{}', '{}']::jsonb[], ARRAY['mine', 'schedule:x:1'])$$,
    'RO010', $m$rota.enqueue_many: keys[2] must not start with "schedule:" (reserved for the fires of schedules) (got 'schedule:x:1')$m$,
    'enqueue_many: a schedule: key is refused, naming its index');
SELECT is(pg_temp.fingerprint(), (SELECT before FROM fp), 'a refused key wrote nothing');
SELECT lives_ok($$SELECT rota.enqueue('q', 'job', key => 'schedules-are-not-the-prefix')$$, 'other keys are fine');

-- a task planted under a fire's key (as an old release allowed through enqueue; written
-- here directly, with the key row that migration 0020 made for it) is not adopted: the fire
-- records the conflict and the planted task stays itself
SELECT rota.define_schedule('nightly', '* * * * *', 'q', 'report', '{"real": true}');
UPDATE rota.schedules SET next_fire_at = date_trunc('minute', now()) WHERE name = 'nightly';
WITH planted AS (
    INSERT INTO rota.tasks (queue, task, payload, key, max_attempts)
    VALUES ('q', 'evil', '{"planted": true}', rota._fire_key('nightly', date_trunc('minute', now())), 1)
    RETURNING id, queue, key)
INSERT INTO rota._task_keys (queue, key, task_id) SELECT queue, key, id FROM planted;
SELECT is((SELECT count(*) FROM rota.fire_due('w') WHERE schedule = 'nightly'), 0::bigint,
          'a fire whose key is taken by another task returns no task');
SELECT results_eq($$SELECT task_id, fire_error LIKE 'key schedule:nightly:% is held by task %, which this schedule did not enqueue'
                    FROM rota.schedule_fire_status WHERE schedule = 'nightly'$$,
                  $$VALUES (NULL::bigint, true)$$, 'the fire is recorded with the conflict, without a task');
SELECT alike((SELECT last_error FROM rota.schedule_status WHERE name = 'nightly'), 'key schedule:nightly:% is held by task %',
            'schedule_status shows the conflict');
SELECT is((SELECT count(*) FROM rota.tasks WHERE key LIKE 'schedule:nightly:%' AND task = 'report'), 0::bigint,
          'the schedule''s task was not replaced by the planted one ...');
SELECT is((SELECT payload FROM rota.tasks WHERE key LIKE 'schedule:nightly:%'), '{"planted": true}'::jsonb,
          '... and the planted task was not turned into the fire');
-- a task of the fire itself (same task and payload, e.g. fired before a drop and redefine) is adopted
SELECT rota.define_schedule('again', '* * * * *', 'q', 'report');
SELECT rota.enqueue('q', 'report', rota._fire_payload('{}', 'again', date_trunc('minute', now())));
WITH keyed AS (
    UPDATE rota.tasks SET key = rota._fire_key('again', date_trunc('minute', now())) WHERE key IS NULL AND task = 'report'
    RETURNING id, queue, key)
INSERT INTO rota._task_keys (queue, key, task_id) SELECT queue, key, id FROM keyed;
UPDATE rota.schedules SET next_fire_at = date_trunc('minute', now()) WHERE name = 'again';
SELECT is((SELECT task_id FROM rota.fire_due('w') WHERE schedule = 'again'),
          (SELECT id FROM rota.tasks WHERE key = rota._fire_key('again', date_trunc('minute', now()))),
          'a task that is the fire''s own is adopted');
SELECT rota.drop_schedule('nightly');
SELECT rota.drop_schedule('again');

-- 2. One bad schedule does not stop the others
SELECT throws_ok($$SELECT rota.define_schedule('big', '* * * * *', 'q', 'job',
                                               jsonb_build_object('blob', repeat('x', 1048576 - 20)))$$,
    'RO011', NULL, 'define_schedule: a payload that would make its fires'' tasks larger than 1 MiB is refused');
SELECT ok(octet_length(jsonb_build_object('blob', repeat('x', 1048576 - 20))::text) <= 1048576,
          '... although the payload alone is within 1 MiB');
-- such a schedule written before that check existed (inserted directly), due with a good one
INSERT INTO rota.schedules (name, cron, timezone, queue, task, payload, catch_up, catch_up_max, enabled, next_fire_at,
                            alert_late_after)
VALUES ('big', '* * * * *', 'UTC', 'q', 'job', jsonb_build_object('blob', repeat('x', 1048576 - 20)), 'latest', 100, true,
        date_trunc('minute', now()) - interval '1 minute', interval '1 minute');
SELECT rota.define_schedule('good', '* * * * *', 'q', 'job');
UPDATE rota.schedules SET next_fire_at = date_trunc('minute', now()) WHERE name = 'good';
SELECT results_eq($$SELECT schedule FROM rota.fire_due('w')$$, $$VALUES ('good'::text)$$,
                  'fire_due fires the good schedule although the bad one fails');
SELECT results_eq($$SELECT failures, last_error LIKE 'rota.fire_due: payload is larger than 1 MiB%', retry_at - failed_at
                    FROM rota.schedule_status WHERE name = 'big'$$,
                  $$VALUES (1, true, interval '15 seconds')$$, 'the failure is recorded and backed off');
SELECT is((SELECT count(*) FROM rota.schedule_fires WHERE schedule = 'big'), 0::bigint, 'the failed fire left nothing');
SELECT is((SELECT count(*) FROM rota.fire_due('w')), 0::bigint, 'before its retry, the failing schedule is not tried');
SELECT is((SELECT failures FROM rota.schedules WHERE name = 'big'), 1, '... so its failures stay');
SELECT ok(rota.next_fire_at() >= (SELECT retry_at FROM rota.schedules WHERE name = 'big')
          OR rota.next_fire_at() = (SELECT next_fire_at FROM rota.schedules WHERE name = 'good'),
          'next_fire_at does not point a ticker at a schedule that waits for its retry');
UPDATE rota.schedules SET retry_at = now() - interval '1 second' WHERE name = 'big';
SELECT is((SELECT count(*) FROM rota.fire_due('w')), 0::bigint, 'after its retry time it is tried again (and fails)');
SELECT results_eq($$SELECT failures, retry_at - failed_at FROM rota.schedules WHERE name = 'big'$$,
                  $$VALUES (2, interval '30 seconds')$$, 'the backoff doubles');
UPDATE rota.schedules SET payload = '{}', retry_at = now() - interval '1 second' WHERE name = 'big';
SELECT is((SELECT count(*) FROM rota.fire_due('w') WHERE schedule = 'big'), 1::bigint, 'once fixed, it fires');
SELECT results_eq($$SELECT failures, retry_at, last_error IS NOT NULL FROM rota.schedules WHERE name = 'big'$$,
                  $$VALUES (0, NULL::timestamptz, true)$$, 'the failures reset; the last error stays as a record');
SELECT is((SELECT count(*) FROM rota.schedule_fires WHERE schedule = 'good'), 1::bigint, 'the good schedule fired exactly once');
SELECT rota.drop_schedule('big');
SELECT rota.drop_schedule('good');

-- 3. Intervals have upper bounds, so no timestamp arithmetic can overflow
DELETE FROM fp;
INSERT INTO fp SELECT pg_temp.fingerprint();
SELECT throws_ok(format('SELECT rota.define_queue(%L, %s => %L)', 'q2', a, v), 'RO010',
                 format('rota.define_queue: %s must be at most %s (got %s)', a, m, v), 'define_queue: ' || a || ' bounded')
FROM (VALUES ('lease', '1 day', '2 days'), ('rate_period', '30 days', '1000000 years'), ('retention', '10 years', '1000000 years')) AS b(a, m, v)
WHERE a <> 'rate_period';
SELECT throws_ok($$SELECT rota.define_queue('q2', rate_limit => 1, rate_period => '1000000 years')$$, 'RO010',
                 'rota.define_queue: rate_period must be at most 30 days (got 1000000 years)', 'define_queue: rate_period bounded');
SELECT throws_ok($$SELECT rota.define_queue('q2', backoff_base => '31 days', backoff_max => '31 days')$$, 'RO010',
                 'rota.define_queue: backoff_base must be at most 30 days (got 31 days)', 'define_queue: backoff_base bounded');
SELECT throws_ok($$SELECT rota.define_queue('q2', backoff_max => '1000000 years')$$, 'RO010',
                 'rota.define_queue: backoff_max must be at most 30 days (got 1000000 years)', 'define_queue: backoff_max bounded');
SELECT throws_ok($$SELECT rota.enqueue('q', 'job', run_at => 'infinity')$$, 'RO010',
                 'rota.enqueue: run_at must be finite and at most 100 years ahead (got infinity)', 'enqueue: run_at infinity');
SELECT throws_ok($$SELECT rota.enqueue_many('q', 'job', ARRAY['{}']::jsonb[], run_at => '-infinity')$$, 'RO010',
                 'rota.enqueue_many: run_at must be finite and at most 100 years ahead (got -infinity)', 'enqueue_many: run_at -infinity');
SELECT throws_ok($$SELECT rota.enqueue('q', 'job', run_at => now() + interval '101 years')$$, 'RO010', NULL,
                 'enqueue: run_at more than 100 years ahead');
SELECT lives_ok($$SELECT rota.define_queue('q3', lease => '1 day', backoff_max => '30 days', retention => '10 years')$$,
                'the bounds themselves are allowed');
SELECT rota.enqueue('q3', 'job', key => 'r');
SELECT rota.claim('w', ARRAY['q3']);
SELECT throws_ok(format($$SELECT rota.fail(%1$s, 1, 'e', retry_in => '31 days', token => token(%1$s, 1))$$, (SELECT id FROM rota.tasks WHERE key = 'r')),
                 'RO010', 'rota.fail: retry_in must be between 0 and 30 days (got 31 days)', 'fail: retry_in bounded');
SELECT is(pg_temp.fingerprint(), (SELECT before FROM fp) , 'no refused call wrote anything')
FROM (SELECT rota.drop_queue('q3', force => true)) AS cleanup;
SELECT throws_ok($$UPDATE rota.queues SET backoff_max = '1000000 years' WHERE name = 'q'$$, '23514', NULL,
                 'the table refuses rows past the bounds too');

-- a queue row past the bounds (a database from before them: constraints dropped here to
-- make one) no longer stops recovery, renewal or pruning for every queue
ALTER TABLE rota.queues DROP CONSTRAINT queues_lease_at_most, DROP CONSTRAINT queues_backoff_max_at_most,
    DROP CONSTRAINT queues_retention_at_most;
SELECT rota.define_queue('huge');
UPDATE rota.queues SET lease = '1000000 years', backoff_base = '1000000 years', backoff_max = '1000000 years',
                       retention = '1000000 years' WHERE name = 'huge';
SELECT rota.enqueue('huge', 'job', key => 'h');
SELECT rota.enqueue('q', 'job', key => 'n');
SELECT is((SELECT count(*) FROM rota.claim('w', ARRAY['q'], 10) WHERE key = 'n'), 1::bigint, 'claim a task of a normal queue');
UPDATE rota.tasks SET state = 'running', executor = 'w', attempts = 1, started_at = now(), lease_expires_at = now(), lease_token = gen_random_uuid()
WHERE key = 'h';
SELECT lives_ok($$SELECT rota.heartbeat('w', held_ids('w'), held_tokens('w'))$$, 'heartbeat renews despite the huge lease');
SELECT is((SELECT lease_expires_at FROM rota.tasks WHERE key = 'h'), now() + interval '1 day', '... up to the lease bound');
UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE key IN ('h', 'n');
SELECT is(rota.reap(), 2, 'reap recovers the tasks of both queues');
SELECT ok((SELECT run_at <= now() + interval '30 days' FROM rota.tasks WHERE key = 'h'), '... the huge backoff capped at its bound');
UPDATE rota.tasks SET state = 'succeeded', finished_at = now() - interval '11 years', run_at = now()
WHERE key IN ('h', 'n');
SELECT is(rota.prune(), 2, 'prune deletes old tasks of both queues');

-- 4. Catch-up finds the due instants without walking the missed ones
SELECT throws_ok($$SELECT rota.define_schedule('s', '* * * * *', 'q', 'job', catch_up_max => 1001)$$, 'RO010',
                 'rota.define_schedule: catch_up_max must be between 1 and 1000 (got 1001)', 'catch_up_max is at most 1000');
-- an every-second schedule missed for 30 days: latest fires once, the newest due second
SELECT rota.define_schedule('every-second', '* * * * * *', 'q', 'tick');
UPDATE rota.schedules SET next_fire_at = date_trunc('second', now()) - interval '30 days' WHERE name = 'every-second';
CREATE TEMP TABLE fired AS SELECT *, clock_timestamp() AS after FROM rota.fire_due('w') WHERE schedule = 'every-second';
SELECT is((SELECT count(*) FROM fired), 1::bigint, 'latest after 30 days: one fire');
SELECT ok((SELECT fire_at <= after AND fire_at > after - interval '2 seconds' FROM fired),
          '... at the newest due second');
SELECT ok((SELECT next_fire_at > (SELECT fire_at FROM fired) FROM rota.schedules WHERE name = 'every-second'),
          'next_fire_at moves past it');
-- all, after 30 days: the newest catch_up_max fires, oldest first, one second apart
UPDATE rota.schedules SET catch_up = 'all', catch_up_max = 1000,
                          next_fire_at = date_trunc('second', now()) - interval '30 days' WHERE name = 'every-second';
DELETE FROM rota.schedule_fires WHERE schedule = 'every-second';
DROP TABLE fired;
CREATE TEMP TABLE fired AS SELECT * FROM rota.fire_due('w') WHERE schedule = 'every-second';
SELECT results_eq($$SELECT count(*), max(fire_at) - min(fire_at) FROM fired$$, $$VALUES (1000::bigint, interval '999 seconds')$$,
                  'all: the newest 1000 missed seconds');
-- the search agrees with walking cron_next forward (zones with DST, irregular expressions)
CREATE FUNCTION pg_temp.walk(p_cron text, p_tz text, p_floor timestamptz, p_before timestamptz, p_count integer)
RETURNS timestamptz[] LANGUAGE plpgsql AS $$
DECLARE
    v_all timestamptz[] := ARRAY[p_floor];
    v_at timestamptz := rota.cron_next(p_cron, p_floor, p_tz);
BEGIN
    WHILE v_at < p_before LOOP
        v_all := v_all || v_at;
        v_at := rota.cron_next(p_cron, v_at, p_tz);
    END LOOP;
    RETURN v_all[greatest(1, cardinality(v_all) - p_count + 1):];
END;
$$;
SELECT is(rota._cron_fires_before(c, z, f, b, n), pg_temp.walk(c, z, f, b, n), format('fires before: %s %s %s', c, z, n))
FROM (VALUES ('30 2 * * *', 'Europe/Berlin', '2026-03-01 01:30+00'::timestamptz, '2026-04-02'::timestamptz, 20),
             ('*/20 * * * *', 'Europe/Berlin', '2026-10-24 20:00+00', '2026-10-25 04:00+00', 50),
             ('0 * * * *', 'America/New_York', '2026-03-07 00:00+00', '2026-03-09 00:00+00', 30),
             ('0,1 0 * * * *', 'UTC', '2026-01-01 00:00+00', '2026-01-01 12:00:30+00', 15),
             ('0 0 29 2 *', 'UTC', '2000-02-29 00:00+00', '2030-01-01', 3),
             ('0 9 * * 1-5', 'Australia/Lord_Howe', '2026-09-01 00:00+00', '2026-11-01', 1000),
             ('* * * * *', 'UTC', '2026-01-01 00:00:30+00', '2026-01-01 00:05:00+00', 1000)) AS t(c, z, f, b, n);

-- 5. Size limits and echoes: long values are cut to 64 characters, payloads never echoed
DELETE FROM fp;
INSERT INTO fp SELECT pg_temp.fingerprint();
SELECT throws_ok($$SELECT * FROM rota.fire_due(repeat('e', 10000000))$$, 'RO010',
    $m$rota.fire_due: executor must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got 'eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee...)$m$,
    'fire_due: a 10 MB executor name is refused, echoed cut');
SELECT throws_ok($$SELECT rota.register_executor('w', ARRAY(SELECT 'q' || g FROM generate_series(1, 1001) g))$$, 'RO010',
    'rota.register_executor: queues must name at most 1000 queues (got 1001)', 'register_executor: at most 1000 queues');
SELECT throws_ok($$SELECT rota.enqueue(repeat('u', 1000), 'job')$$, 'RO001',
    format('rota.enqueue: unknown queue %L', repeat('u', 64) || '...'), 'an unknown queue is echoed cut');
SELECT throws_ok($$SELECT rota.define_schedule(repeat('n', 200), '* * * * *', 'q', 'job')$$, 'RO010',
    format('rota.define_schedule: invalid schedule name "%s..."', repeat('n', 64)), 'a long schedule name is echoed cut');
SELECT throws_ok($$SELECT rota.define_schedule('s', '* * * * *', 'q', 'job', '["secret-token"]')$$, 'RO010',
    'rota.define_schedule: payload must be a JSON object (got a JSON array)', 'a payload is never echoed');
SELECT throws_ok($$SELECT rota.drop_schedule(repeat('d', 100))$$, 'RO003',
    format('rota.drop_schedule: unknown schedule "%s..."', repeat('d', 64)), 'an unknown schedule is echoed cut');
SELECT throws_ok($$SELECT rota.apply(jsonb_build_object('version', 50, 'queues', jsonb_build_array(
                       jsonb_build_object('name', 'a', 'blob', repeat('b', 1048576)))))$$, 'RO011', NULL,
    'apply: a document over 1 MiB is refused');
SELECT throws_ok($$SELECT rota.apply(jsonb_build_object('version', 50, 'queues',
                       (SELECT jsonb_agg(jsonb_build_object('name', 'q' || g)) FROM generate_series(1, 1001) g)))$$,
    'RO040', 'rota.apply: queues: must have at most 1000 entries (got 1001)', 'apply: at most 1000 queues');
SELECT throws_ok($$SELECT rota.apply(jsonb_build_object('version', 50, 'schedules', jsonb_build_array('secret-token')))$$,
    'RO040', 'rota.apply: schedules[0]: must be a JSON object (got string)', 'apply: a definition is never echoed');
SELECT throws_ok($$SELECT rota.apply(jsonb_build_object('version', 50, 'queues', jsonb_build_array(
                       jsonb_build_object('name', 'a', repeat('k', 100), 1))))$$,
    'RO040', format('rota.apply: queues[0]: unknown key "%s..." (allowed: %s)', repeat('k', 64),
                    'alert_dead_per_hour, alert_failure_ratio, alert_failure_window, alert_failures_per_minute, alert_stuck_after, '
                    'alert_unreaped_after, backoff_base, backoff_max, concurrency, concurrency_key_limit, lease, max_attempts, name, '
                    'paused, rate_limit, rate_period, retention'),
    'apply: an unknown key is echoed cut');
SELECT throws_ok($$SELECT rota.apply(jsonb_build_object('version', 50, 'schedules', jsonb_build_array(
                       jsonb_build_object('name', 's', 'cron', '* * * * *', 'queue', 'q', 'task', 't',
                                          'payload', jsonb_build_object('blob', repeat('x', 1048576 - 60))))))$$,
    'RO011', NULL, 'apply: a schedule payload near 1 MiB makes the document too large (RO011 before any definition runs)');

-- 6. Definitions documents: typed values, bounded versions, nested errors as RO040
SELECT throws_ok(format('SELECT rota.apply(%L)', d), 'RO040', m, 'apply: ' || d)
FROM (VALUES
    ('{"version": 1e30}', 'rota.apply: version: must be a whole number between 1 and 2147483647 (got 1000000000000000000000000000000)'),
    ('{"version": 9223372036854775807}', 'rota.apply: version: must be a whole number between 1 and 2147483647 (got 9223372036854775807)'),
    ('{"version": 2147483648}', 'rota.apply: version: must be a whole number between 1 and 2147483647 (got 2147483648)'),
    ('{"version": 1.5}', 'rota.apply: version: must be a whole number between 1 and 2147483647 (got 1.5)'),
    ('{"version": 0}', 'rota.apply: version: must be a whole number between 1 and 2147483647 (got 0)'),
    ('{"version": "7"}', 'rota.apply: document: "version" must be a JSON number (got string)'),
    ('{"version": 5, "queues": {}}', 'rota.apply: document: "queues" must be a JSON array (got object)'),
    ('{"version": 5, "queues": [{"name": 12345}]}', 'rota.apply: queues[0]: "name" must be a JSON string (got number)'),
    ('{"version": 5, "queues": [{"name": "p", "paused": "no"}]}', 'rota.apply: queues[0]: "paused" must be a JSON boolean (got string)'),
    ('{"version": 5, "schedules": [{"name": "s", "cron": "* * * * *", "queue": "q", "task": "t", "enabled": "yes"}]}',
     'rota.apply: schedules[0]: "enabled" must be a JSON boolean (got string)'),
    ('{"version": 5, "queues": [{"name": "p", "lease": "2 days"}]}',
     'rota.apply: queues[0]: rota.define_queue: lease must be at most 1 day (got 2 days)'),
    ('{"version": 5, "schedules": [{"name": "s", "cron": "* * * * *", "queue": "nope", "task": "t"}]}',
     'rota.apply: schedules[0]: rota.define_schedule: unknown queue "nope"'),
    ('{"version": 5, "schedules": [{"name": "s", "cron": "* * * * *", "queue": "q", "task": "t", "timezone": "FOO+167BAR-167"}]}',
     'rota.apply: schedules[0]: rota.define_schedule: unknown time zone "FOO+167BAR-167"')) AS t(d, m);
SELECT is(pg_temp.fingerprint(), (SELECT before FROM fp), 'no refused call wrote anything');
SELECT is(rota.apply('{"version": 2147483647, "queues": [{"name": "top", "paused": false}]}') ->> 'status', 'applied',
          'the largest version applies');

SELECT * FROM finish();
ROLLBACK;
