-- Schedules: define/pause/resume/drop/trigger, fire_due's exactly-once claim, catch-up
-- policies, persisted next_fire_at, schedule_status, and every bad input.
BEGIN;
SELECT plan(65);

SELECT has_table('rota', 'schedules', 'table rota.schedules');
SELECT has_table('rota', 'schedule_fires', 'table rota.schedule_fires');
SELECT has_view('rota', 'schedule_status', 'view rota.schedule_status');
SELECT has_function('rota', f, 'function rota.' || f) FROM unnest(ARRAY['define_schedule', 'drop_schedule',
    'pause_schedule', 'resume_schedule', 'trigger_schedule', 'fire_due', 'next_fire_at']) AS f;

SELECT rota.define_queue('sched_q');

-- define: next_fire_at is computed and persisted
SELECT lives_ok($$SELECT rota.define_schedule('hourly', '0 * * * *', 'sched_q', 'tick', '{"x": 1}')$$, 'define_schedule');
SELECT is((SELECT next_fire_at FROM rota.schedules WHERE name = 'hourly'), rota.cron_next('0 * * * *', now(), 'UTC'),
          'next_fire_at is the next cron instant after now');
SELECT is((SELECT (catch_up, timezone, enabled, managed)::text FROM rota.schedules WHERE name = 'hourly'),
          '(latest,UTC,t,f)', 'defaults: catch_up latest, UTC, enabled, not managed');

-- redefining with the same cron keeps the persisted next fire; a new cron recomputes it
UPDATE rota.schedules SET next_fire_at = now() + interval '10 minutes' WHERE name = 'hourly';
SELECT rota.define_schedule('hourly', '0 * * * *', 'sched_q', 'tick', '{"x": 2}');
SELECT is((SELECT next_fire_at FROM rota.schedules WHERE name = 'hourly'), now() + interval '10 minutes',
          'same cron: next_fire_at kept');
SELECT is((SELECT payload FROM rota.schedules WHERE name = 'hourly'), '{"x": 2}'::jsonb, 'payload updated');
SELECT rota.define_schedule('hourly', '30 * * * *', 'sched_q', 'tick', '{"x": 2}');
SELECT is((SELECT next_fire_at FROM rota.schedules WHERE name = 'hourly'), rota.cron_next('30 * * * *', now(), 'UTC'),
          'changed cron: next_fire_at recomputed');
SELECT rota.define_schedule('hourly', '30 * * * *', 'sched_q', 'tick', '{"x": 2}', timezone => 'Asia/Kolkata');
SELECT is((SELECT next_fire_at FROM rota.schedules WHERE name = 'hourly'),
          rota.cron_next('30 * * * *', now(), 'Asia/Kolkata'), 'changed time zone: next_fire_at recomputed');

-- fire_due: nothing due, nothing fired
SELECT is((SELECT count(*) FROM rota.fire_due('exec-a')), 0::bigint, 'nothing due: no fire');

-- a due fire is claimed once; catch_up latest runs only the newest missed instant
SELECT rota.define_schedule('hourly', '30 * * * *', 'sched_q', 'tick', '{"x": 2}');
UPDATE rota.schedules SET next_fire_at = '2026-01-05 10:30:00+00' WHERE name = 'hourly';
SELECT results_eq($$SELECT schedule, fire_at FROM rota.fire_due('exec-a')$$,
                  $$VALUES ('hourly'::text, date_trunc('hour', now() - interval '30 minutes') + interval '30 minutes')$$,
                  'latest: only the newest missed fire');
SELECT is((SELECT count(*) FROM rota.schedule_fires WHERE schedule = 'hourly'), 1::bigint, 'one fire row');
SELECT is((SELECT next_fire_at FROM rota.schedules WHERE name = 'hourly'),
          rota.cron_next('30 * * * *', now(), 'UTC'), 'next_fire_at advanced past now');
SELECT is((SELECT count(*) FROM rota.fire_due('exec-b')), 0::bigint, 'a second claimer finds nothing to fire');

