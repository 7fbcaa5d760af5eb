-- rota.apply: definitions as code — idempotence, version ordering during a rolling
-- deploy, disabling omitted schedules, and rejected documents that change nothing.
BEGIN;
SELECT plan(28);

SELECT has_function('rota', 'apply', ARRAY['jsonb'], 'function rota.apply(jsonb)');

CREATE TEMP TABLE v1 AS SELECT '{
  "version": 1,
  "queues": [{"name": "reports", "concurrency": 2, "max_attempts": 3},
             {"name": "cleanup", "rate_limit": 10, "rate_period": "1 second", "lease": "1 minute"}],
  "schedules": [{"name": "monthly-reports", "cron": "0 3 1 * *", "queue": "reports", "task": "reports.fan_out",
                 "timezone": "Europe/Berlin"},
                {"name": "hourly-cleanup", "cron": "@hourly", "queue": "cleanup", "task": "cleanup.scan",
                 "payload": {"prefix": "tmp/"}, "catch_up": "none"}]
}'::jsonb AS doc;
CREATE TEMP TABLE v2 AS SELECT '{
  "version": 2,
  "queues": [{"name": "reports", "concurrency": 5, "max_attempts": 3},
             {"name": "cleanup", "rate_limit": 10, "rate_period": "1 second", "lease": "1 minute"}],
  "schedules": [{"name": "monthly-reports", "cron": "0 4 1 * *", "queue": "reports", "task": "reports.fan_out",
                 "timezone": "Europe/Berlin"}]
}'::jsonb AS doc;

SELECT is((SELECT rota.apply(doc) ->> 'status' FROM v1), 'applied', 'first apply applies');
SELECT results_eq($$SELECT name, concurrency, rate_limit, max_attempts, lease FROM rota.queues
                    WHERE name IN ('reports', 'cleanup') ORDER BY name$$,
                  $$VALUES ('cleanup'::text, NULL::int, 10, 5, interval '1 minute'),
                           ('reports', 2, NULL, 3, interval '30 seconds')$$, 'queues as defined, defaults elsewhere');
SELECT results_eq($$SELECT name, cron, timezone, catch_up, enabled, managed FROM rota.schedules ORDER BY name$$,
                  $$VALUES ('hourly-cleanup'::text, '@hourly'::text, 'UTC'::text, 'none'::text, true, true),
                           ('monthly-reports', '0 3 1 * *', 'Europe/Berlin', 'latest', true, true)$$,
                  'schedules as defined and marked managed');
CREATE TEMP TABLE next_v1 AS SELECT name, next_fire_at FROM rota.schedules;

-- idempotent: every replica applies the same document at start
SELECT is((SELECT rota.apply(doc) ->> 'status' FROM v1), 'unchanged', 'the same document again: unchanged');
SELECT is((SELECT rota.apply(doc) ->> 'status' FROM v1), 'unchanged', 'and again');
SELECT is((SELECT count(*) FROM rota.schedules), 2::bigint, 'no duplicate schedules');
SELECT results_eq($$SELECT name, next_fire_at FROM rota.schedules ORDER BY name$$,
                  $$SELECT name, next_fire_at FROM next_v1 ORDER BY name$$, 'next fires untouched');

-- a newer version changes what it changes and disables the schedule it omits
SELECT is((SELECT rota.apply(doc) ->> 'status' FROM v2), 'applied', 'version 2 applies');
SELECT is((SELECT concurrency FROM rota.queues WHERE name = 'reports'), 5, 'queue limit updated');
SELECT is((SELECT cron FROM rota.schedules WHERE name = 'monthly-reports'), '0 4 1 * *', 'schedule cron updated');
SELECT is((SELECT next_fire_at FROM rota.schedules WHERE name = 'monthly-reports'),
          rota.cron_next('0 4 1 * *', now(), 'Europe/Berlin'), 'its next fire recomputed');
SELECT is((SELECT enabled FROM rota.schedules WHERE name = 'hourly-cleanup'), false, 'omitted schedule disabled');
SELECT is((SELECT rota.apply(doc) -> 'disabled_schedules' FROM v2), NULL, 'nothing more to disable (unchanged)');

-- rolling deploy: an old replica restarting with version 1 changes nothing
SELECT is((SELECT rota.apply(doc) ->> 'status' FROM v1), 'stale', 'an older version is stale');
SELECT is((SELECT concurrency FROM rota.queues WHERE name = 'reports'), 5, 'the newer limit stays');
SELECT is((SELECT enabled FROM rota.schedules WHERE name = 'hourly-cleanup'), false, 'the removed schedule stays disabled');
SELECT is((SELECT version FROM rota.definitions), 2::bigint, 'version 2 is current');

-- schedules defined by hand are not managed and survive any document
SELECT rota.define_schedule('by-hand', '@daily', 'reports', 'manual');
SELECT is((SELECT rota.apply(jsonb_set(doc, '{version}', '3')) ->> 'status' FROM v2), 'applied', 'version 3 applies');
SELECT is((SELECT enabled FROM rota.schedules WHERE name = 'by-hand'), true, 'a hand-made schedule is left alone');

-- rejected documents: RO040 naming the place, nothing written
SELECT throws_ok($$SELECT rota.apply('{"version": 3, "queues": []}')$$, 'RO040',
    'rota.apply: version: version 3 was already applied with different content; give changed definitions a higher version',
    'same version, other content');
SELECT throws_ok($$SELECT rota.apply('{"queues": []}')$$, 'RO040',
    'rota.apply: version: must be a whole number between 1 and 2147483647 (got nothing)', 'a version is required');
SELECT throws_ok($$SELECT rota.apply('{"version": 9, "queues": [{"name": "x9", "concurrency": "many"}]}')$$, 'RO040',
    'rota.apply: queues[0]: "concurrency" must be a JSON number (got string)', 'a wrong type names its place');
SELECT throws_ok($$SELECT rota.apply('{"version": 9, "queues": [{"name": "x9", "concurrency": 1.5}]}')$$, 'RO040',
    'rota.apply: queues[0]: invalid input syntax for type integer: "1.5"', 'a number that is no integer names its place');
SELECT throws_ok($$SELECT rota.apply('{"version": 9, "queues": [{"name": "x9", "concurency": 3}]}')$$, 'RO040',
    NULL, 'a misspelt key is rejected');
SELECT throws_ok($$SELECT rota.apply('{"version": 9, "queues": [{"name": "x9"}], "schedules": [{"name": "s9", "cron": "* * *", "queue": "x9", "task": "t"}]}')$$,
    'RO040', 'rota.apply: schedules[0]: rota.validate_cron: invalid cron expression "* * *": expected 5 or 6 fields, found 3',
    'an invalid cron inside a document is RO040 naming its place and the define error');
SELECT throws_ok($$SELECT rota.apply('{"version": 9, "queues": [{"name": "x9"}, {"name": "x9"}]}')$$, 'RO040',
    'rota.apply: queues[1]: queue "x9" is defined twice', 'duplicate names');
SELECT is((SELECT count(*) FROM rota.queues WHERE name = 'x9') + (SELECT version FROM rota.definitions), 3::bigint,
          'nothing of a rejected document was written');

SELECT * FROM finish();
ROLLBACK;
