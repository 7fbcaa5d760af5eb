-- Outcome counters, rota.alerts (each alert appears and clears), alert thresholds, rota.metrics().
-- One transaction: now() is fixed, so time passing is simulated by moving timestamps back.
BEGIN;
SELECT plan(51);

CREATE FUNCTION pg_temp.alerts() RETURNS SETOF text LANGUAGE sql AS $$
    SELECT alert || ':' || coalesce(queue, '') || ':' || coalesce(schedule, '') || ':' || coalesce(executor, '')
    FROM rota.alerts ORDER BY 1 $$;
CREATE FUNCTION pg_temp.total(p_queue text, p_column text) RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE v bigint;
BEGIN
    EXECUTE format('SELECT coalesce(sum(%I), 0) FROM rota._queue_counts WHERE queue = $1', p_column) INTO v USING p_queue;
    RETURN v;
END $$;
-- Moves everything that happened "now" back by p_by, as if that much time had passed.
CREATE FUNCTION pg_temp.pass(p_by interval) RETURNS void LANGUAGE sql AS $$
    UPDATE rota._queue_counts SET bucket = bucket - p_by WHERE bucket > '-infinity';
    UPDATE rota.tasks SET run_at = run_at - p_by, enqueued_at = enqueued_at - p_by,
                          lease_expires_at = lease_expires_at - p_by, started_at = started_at - p_by,
                          finished_at = finished_at - p_by;
    UPDATE rota.executors SET last_heartbeat_at = last_heartbeat_at - p_by;
    UPDATE rota.schedules SET next_fire_at = next_fire_at - p_by;
$$;

-- Counters: on the batch paths, one shard row per backend and minute
SELECT rota.define_queue('c', max_attempts => 2, lease => '30 seconds', backoff_base => '1 second');
SELECT rota.register_executor('w1', ARRAY['c']);
SELECT rota.enqueue_many('c', 'job', array_fill('{}'::jsonb, ARRAY[5]));
SELECT count(*) FROM rota.claim('w1', ARRAY['c'], 5);
SELECT rota.complete_many(ARRAY(SELECT id FROM rota.tasks WHERE queue = 'c' ORDER BY id LIMIT 2), ARRAY[1, 1],
                          tokens => tokens(ARRAY(SELECT id FROM rota.tasks WHERE queue = 'c' ORDER BY id LIMIT 2), ARRAY[1, 1]));
SELECT rota.fail((SELECT max(id) FROM rota.tasks WHERE queue = 'c'), 1, 'once', retry_in => '0 seconds',
                 token => token((SELECT max(id) FROM rota.tasks WHERE queue = 'c'), 1));
SELECT rota.fail((SELECT max(id) - 1 FROM rota.tasks WHERE queue = 'c'), 1, 'no', retryable => false,
                 token => token((SELECT max(id) - 1 FROM rota.tasks WHERE queue = 'c'), 1));
SELECT rota.cancel((SELECT max(id) - 2 FROM rota.tasks WHERE queue = 'c'));
SELECT rota.complete(max(id) - 2, 1, token => token(max(id) - 2, 1)) FROM rota.tasks WHERE queue = 'c';
SELECT results_eq($$SELECT count(*), min(shard) = pg_backend_pid() % 16, min(bucket) = date_trunc('minute', now())
                    FROM rota._queue_counts WHERE queue = 'c'$$,
                  $$VALUES (1::bigint, true, true)$$, 'one counter row: this backend''s shard, this minute');
SELECT results_eq($$SELECT succeeded, attempts_failed, retried, dead, cancelled FROM rota._queue_counts WHERE queue = 'c'$$,
                  $$VALUES (2::bigint, 2::bigint, 1::bigint, 1::bigint, 1::bigint)$$,
                  'complete, fail (retried, dead) and a cancelled completion are counted');
-- the lease of the retried task expires and reap fails it for good (attempt 2 of 2)
SELECT count(*) FROM rota.claim('w1', ARRAY['c'], 5);
UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE queue = 'c' AND state = 'running';
SELECT is(rota.reap(), 1, 'reap recovers the expired task');
SELECT results_eq($$SELECT attempts_failed, dead FROM rota._queue_counts WHERE queue = 'c'$$,
                  $$VALUES (3::bigint, 2::bigint)$$, 'a reaped lease counts as a failed attempt (and here a dead task)');