-- the fire's task: key, payload, queue
SELECT is((SELECT t.key FROM rota.schedule_fires f JOIN rota.tasks t ON t.id = f.task_id WHERE f.schedule = 'hourly'),
          (SELECT 'schedule:hourly:' || to_char(f.fire_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
           FROM rota.schedule_fires f WHERE f.schedule = 'hourly'),
          'the task key is schedule:<name>:<fire_at ISO UTC>');
SELECT is((SELECT t.payload FROM rota.schedule_fires f JOIN rota.tasks t ON t.id = f.task_id WHERE f.schedule = 'hourly'),
          (SELECT jsonb_build_object('x', 2, 'schedule', 'hourly', 'scheduled_at',
                  to_char(f.fire_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))
           FROM rota.schedule_fires f WHERE f.schedule = 'hourly'),
          'the payload carries the schedule and its scheduled time');
SELECT is((SELECT executor FROM rota.schedule_fires WHERE schedule = 'hourly'), 'exec-a', 'the fire records its executor');

-- catch_up all: every missed fire, oldest first, bounded by catch_up_max (newest kept)
SELECT rota.define_schedule('minutely', '* * * * *', 'sched_q', 'tick', catch_up => 'all', catch_up_max => 5);
UPDATE rota.schedules SET next_fire_at = date_trunc('minute', now()) - interval '3 minutes' WHERE name = 'minutely';
-- (fire_due reads the clock, and this file's now() is older: the minute may have turned)
CREATE TEMP TABLE minutely_fires AS SELECT fire_at FROM rota.fire_due('exec-a') WHERE schedule = 'minutely';
SELECT results_eq($$SELECT fire_at FROM minutely_fires ORDER BY fire_at$$,
                  $$SELECT date_trunc('minute', now()) - m * interval '1 minute' FROM generate_series(3, -1, -1) m
                    WHERE date_trunc('minute', now()) - m * interval '1 minute' <= (SELECT max(fire_at) FROM minutely_fires)$$,
                  'all: each missed minute fires once');
SELECT ok((SELECT max(fire_at) FROM minutely_fires) >= date_trunc('minute', now()), 'all: up to the current minute');
UPDATE rota.schedules SET next_fire_at = date_trunc('minute', now()) - interval '30 minutes' WHERE name = 'minutely';
DELETE FROM rota.schedule_fires WHERE schedule = 'minutely';
SELECT is((SELECT count(*) FROM rota.fire_due('exec-a') WHERE schedule = 'minutely'), 5::bigint,
          'all: at most catch_up_max fires');
SELECT ok((SELECT min(fire_at) = max(fire_at) - interval '4 minutes' AND max(fire_at) >= date_trunc('minute', now())
           FROM rota.schedule_fires WHERE schedule = 'minutely'),
          'all: the newest catch_up_max are the ones kept');

-- catch_up none: fires older than the on-time grace are skipped
UPDATE rota.schedules SET catch_up = 'none', next_fire_at = date_trunc('minute', now()) - interval '30 minutes'
WHERE name = 'minutely';
DELETE FROM rota.schedule_fires WHERE schedule = 'minutely';
SELECT ok((SELECT count(*) FROM rota.fire_due('exec-a') WHERE schedule = 'minutely') <= 2,
          'none: only fires within the grace minute run');
SELECT ok((SELECT coalesce(min(fire_at), now()) FROM rota.schedule_fires WHERE schedule = 'minutely')
          >= now() - interval '2 minutes', 'none: the old missed fires were skipped');
SELECT ok((SELECT next_fire_at > now() FROM rota.schedules WHERE name = 'minutely'), 'none: next_fire_at is in the future');

-- an already recorded fire is never fired again, even if next_fire_at is rewound
CREATE TEMP TABLE fired_once AS SELECT max(fire_at) AS at FROM rota.schedule_fires WHERE schedule = 'hourly';
UPDATE rota.schedules SET catch_up = 'all', next_fire_at = (SELECT at FROM fired_once) WHERE name = 'hourly';
SELECT ok(NOT EXISTS (SELECT 1 FROM rota.fire_due('exec-a') WHERE schedule = 'hourly'
                      AND fire_at = (SELECT at FROM fired_once)),
          'a rewound schedule does not fire an instant twice');
SELECT is((SELECT count(*) FROM rota.schedule_fires WHERE schedule = 'hourly' AND fire_at = (SELECT at FROM fired_once)),
          1::bigint, 'still one row for that instant');

-- trigger: a manual fire with its own key
SELECT isnt((SELECT rota.trigger_schedule('hourly')), NULL, 'trigger_schedule enqueues a task');
SELECT is((SELECT count(*) FROM rota.schedule_fires WHERE schedule = 'hourly' AND manual), 1::bigint, 'recorded as manual');

-- pause/resume: paused schedules do not fire; resume skips what was missed
SELECT rota.pause_schedule('minutely');
UPDATE rota.schedules SET next_fire_at = now() - interval '10 minutes' WHERE name = 'minutely';
SELECT is((SELECT count(*) FROM rota.fire_due('exec-a') WHERE schedule = 'minutely'), 0::bigint, 'paused: no fire');
SELECT rota.resume_schedule('minutely');
SELECT ok((SELECT enabled AND next_fire_at > now() FROM rota.schedules WHERE name = 'minutely'),
          'resume: enabled with the next fire after now');
SELECT is(rota.next_fire_at(), (SELECT min(next_fire_at) FROM rota.schedules WHERE enabled), 'next_fire_at() is the earliest');

-- schedule_status
SELECT is((SELECT last_task_state FROM rota.schedule_status WHERE name = 'hourly'), 'queued', 'status: last fire''s task state');
SELECT ok((SELECT jsonb_array_length(recent_fires) >= 2 FROM rota.schedule_status WHERE name = 'hourly'),
          'status: recent fires listed');
SELECT is((SELECT cron FROM rota.schedule_status WHERE name = 'hourly'), '30 * * * *', 'status: cron');

-- drop
SELECT lives_ok($$SELECT rota.drop_schedule('minutely')$$, 'drop_schedule');
SELECT is((SELECT count(*) FROM rota.schedules WHERE name = 'minutely'), 0::bigint, 'dropped');
SELECT is((SELECT count(*) FROM rota.schedule_fires WHERE schedule = 'minutely'), 0::bigint, 'its fires went with it');

-- bad input: a clear error naming the value, and nothing written
SELECT throws_ok($$SELECT rota.define_schedule('bad', '61 * * * *', 'sched_q', 'tick')$$, 'RO012',
                 NULL, 'invalid cron is RO012');
SELECT throws_like($$SELECT rota.define_schedule('bad', '* * * *', 'sched_q', 'tick')$$, '%* * * *%',
                   'a cron with four fields is named in the error');
SELECT throws_ok($$SELECT rota.define_schedule('bad', '* * * * *', 'sched_q', 'tick', timezone => 'Mars/Olympus')$$,
                 'RO013', 'rota.define_schedule: unknown time zone "Mars/Olympus"', 'unknown time zone is RO013');
SELECT throws_ok($$SELECT rota.define_schedule('bad', '* * * * *', 'no_such_queue', 'tick')$$,
                 'RO001', 'rota.define_schedule: unknown queue "no_such_queue"', 'unknown queue is RO001');
SELECT throws_ok($$SELECT rota.define_schedule('bad name!', '* * * * *', 'sched_q', 'tick')$$,
                 'RO010', 'rota.define_schedule: invalid schedule name "bad name!"', 'bad schedule name');
SELECT throws_ok($$SELECT rota.define_schedule('bad', '* * * * *', 'sched_q', 'tick', catch_up => 'sometimes')$$,
                 'RO010', 'rota.define_schedule: catch_up must be none, latest or all (got "sometimes")', 'bad catch_up');
SELECT throws_ok($$SELECT rota.define_schedule('bad', '* * * * *', 'sched_q', 'tick', catch_up_max => 0)$$,
                 'RO010', 'rota.define_schedule: catch_up_max must be between 1 and 1000 (got 0)', 'catch_up_max must be positive');
SELECT throws_ok($$SELECT rota.define_schedule('bad', '* * * * *', 'sched_q', 'tick', '[1, 2]')$$,
                 'RO010', 'rota.define_schedule: payload must be a JSON object (got a JSON array)', 'payload must be an object');
SELECT throws_ok($$SELECT rota.define_schedule('bad', '* * * * *', 'sched_q', 'tick', timezone => '')$$,
                 'RO013', 'rota.define_schedule: timezone must not be empty', 'empty time zone');
SELECT is((SELECT count(*) FROM rota.schedules WHERE name = 'bad'), 0::bigint, 'no bad schedule was written');
-- drop_queue of a queue that schedules use: a clear error naming them, nothing written
SELECT rota.define_queue('sched_used');
SELECT rota.define_schedule('use-b', '0 0 * * *', 'sched_used', 'tick');
SELECT rota.define_schedule('use-a', '0 1 * * *', 'sched_used', 'tick');
SELECT rota.enqueue('sched_used', 'tick');
SELECT throws_ok($$SELECT rota.drop_queue('sched_used', force => true)$$, 'RO030',
                 'rota.drop_queue: queue "sched_used" is used by schedules use-a, use-b; drop them first',
                 'drop_queue of a queue used by schedules is RO030 naming them');
SELECT is((SELECT (SELECT count(*) FROM rota.queues WHERE name = 'sched_used')
                  + (SELECT count(*) FROM rota.tasks WHERE queue = 'sched_used')
                  + (SELECT count(*) FROM rota.schedules WHERE queue = 'sched_used')), 4::bigint,
          'nothing written: queue, its task and both schedules stay');
SELECT rota.drop_schedule('use-a');
SELECT rota.drop_schedule('use-b');
SELECT lives_ok($$SELECT rota.drop_queue('sched_used', force => true)$$, 'once its schedules are gone it drops');
SELECT throws_ok($$SELECT rota.drop_schedule('nope')$$, 'RO003', 'rota.drop_schedule: unknown schedule "nope"', 'drop unknown');
SELECT throws_ok($$SELECT rota.pause_schedule('nope')$$, 'RO003', 'rota.pause_schedule: unknown schedule "nope"', 'pause unknown');
SELECT throws_ok($$SELECT rota.resume_schedule('nope')$$, 'RO003', 'rota.resume_schedule: unknown schedule "nope"', 'resume unknown');
SELECT throws_ok($$SELECT rota.trigger_schedule('nope')$$, 'RO003', 'rota.trigger_schedule: unknown schedule "nope"', 'trigger unknown');
SELECT throws_ok($$SELECT * FROM rota.fire_due('')$$, 'RO010', $m$rota.fire_due: executor must match ^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$ (got '')$m$, 'fire_due needs an executor');

-- claim hands out a fire's scheduled time as its last column, scheduled_at (NULL for other tasks)
SELECT rota.register_executor('sched-worker');
SELECT rota.define_queue('sched_claim');
SELECT rota.define_schedule('claimed', '0 0 * * *', 'sched_claim', 'tick');
SELECT rota.trigger_schedule('claimed');
SELECT rota.enqueue('sched_claim', 'plain', priority => 1);
SELECT results_eq($$SELECT task, scheduled_at FROM rota.claim('sched-worker', ARRAY['sched_claim'], 2)$$,
                  $$VALUES ('tick'::text, (SELECT fire_at FROM rota.schedule_fires WHERE schedule = 'claimed')),
                           ('plain'::text, NULL::timestamptz)$$,
                  'claim returns the fire time of a schedule''s task as scheduled_at, NULL for a plain task');
SELECT is((SELECT proargnames[cardinality(proargnames) - 1] FROM pg_proc WHERE oid = 'rota.claim(text, text[], integer)'::regprocedure),
          'scheduled_at', 'scheduled_at is the column of rota.claim before lease_token, its last');

SELECT * FROM finish();
ROLLBACK;
