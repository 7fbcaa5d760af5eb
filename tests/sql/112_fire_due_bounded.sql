-- fire_due's bound on fires per call: due schedules are taken oldest next_fire_at first
-- (ties by name) until max_fires is spent, the rest stay due for the next call, and every
-- (schedule, instant) fires exactly once over the calls. A schedule's catch-up fires are
-- never split: they count toward the bound and may pass it. A bad bound is RO010.
-- Yearly crons, so that no fire instant changes while the test runs.
BEGIN;
SELECT plan(16);

SELECT rota.define_queue('bq');
CREATE TEMP TABLE fired (call integer, schedule text, fire_at timestamptz, task_id bigint);

-- bad bounds: RO010 naming the value, nothing written
SELECT rota.define_schedule('bad-bound', '0 0 1 1 *', 'bq', 'job');
UPDATE rota.schedules SET next_fire_at = date_trunc('year', now()) WHERE name = 'bad-bound';
SELECT throws_ok($$SELECT * FROM rota.fire_due('exec-a', 0)$$, 'RO010',
                 'rota.fire_due: max_fires must be between 1 and 10000 (got 0)', 'max_fires 0: RO010');
SELECT throws_ok($$SELECT * FROM rota.fire_due('exec-a', -5)$$, 'RO010',
                 'rota.fire_due: max_fires must be between 1 and 10000 (got -5)', 'max_fires < 0: RO010');
SELECT throws_ok($$SELECT * FROM rota.fire_due('exec-a', NULL)$$, 'RO010',
                 'rota.fire_due: max_fires must be between 1 and 10000 (got NULL)', 'max_fires NULL: RO010');
SELECT throws_ok($$SELECT * FROM rota.fire_due('exec-a', 10001)$$, 'RO010',
                 'rota.fire_due: max_fires must be between 1 and 10000 (got 10001)', 'max_fires over the cap: RO010');
SELECT ok((SELECT next_fire_at = date_trunc('year', now()) FROM rota.schedules WHERE name = 'bad-bound')
          AND NOT EXISTS (SELECT 1 FROM rota.schedule_fires) AND NOT EXISTS (SELECT 1 FROM rota.tasks),
          'after the bad bounds: nothing fired, the schedule still due');
SELECT rota.drop_schedule('bad-bound');

-- 25 schedules due at the same instant, 10 per call: in name order, each once
SELECT count(rota.define_schedule(format('tick-%s', lpad(g::text, 2, '0')), '0 0 1 1 *', 'bq', 'job'))
FROM generate_series(1, 25) AS g;
UPDATE rota.schedules SET next_fire_at = date_trunc('year', now()) WHERE name LIKE 'tick-%';
INSERT INTO fired SELECT 1, f.* FROM rota.fire_due('exec-a', 10) f;
INSERT INTO fired SELECT 2, f.* FROM rota.fire_due('exec-b', 10) f;
INSERT INTO fired SELECT 3, f.* FROM rota.fire_due('exec-a', 10) f;
INSERT INTO fired SELECT 4, f.* FROM rota.fire_due('exec-b', 10) f;
SELECT results_eq($$SELECT call, count(*) FROM fired GROUP BY call ORDER BY call$$,
                  $$VALUES (1, 10::bigint), (2, 10::bigint), (3, 5::bigint)$$,
                  'ten, ten, five, then nothing');
SELECT results_eq($$SELECT schedule FROM fired ORDER BY call, schedule$$,
                  $$SELECT format('tick-%s', lpad(g::text, 2, '0')) FROM generate_series(1, 25) AS g$$,
                  'call by call in order: tick-01..10, then 11..20, then 21..25');
SELECT is((SELECT count(DISTINCT (f.schedule, f.fire_at)) FROM fired f JOIN rota.schedule_fires sf USING (schedule, fire_at)
           JOIN rota.tasks t ON t.id = f.task_id AND t.id = sf.task_id),
          25::bigint, 'each schedule fired once: one fire record and one task each');
SELECT is((SELECT count(*) FROM rota.tasks), 25::bigint, 'and no other task');

-- distinct next_fire_at: the oldest first, whatever the names
TRUNCATE fired;
SELECT count(rota.define_schedule(format('old-%s', g), '0 0 1 1 *', 'bq', 'job')) FROM generate_series(1, 5) AS g;
UPDATE rota.schedules SET next_fire_at = date_trunc('year', now()) - make_interval(years => substr(name, 5)::int)
WHERE name LIKE 'old-%';
INSERT INTO fired SELECT 1, f.* FROM rota.fire_due('exec-a', 2) f;
INSERT INTO fired SELECT 2, f.* FROM rota.fire_due('exec-a', 2) f;
INSERT INTO fired SELECT 3, f.* FROM rota.fire_due('exec-a', 2) f;
SELECT results_eq($$SELECT call, schedule FROM fired ORDER BY call, schedule DESC$$,
                  $$VALUES (1, 'old-5'), (1, 'old-4'), (2, 'old-3'), (2, 'old-2'), (3, 'old-1')$$,
                  'oldest next_fire_at first: nothing waits behind newer schedules');
SELECT is((SELECT count(*) FROM fired WHERE fire_at = date_trunc('year', now())), 5::bigint,
          'each fired its newest instant once (catch_up latest)');

-- catch-up fires count toward the bound and are never split
TRUNCATE fired;
SELECT rota.define_schedule('behind', '0 0 1 1 *', 'bq', 'job', catch_up => 'all');
SELECT rota.define_schedule('p', '0 0 1 1 *', 'bq', 'job');
SELECT rota.define_schedule('q', '0 0 1 1 *', 'bq', 'job');
UPDATE rota.schedules SET next_fire_at = date_trunc('year', now()) - interval '3 years' WHERE name = 'behind';
UPDATE rota.schedules SET next_fire_at = date_trunc('year', now()) WHERE name IN ('p', 'q');
INSERT INTO fired SELECT 1, f.* FROM rota.fire_due('exec-a', 2) f;
SELECT results_eq($$SELECT schedule, count(*) FROM fired WHERE call = 1 GROUP BY schedule ORDER BY schedule$$,
                  $$VALUES ('behind', 4::bigint), ('p', 1::bigint)$$,
                  'bound 2: p (one fire) and all four instants of behind, q left due');
SELECT ok((SELECT next_fire_at = date_trunc('year', now()) FROM rota.schedules WHERE name = 'q'), 'q still due');
INSERT INTO fired SELECT 2, f.* FROM rota.fire_due('exec-a', 2) f;
SELECT results_eq($$SELECT schedule FROM fired WHERE call = 2$$, $$VALUES ('q')$$, 'the next call fires q');
SELECT is((SELECT count(DISTINCT (schedule, fire_at)) FROM fired), 6::bigint, 'six fires, none twice');

-- the one-argument call: at most 200 per call
TRUNCATE fired;
SELECT count(rota.define_schedule(format('many-%s', lpad(g::text, 3, '0')), '0 0 1 1 *', 'bq', 'job'))
FROM generate_series(1, 205) AS g;
UPDATE rota.schedules SET next_fire_at = date_trunc('year', now()) WHERE name LIKE 'many-%';
INSERT INTO fired SELECT 1, f.* FROM rota.fire_due('exec-a') f;
INSERT INTO fired SELECT 2, f.* FROM rota.fire_due('exec-a') f;
SELECT results_eq($$SELECT call, count(DISTINCT schedule) FROM fired GROUP BY call ORDER BY call$$,
                  $$VALUES (1, 200::bigint), (2, 5::bigint)$$, 'default bound 200: two hundred, then five');

SELECT * FROM finish();
ROLLBACK;