-- the release rule counts only the cancels it ends (a release is no outcome, nor a retry)
SELECT rota.define_queue('r');
SELECT rota.register_executor('w2', ARRAY['r']);
SELECT rota.enqueue_many('r', 'job', array_fill('{}'::jsonb, ARRAY[2]));
SELECT count(*) FROM rota.claim('w2', ARRAY['r'], 2);
SELECT rota.cancel((SELECT min(id) FROM rota.tasks WHERE queue = 'r'));
SELECT is(rota.stop_executor('w2'), 2, 'a stop releases both running tasks');
SELECT results_eq($$SELECT sum(succeeded), sum(attempts_failed), sum(retried), sum(dead), sum(cancelled)
                    FROM rota._queue_counts WHERE queue = 'r'$$,
                  $$VALUES (0::numeric, 0::numeric, 0::numeric, 0::numeric, 1::numeric)$$,
                  'it counts the cancel it ends, and nothing for the task it puts back');
SELECT rota.drop_queue('r', force => true);
DELETE FROM rota._queue_counts WHERE queue = 'r';

-- Counters survive pruning, and prune folds old minutes into one row per queue
SELECT pg_temp.pass(interval '3 hours');
SELECT rota.define_queue('c', max_attempts => 2, lease => '30 seconds', backoff_base => '1 second', retention => '1 hour');
SELECT ok(rota.prune() >= 4, 'prune deletes the finished tasks');
SELECT is((SELECT count(*) FROM rota.tasks WHERE queue = 'c'), 0::bigint, 'no task of the queue is left');
SELECT results_eq($$SELECT bucket, shard, succeeded, attempts_failed, retried, dead, cancelled FROM rota._queue_counts WHERE queue = 'c'$$,
                  $$VALUES ('-infinity'::timestamptz, 0::smallint, 2::bigint, 3::bigint, 1::bigint, 2::bigint, 1::bigint)$$,
                  'old minutes are folded into the -infinity row with the same totals');
SELECT matches(rota.metrics(), E'\nrota_queue_tasks_succeeded_total\\{queue="c"\\} 2\n', 'metrics() reports the total after pruning');

-- queue_stuck: ready work older than the threshold while no alive executor serves the queue
SELECT rota.define_queue('s', alert_stuck_after => '2 minutes');
SELECT rota.enqueue('s', 'job');
SELECT is_empty($$SELECT 1 FROM rota.alerts WHERE alert = 'queue_stuck'$$, 'fresh work is not stuck');
SELECT pg_temp.pass(interval '3 minutes');
SELECT results_eq($$SELECT alert, queue, value >= 180, threshold, message ~ 'no alive executor serves it' FROM rota.alerts WHERE alert = 'queue_stuck'$$,
                  $$VALUES ('queue_stuck', 's', true, 120::double precision, true)$$,
                  'queue_stuck: 3 minutes old ready work and no executor of the queue');
SELECT rota.pause_queue('s');
SELECT is_empty($$SELECT 1 FROM rota.alerts WHERE alert = 'queue_stuck'$$, 'a paused queue is not stuck');
SELECT rota.resume_queue('s');
-- an alive executor serves it, but nothing finished in the window: still stuck
SELECT rota.register_executor('w2', ARRAY['s']);
SELECT results_eq($$SELECT message ~ 'nothing finished' FROM rota.alerts WHERE alert = 'queue_stuck'$$,
                  $$VALUES (true)$$, 'queue_stuck: served, but nothing finished in the window');
-- work flows again: the executor finishes a task; the old ready one is no longer the oldest once taken
SELECT rota.enqueue('s', 'job');
SELECT rota.complete(id, attempt, token => lease_token) FROM rota.claim('w2', ARRAY['s'], 1);
SELECT is_empty($$SELECT 1 FROM rota.alerts WHERE alert = 'queue_stuck'$$, 'queue_stuck clears once work finishes');

-- retry_storm: failed attempts per minute, or the failed share, over the threshold
SELECT rota.define_queue('r', max_attempts => 100, alert_failures_per_minute => 1, alert_failure_window => '2 minutes');
SELECT rota.register_executor('w3', ARRAY['r']);
SELECT rota.enqueue_many('r', 'job', array_fill('{}'::jsonb, ARRAY[3]));
SELECT rota.fail(id, attempt, 'down', token => lease_token) FROM rota.claim('w3', ARRAY['r'], 3);
SELECT results_eq($$SELECT alert, queue, value, threshold FROM rota.alerts WHERE alert = 'retry_storm'$$,
                  $$VALUES ('retry_storm', 'r', 1.5::double precision, 1::double precision)$$,
                  'retry_storm: 3 failures in a 2 minute window is 1.5 per minute');
SELECT rota.define_queue('r', max_attempts => 100, alert_failures_per_minute => 10, alert_failure_window => '2 minutes');
SELECT is_empty($$SELECT 1 FROM rota.alerts WHERE alert = 'retry_storm'$$, 'below both thresholds: no retry_storm');
UPDATE rota.tasks SET run_at = now() WHERE queue = 'r';
SELECT rota.fail(id, attempt, 'down', token => lease_token) FROM rota.claim('w3', ARRAY['r'], 3);
SELECT results_eq($$SELECT alert, message ~ '6 failed attempts and 0 successes' FROM rota.alerts WHERE alert = 'retry_storm'$$,
                  $$VALUES ('retry_storm', true)$$, 'retry_storm: a failed share over 0.5 with at least 5 failures');
