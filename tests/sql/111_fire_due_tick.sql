-- fire_due's set-based pass: many schedules due at one tick (several queues, tasks and
-- zones) fire once each, with the keys, payloads and fire records of the one-by-one path;
-- a schedule with missed instants beside them still catches up one by one.
BEGIN;
SELECT plan(8);

SELECT rota.define_queue('ta');
SELECT rota.define_queue('tb');
SELECT count(rota.define_schedule('tick-' || g, '* * * * *', CASE WHEN g % 2 = 0 THEN 'ta' ELSE 'tb' END,
                                  'job' || (g % 3), jsonb_build_object('n', g),
                                  timezone => (ARRAY['UTC', 'Europe/Berlin', 'Asia/Tokyo'])[1 + g % 3]))
FROM generate_series(1, 30) AS g;
SELECT rota.define_schedule('behind', '* * * * *', 'ta', 'late', catch_up => 'all');
UPDATE rota.schedules SET next_fire_at = date_trunc('minute', now()) WHERE name LIKE 'tick-%';
UPDATE rota.schedules SET next_fire_at = date_trunc('minute', now()) - interval '3 minutes' WHERE name = 'behind';

CREATE TEMP TABLE fired AS SELECT * FROM rota.fire_due('exec-a');
SELECT is((SELECT count(*) FROM fired WHERE schedule LIKE 'tick-%'), 30::bigint, 'thirty schedules due: thirty fires');
SELECT is((SELECT count(*) FROM fired WHERE schedule = 'behind'), 4::bigint, 'the one behind catches up its four instants');
SELECT is((SELECT count(*) FROM fired f JOIN rota.tasks t ON t.id = f.task_id JOIN rota.schedules s ON s.name = f.schedule
           WHERE t.queue = s.queue AND t.task = s.task
             AND t.key = 'schedule:' || s.name || ':' || to_char(f.fire_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"')
             AND t.payload = s.payload || jsonb_build_object('schedule', s.name, 'scheduled_at',
                                                             to_char(f.fire_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))),
          34::bigint, 'each task in its schedule''s queue, with its task, key and payload');
SELECT is((SELECT count(*) FROM rota.schedule_fires sf JOIN fired f ON f.schedule = sf.schedule AND f.fire_at = sf.fire_at
           WHERE sf.task_id = f.task_id AND sf.executor = 'exec-a' AND NOT sf.manual), 34::bigint,
          'each fire recorded with its task and executor');
SELECT is((SELECT count(*) FROM rota.schedules
           WHERE next_fire_at = date_trunc('minute', now()) + interval '1 minute'
             AND last_fire_at = date_trunc('minute', now()) AND failures = 0), 31::bigint,
          'every schedule moves on to its next minute');
SELECT is((SELECT count(*) FROM rota.fire_due('exec-b')), 0::bigint, 'a second call fires nothing');

-- an instant already recorded (fired, then next_fire_at set back): no second task
UPDATE rota.schedules SET next_fire_at = date_trunc('minute', now()) WHERE name LIKE 'tick-%';
SELECT is((SELECT count(*) FROM rota.fire_due('exec-a')), 0::bigint, 'an instant already fired fires nothing again');
SELECT is((SELECT count(*) FROM rota.tasks), 34::bigint, 'and enqueues no task');

SELECT * FROM finish();
ROLLBACK;