SELECT pg_temp.pass(interval '3 minutes');
SELECT is_empty($$SELECT 1 FROM rota.alerts WHERE alert = 'retry_storm'$$, 'retry_storm clears when the window has passed');

-- schedule_late: an enabled schedule's fire overdue by more than its threshold
SELECT rota.define_schedule('late', '* * * * *', 'r', 'tick', alert_late_after => '30 seconds');
SELECT is_empty($$SELECT 1 FROM rota.alerts WHERE alert = 'schedule_late'$$, 'a schedule due in the future is not late');
UPDATE rota.schedules SET next_fire_at = now() - interval '45 seconds' WHERE name = 'late';
SELECT results_eq($$SELECT alert, queue, schedule, value, threshold FROM rota.alerts WHERE alert = 'schedule_late'$$,
                  $$VALUES ('schedule_late', 'r', 'late', 45::double precision, 30::double precision)$$,
                  'schedule_late: 45 s overdue against 30 s');
SELECT is((SELECT count(*) FROM rota.fire_due('w3')), 1::bigint, 'the fire happens');
SELECT is_empty($$SELECT 1 FROM rota.alerts WHERE alert = 'schedule_late'$$, 'schedule_late clears after the fire');

-- dead_executor_tasks: a dead executor's expired leases that nobody reaps
SELECT rota.define_queue('d', lease => '30 seconds', alert_unreaped_after => '1 minute');
SELECT rota.register_executor('gone', ARRAY['d']);
SELECT rota.enqueue_many('d', 'job', array_fill('{}'::jsonb, ARRAY[2]));
SELECT count(*) FROM rota.claim('gone', ARRAY['d'], 2);
SELECT is_empty($$SELECT 1 FROM rota.alerts WHERE alert = 'dead_executor_tasks'$$, 'live leases: no alert');
UPDATE rota.executors SET last_heartbeat_at = now() - interval '10 minutes' WHERE id = 'gone';
UPDATE rota.tasks SET lease_expires_at = now() - interval '2 minutes' WHERE queue = 'd';
SELECT results_eq($$SELECT alert, queue, executor, value FROM rota.alerts WHERE alert = 'dead_executor_tasks'$$,
                  $$VALUES ('dead_executor_tasks', 'd', 'gone', 2::double precision)$$,
                  'dead_executor_tasks: two tasks of a dead executor, expired 2 minutes ago');
SELECT matches(rota.metrics(), E'\nrota_queue_tasks_held_by_dead_executors\\{queue="d"\\} 2\n', 'metrics() counts them');
SELECT is(rota.reap(), 2, 'the reaper recovers them');
SELECT is_empty($$SELECT 1 FROM rota.alerts WHERE alert = 'dead_executor_tasks'$$, 'dead_executor_tasks clears once reaped');

-- dead_letter_growth: tasks that ended failed in the last hour
SELECT rota.define_queue('dl', max_attempts => 1, alert_dead_per_hour => 2);
SELECT rota.register_executor('w4', ARRAY['dl']);
SELECT rota.enqueue_many('dl', 'job', array_fill('{}'::jsonb, ARRAY[2]));
SELECT rota.fail(id, attempt, 'fatal', token => lease_token) FROM rota.claim('w4', ARRAY['dl'], 1);
SELECT is_empty($$SELECT 1 FROM rota.alerts WHERE alert = 'dead_letter_growth'$$, 'one dead task is below 2 per hour');
SELECT rota.fail(id, attempt, 'fatal', token => lease_token) FROM rota.claim('w4', ARRAY['dl'], 1);
SELECT results_eq($$SELECT alert, queue, value, threshold FROM rota.alerts WHERE alert = 'dead_letter_growth'$$,
                  $$VALUES ('dead_letter_growth', 'dl', 2::double precision, 2::double precision)$$,
                  'dead_letter_growth: 2 dead tasks in the last hour');
SELECT matches(rota.metrics(), E'\nrota_alert\\{alert="dead_letter_growth",queue="dl"\\} 1\n', 'the alert is in metrics()');
SELECT pg_temp.pass(interval '61 minutes');
SELECT is_empty($$SELECT 1 FROM rota.alerts WHERE alert = 'dead_letter_growth'$$, 'dead_letter_growth clears after an hour');

-- Thresholds: defaults, apply, bad values
SELECT results_eq($$SELECT alert_stuck_after, alert_failures_per_minute, alert_failure_ratio, alert_failure_window,
                           alert_dead_per_hour, alert_unreaped_after FROM rota.queues WHERE name = 'c'$$,
                  $$VALUES (interval '5 minutes', 60::numeric, 0.5::numeric, interval '5 minutes', 10, interval '1 minute')$$,
                  'define_queue''s defaults');
SELECT is((SELECT alert_late_after FROM rota.schedules WHERE name = 'late'), interval '30 seconds', 'define_schedule sets alert_late_after');
SELECT rota.apply('{"version": 1, "queues": [{"name": "ap", "alert_stuck_after": "10 minutes", "alert_failure_ratio": 0.9}],
                   "schedules": [{"name": "aps", "cron": "@daily", "queue": "ap", "task": "t", "alert_late_after": "5 minutes"}]}');
SELECT results_eq($$SELECT q.alert_stuck_after, q.alert_failure_ratio, q.alert_dead_per_hour, s.alert_late_after
                    FROM rota.queues q JOIN rota.schedules s ON s.queue = q.name WHERE q.name = 'ap'$$,
                  $$VALUES (interval '10 minutes', 0.9::numeric, 10, interval '5 minutes')$$,
                  'apply passes alert thresholds; absent ones take the defaults');
SELECT throws_ok($$SELECT rota.define_queue('x', alert_stuck_after => '0 seconds')$$, 'RO010',
                 'rota.define_queue: alert_stuck_after must be > 0 (got 00:00:00)', 'a zero stuck threshold is refused');
SELECT throws_ok($$SELECT rota.define_queue('x', alert_failure_ratio => 1.5)$$, 'RO010',
                 'rota.define_queue: alert_failure_ratio must be > 0 and <= 1 (got 1.5)', 'a ratio over 1 is refused');
SELECT throws_ok($$SELECT rota.define_queue('x', alert_failure_window => '2 hours')$$, 'RO010',
                 'rota.define_queue: alert_failure_window must be between 1 minute and 1 hour (got 02:00:00)',
                 'a failure window over an hour is refused');
SELECT throws_ok($$SELECT rota.define_schedule('x', '@daily', 'ap', 't', alert_late_after => NULL)$$, 'RO010',
                 'rota.define_schedule: alert_late_after must be > 0 (got NULL)', 'a NULL late threshold is refused');
SELECT is((SELECT count(*) FROM rota.queues WHERE name = 'x'), 0::bigint, 'nothing is written');
SELECT throws_ok($$SELECT rota.apply('{"version": 2, "queues": [{"name": "ap", "alert_dead_per_hour": 0}]}')$$, 'RO040',
                 'rota.apply: queues[0]: rota.define_queue: alert_dead_per_hour must be > 0 (got 0)', 'apply refuses a bad threshold');

-- metrics(): the families, and the thresholds
SELECT matches(rota.metrics(), E'^# TYPE rota_queue_ready gauge\n# HELP rota_queue_ready ', 'starts with a family');
SELECT matches(rota.metrics(), E'\n# EOF\n$', 'ends with # EOF');
SELECT matches(rota.metrics(), E'\n# TYPE rota_queue_tasks_succeeded counter\n', 'OpenMetrics: a counter family has no _total');
SELECT matches(rota.metrics('prometheus'), E'\n# TYPE rota_queue_tasks_succeeded_total counter\n', 'Prometheus text: it has');
SELECT matches(rota.metrics(), E'\nrota_queue_alert_stuck_after_seconds\\{queue="ap"\\} 600\n', 'thresholds are exported');
SELECT matches(rota.metrics(), E'\nrota_schedule_alert_late_after_seconds\\{schedule="aps"\\} 300\n', 'schedule thresholds too');
SELECT throws_ok($$SELECT rota.metrics('json')$$, 'RO010', NULL, 'an unknown format is refused');

-- the oldest open snapshot of the database: rota_owner reads other sessions through
-- pg_read_all_stats, granted by an installer that may (these tests install as superuser);
-- without it the metric is NaN, not a reassuring 0 (the value itself: isolation spec
-- oldest_snapshot_metric)
SELECT ok(pg_has_role('rota_owner', 'pg_read_all_stats', 'MEMBER'), 'the install made rota_owner a member of pg_read_all_stats');
SELECT matches(rota.metrics(), E'\nrota_database_oldest_snapshot_age_seconds\\{database="[^"]+"\\} [0-9.e+-]+\n',
               'the oldest open snapshot is exported with the database''s name');
REVOKE pg_read_all_stats FROM rota_owner;
SELECT matches(rota.metrics(), E'\nrota_database_oldest_snapshot_age_seconds\\{database="[^"]+"\\} NaN\n',
               'without pg_read_all_stats it is NaN');

SELECT * FROM finish();
ROLLBACK;
