-- Cron: rota.cron_next known answers (PL/pgSQL implementation unless rota_cron is installed),
-- DST gaps and overlaps, leap years, short months, Vixie rule, seconds, names, macros, steps,
-- and every class of invalid expression with its message.
BEGIN;
SELECT plan(106);
SET LOCAL TimeZone = 'UTC';

SELECT has_function('rota', 'cron_next', ARRAY['text', 'timestamp with time zone', 'text']);
SELECT has_function('rota', '_cron_next_plpgsql', ARRAY['text', 'timestamp with time zone', 'text']);
SELECT has_function('rota', 'validate_cron', ARRAY['text']);
SELECT volatility_is('rota', 'cron_next', ARRAY['text', 'timestamp with time zone', 'text'], 'stable');
SELECT is(rota.cron_next('*/5 * * * *', '2026-01-01 00:00:00+00'), '2026-01-01 00:05:00+00', 'timezone defaults to UTC');

-- a helper: the n-th successive fire (1 = the next) after an instant, by the function under test
CREATE FUNCTION pg_temp.fires(cron text, after timestamptz, tz text, n int) RETURNS timestamptz[]
LANGUAGE plpgsql AS $$
DECLARE r timestamptz[] := '{}'; t timestamptz := after;
BEGIN
    FOR i IN 1 .. n LOOP
        t := rota._cron_next_plpgsql(cron, t, tz);
        r := r || t;
    END LOOP;
    RETURN r;
END $$;

-- basics and steps
SELECT is(rota._cron_next_plpgsql('*/5 * * * *', '2026-01-01 00:04:59.999999+00'), '2026-01-01 00:05:00+00', 'strictly after, microseconds');
SELECT is(rota._cron_next_plpgsql('*/5 * * * *', '2026-01-01 00:05:00+00'), '2026-01-01 00:10:00+00', 'strictly after an exact fire');
SELECT is(rota._cron_next_plpgsql('0 0 1 1 *', '2026-06-15 12:00:00+00'), '2027-01-01 00:00:00+00', 'yearly crosses the year');
SELECT is(rota._cron_next_plpgsql('5/15 * * * *', '2026-01-01 00:50:00+00'), '2026-01-01 01:05:00+00', 'N/S means N-max/S');
SELECT is(pg_temp.fires('1-30/7 * * * *', '2026-01-01 00:00:00+00', 'UTC', 5),
          ARRAY['2026-01-01 00:01', '2026-01-01 00:08', '2026-01-01 00:15', '2026-01-01 00:22', '2026-01-01 00:29']::timestamptz[], 'range with step');
SELECT is(pg_temp.fires('0 8-10,14 * * *', '2026-01-01 09:30:00+00', 'UTC', 3),
          ARRAY['2026-01-01 10:00', '2026-01-01 14:00', '2026-01-02 08:00']::timestamptz[], 'lists of ranges and values');
SELECT is(rota._cron_next_plpgsql('59 23 31 12 *', '2026-12-31 23:59:00+00'), '2027-12-31 23:59:00+00', 'last minute of the year');

-- 6 fields: seconds first
SELECT is(rota._cron_next_plpgsql('*/10 * * * * *', '2026-01-01 00:00:00.5+00'), '2026-01-01 00:00:10+00', 'seconds step');
SELECT is(rota._cron_next_plpgsql('30 59 23 31 12 *', '2026-01-01 00:00:00+00'), '2026-12-31 23:59:30+00', 'seconds field');
SELECT is(rota._cron_next_plpgsql('0 * * * * *', '2026-01-01 00:00:59+00'), '2026-01-01 00:01:00+00', '6 fields, every minute');
SELECT is(rota._cron_next_plpgsql('15,45 30 * * * *', '2026-01-01 00:30:15+00'), '2026-01-01 00:30:45+00', 'second list');

-- names (case-insensitive) and day-of-week 7
SELECT is(rota._cron_next_plpgsql('0 9 * * mon-fri', '2026-01-02 10:00:00+00'), '2026-01-05 09:00:00+00', 'weekday names: Friday -> Monday');
SELECT is(rota._cron_next_plpgsql('0 0 1 jun *', '2026-01-01 00:00:00+00'), '2026-06-01 00:00:00+00', 'month name');
SELECT is(rota._cron_next_plpgsql('0 0 1 Jan-Mar/2 *', '2026-01-01 00:00:00+00'), '2026-03-01 00:00:00+00', 'month name range with step');
SELECT is(rota._cron_next_plpgsql('0 0 * * 7', '2026-01-01 00:00:00+00'), '2026-01-04 00:00:00+00', '7 is Sunday');
SELECT is(rota._cron_next_plpgsql('0 0 * * SUN', '2026-01-01 00:00:00+00'), '2026-01-04 00:00:00+00', 'SUN');
SELECT is(rota._cron_next_plpgsql('0 0 * * 5-7', '2026-01-03 12:00:00+00'), '2026-01-04 00:00:00+00', 'range to 7 includes Sunday');

-- macros
SELECT is(rota._cron_next_plpgsql('@hourly', '2026-01-01 00:30:00+00'), '2026-01-01 01:00:00+00', '@hourly');
SELECT is(rota._cron_next_plpgsql('@daily', '2026-01-01 00:30:00+00'), '2026-01-02 00:00:00+00', '@daily');
SELECT is(rota._cron_next_plpgsql('@midnight', '2026-01-01 00:30:00+00'), '2026-01-02 00:00:00+00', '@midnight');
SELECT is(rota._cron_next_plpgsql('@weekly', '2026-01-01 00:30:00+00'), '2026-01-04 00:00:00+00', '@weekly (Sunday)');
SELECT is(rota._cron_next_plpgsql('@monthly', '2026-01-01 00:30:00+00'), '2026-02-01 00:00:00+00', '@monthly');
SELECT is(rota._cron_next_plpgsql('@YEARLY', '2026-01-01 00:30:00+00'), '2027-01-01 00:00:00+00', '@YEARLY (case-insensitive)');
SELECT is(rota._cron_next_plpgsql(' @annually ', '2026-01-01 00:30:00+00'), '2027-01-01 00:00:00+00', '@annually, surrounding blanks');

-- Vixie rule
SELECT is(rota._cron_next_plpgsql('0 0 13 * FRI', '2026-01-01 00:00:00+00'), '2026-01-02 00:00:00+00', 'both restricted: either (a Friday)');
SELECT is(rota._cron_next_plpgsql('0 0 13 * FRI', '2026-01-10 00:00:00+00'), '2026-01-13 00:00:00+00', 'both restricted: either (the 13th)');
SELECT is(rota._cron_next_plpgsql('0 0 */13 * FRI', '2026-01-01 00:00:00+00'), '2026-02-27 00:00:00+00', 'day-of-month starting with *: both (1/14/27 and Friday)');
SELECT is(rota._cron_next_plpgsql('0 0 13 * */5', '2026-01-01 00:00:00+00'), '2026-02-13 00:00:00+00', 'day-of-week starting with *: both (13th, Sunday or Friday)');
SELECT is(rota._cron_next_plpgsql('0 0 * * MON', '2026-01-01 00:00:00+00'), '2026-01-05 00:00:00+00', 'day-of-month *: day-of-week only');

-- leap years and months without the 29th-31st
SELECT is(rota._cron_next_plpgsql('0 0 29 2 *', '2025-01-01 00:00:00+00'), '2028-02-29 00:00:00+00', 'Feb 29 from 2025 -> 2028');
SELECT is(rota._cron_next_plpgsql('0 0 29 2 *', '2096-03-01 00:00:00+00'), '2104-02-29 00:00:00+00', '2100 is not a leap year');
SELECT is(rota._cron_next_plpgsql('0 0 29 2 *', '2000-01-01 00:00:00+00'), '2000-02-29 00:00:00+00', '2000 is a leap year');
SELECT is(pg_temp.fires('0 0 31 * *', '2026-01-01 00:00:00+00', 'UTC', 7),
          ARRAY['2026-01-31', '2026-03-31', '2026-05-31', '2026-07-31', '2026-08-31', '2026-10-31', '2026-12-31']::timestamptz[],
          '31st skips February, April, June, September, November');
SELECT is(rota._cron_next_plpgsql('0 0 30 * *', '2026-01-30 00:00:00+00'), '2026-03-30 00:00:00+00', '30th skips February');
SELECT is(rota._cron_next_plpgsql('0 0 29 2 */7', '2005-01-01 00:00:00+00'), '2032-02-29 00:00:00+00', 'Feb 29 on a Sunday: 27 years later');

-- time zones
SELECT is(rota._cron_next_plpgsql('0 12 * * *', '2026-01-01 00:00:00+00', 'Asia/Kolkata'), '2026-01-01 06:30:00+00', 'Asia/Kolkata +05:30');
SELECT is(rota._cron_next_plpgsql('0 0 * * *', '2026-07-01 00:00:00+00', 'America/Sao_Paulo'), '2026-07-01 03:00:00+00', 'America/Sao_Paulo -03');
SELECT is(rota._cron_next_plpgsql('0 0 * * *', '2026-01-01 00:00:00+00', 'EST5EDT'), '2026-01-01 05:00:00+00', 'EST5EDT is a zone of pg_timezone_names');
SELECT throws_ok($$SELECT rota._cron_next_plpgsql('0 0 * * *', '2026-01-01 00:00:00+00', 'europe/BERLIN')$$, 'RO013',
    'rota.cron_next: unknown time zone "europe/BERLIN"', 'zone names are spelled as in pg_timezone_names');
SELECT is(rota._cron_next_plpgsql('0 0 * * *', '2026-07-01 00:00:00+00', 'CET'), '2026-07-01 22:00:00+00', 'CET is the zone (with DST), not the abbreviation');

-- Europe/Berlin spring forward (2026-03-29 02:00 CET -> 03:00 CEST): a gap
SELECT is(rota._cron_next_plpgsql('30 2 * * *', '2026-03-28 12:00:00+00', 'Europe/Berlin'), '2026-03-29 01:00:00+00', 'Berlin gap: 02:30 fires at 03:00 CEST');
SELECT is(rota._cron_next_plpgsql('30 2 * * *', '2026-03-29 01:00:00+00', 'Europe/Berlin'), '2026-03-30 00:30:00+00', 'Berlin gap: then 02:30 CEST the next day');
SELECT is(pg_temp.fires('*/20 * * * *', '2026-03-29 00:30:00+00', 'Europe/Berlin', 4),
          ARRAY['2026-03-29 00:40', '2026-03-29 01:00', '2026-03-29 01:20', '2026-03-29 01:40']::timestamptz[],
          'Berlin gap: 02:00, 02:20, 02:40 and 03:00 fire once together at 03:00 CEST');
SELECT is(rota._cron_next_plpgsql('0 3 * * *', '2026-03-28 12:00:00+00', 'Europe/Berlin'), '2026-03-29 01:00:00+00', 'Berlin: 03:00 exists');
-- Europe/Berlin fall back (2026-10-25 03:00 CEST -> 02:00 CET): an overlap
SELECT is(rota._cron_next_plpgsql('30 2 * * *', '2026-10-24 12:00:00+00', 'Europe/Berlin'), '2026-10-25 00:30:00+00', 'Berlin overlap: first occurrence (CEST)');
SELECT is(rota._cron_next_plpgsql('30 2 * * *', '2026-10-25 00:30:00+00', 'Europe/Berlin'), '2026-10-26 01:30:00+00', 'Berlin overlap: not again at 02:30 CET');
SELECT is(rota._cron_next_plpgsql('30 2 * * *', '2026-10-25 01:10:00+00', 'Europe/Berlin'), '2026-10-26 01:30:00+00', 'Berlin overlap: from inside the second pass');
SELECT is(pg_temp.fires('0 * * * *', '2026-10-24 23:30:00+00', 'Europe/Berlin', 4),
          ARRAY['2026-10-25 00:00', '2026-10-25 02:00', '2026-10-25 03:00', '2026-10-25 04:00']::timestamptz[],
          'Berlin overlap: hourly fires 02:00 CEST, not 02:00 CET, then 03:00 CET');

-- America/New_York spring forward (2026-03-08 02:00 EST -> 03:00 EDT)
SELECT is(rota._cron_next_plpgsql('30 2 * * *', '2026-03-07 12:00:00+00', 'America/New_York'), '2026-03-08 07:00:00+00', 'New York gap: 02:30 fires at 03:00 EDT');
SELECT is(pg_temp.fires('*/30 * * * *', '2026-03-08 06:15:00+00', 'America/New_York', 3),
          ARRAY['2026-03-08 06:30', '2026-03-08 07:00', '2026-03-08 07:30']::timestamptz[],
          'New York gap: 01:30 EST, then 03:00 EDT (02:00, 02:30 and 03:00 together), then 03:30');
SELECT is(rota._cron_next_plpgsql('0 2 * * *', '2026-03-08 07:00:00+00', 'America/New_York'), '2026-03-09 06:00:00+00', 'New York gap: next day normal');
-- America/New_York fall back (2026-11-01 02:00 EDT -> 01:00 EST)
SELECT is(pg_temp.fires('*/15 * * * *', '2026-11-01 05:40:00+00', 'America/New_York', 3),
          ARRAY['2026-11-01 05:45', '2026-11-01 07:00', '2026-11-01 07:15']::timestamptz[],
          'New York overlap: */15 fires 01:45 EDT, then 02:00 EST (the repeated hour does not fire again)');
SELECT is(rota._cron_next_plpgsql('30 1 * * *', '2026-10-31 12:00:00+00', 'America/New_York'), '2026-11-01 05:30:00+00', 'New York overlap: 01:30 fires at EDT');
SELECT is(rota._cron_next_plpgsql('30 1 * * *', '2026-11-01 05:30:00+00', 'America/New_York'), '2026-11-02 06:30:00+00', 'New York overlap: once');
SELECT is(rota._cron_next_plpgsql('*/15 * * * *', '2026-11-01 06:20:00+00', 'America/New_York'), '2026-11-01 07:00:00+00', 'New York overlap: from 01:20 EST (second pass) -> 02:00 EST');
SELECT is(rota._cron_next_plpgsql('0 2 * * *', '2026-10-31 12:00:00+00', 'America/New_York'), '2026-11-01 07:00:00+00', 'New York: 02:00 on fall-back day is EST');

-- Australia/Lord_Howe: 30-minute DST (2026-10-04 02:00 -> 02:30; 2026-04-05 02:00 -> 01:30)
SELECT is(rota._cron_next_plpgsql('15 2 * * *', '2026-10-03 12:00:00+00', 'Australia/Lord_Howe'), '2026-10-03 15:30:00+00', 'Lord Howe 30-minute gap');
SELECT is(pg_temp.fires('45 1 * * *', '2026-04-04 12:00:00+00', 'Australia/Lord_Howe', 2),
          ARRAY['2026-04-04 14:45', '2026-04-05 15:15']::timestamptz[], 'Lord Howe 30-minute overlap: once, first occurrence');

-- out of range instants and NULLs
SELECT is(rota._cron_next_plpgsql('* * * * *', 'infinity'), NULL, 'infinity -> NULL');
SELECT is(rota._cron_next_plpgsql('* * * * *', '-infinity'), NULL, '-infinity -> NULL');
SELECT is(rota._cron_next_plpgsql(NULL, now()), NULL, 'NULL expression -> NULL');

-- invalid expressions: RO012 with the field and the value; unknown zones: RO013
SELECT throws_ok($$SELECT rota.cron_next('61 * * * *', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "61 * * * *": minute field value 61 out of range 0-59', 'value out of range');
SELECT throws_ok($$SELECT rota.cron_next('', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "": expression is empty', 'empty');
SELECT throws_ok($$SELECT rota.cron_next('* * * *', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "* * * *": expected 5 or 6 fields, found 4', 'too few fields');
SELECT throws_ok($$SELECT rota.cron_next('* * * * * * *', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "* * * * * * *": expected 5 or 6 fields, found 7', 'too many fields');
SELECT throws_ok($$SELECT rota.cron_next('@reboot', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "@reboot": unknown macro "@reboot"', 'unknown macro');
SELECT throws_ok($$SELECT rota.cron_next('*/0 * * * *', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "*/0 * * * *": minute field step 0 out of range 1-60', 'step 0');
SELECT throws_ok($$SELECT rota.cron_next('0 */25 * * *', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "0 */25 * * *": hour field step 25 out of range 1-24', 'step too large');
SELECT throws_ok($$SELECT rota.cron_next('*/x * * * *', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "*/x * * * *": minute field step "x" is invalid', 'step not a number');
SELECT throws_ok($$SELECT rota.cron_next('0 0 0 * *', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "0 0 0 * *": day-of-month field value 0 out of range 1-31', 'day-of-month 0');
SELECT throws_ok($$SELECT rota.cron_next('0 0 * 13 *', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "0 0 * 13 *": month field value 13 out of range 1-12', 'month 13');
SELECT throws_ok($$SELECT rota.cron_next('0 0 * * 8', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "0 0 * * 8": day-of-week field value 8 out of range 0-7', 'day-of-week 8');
SELECT throws_ok($$SELECT rota.cron_next('60 0 0 * * *', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "60 0 0 * * *": second field value 60 out of range 0-59', 'second 60');
SELECT throws_ok($$SELECT rota.cron_next('0 0 * JANUARY *', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "0 0 * JANUARY *": month field value "JANUARY" is invalid', 'bad month name');
SELECT throws_ok($$SELECT rota.cron_next('0 0 * * MON-JAN', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "0 0 * * MON-JAN": day-of-week field value "JAN" is invalid', 'month name in day-of-week');
SELECT throws_ok($$SELECT rota.cron_next('5-1 * * * *', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "5-1 * * * *": minute field range "5-1" is reversed', 'reversed range');
SELECT throws_ok($$SELECT rota.cron_next('1,,2 * * * *', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "1,,2 * * * *": minute field value "" is invalid', 'empty list element');
SELECT throws_ok($$SELECT rota.cron_next('0 0 30 2 *', now())$$, 'RO012',
    'rota.cron_next: invalid cron expression "0 0 30 2 *": day-of-month field never matches: no selected day exists in the selected months',
    'never matches');
SELECT throws_ok($$SELECT rota.cron_next('0 0 * * *', now(), 'Mars/Base')$$, 'RO013',
    'rota.cron_next: unknown time zone "Mars/Base"', 'unknown time zone');
SELECT throws_ok($$SELECT rota.cron_next('0 0 * * *', now(), '+02:00')$$, 'RO013',
    'rota.cron_next: unknown time zone "+02:00"', 'numeric offsets are not zones');
-- only the IANA names of pg_timezone_names, spelled as there (also in PL/pgSQL: the POSIX
-- spec FOO+167BAR-167 took 11.6 s there)
SELECT throws_ok(format($$SELECT rota._cron_next_plpgsql('0 0 * * *', '2026-01-01', %L)$$, z), 'RO013',
    format('rota.cron_next: unknown time zone "%s"', z), 'not a zone: ' || z)
FROM unnest(ARRAY['FOO+167BAR-167', 'UTC+5', 'EST5', 'localtime', 'posixrules', 'Factory', 'posix/Factory',
                  'europe/berlin', 'utc', 'right/UTC']) AS z;
SELECT is(rota._cron_next_plpgsql('0 0 * * *', '2026-01-01 00:00:00+00', z), '2026-01-01 05:00:00+00', 'a zone: ' || z)
FROM unnest(ARRAY['Etc/GMT+5', 'America/New_York', 'posix/America/New_York']) AS z;
SELECT throws_ok($$SELECT rota._cron_next_plpgsql('0 0 * * *', '2026-01-01', repeat('Europe/', 10) || 'Berlin')$$, 'RO013',
    'rota.cron_next: unknown time zone "Europe/Europe/Europe/Europe/Europe/Europe/Europe/Europe/Europe/E..."',
    'a long zone name is echoed as its first 64 characters');
-- 256 bytes is the limit of an expression; longer ones are echoed as their first 64 characters
SELECT is(rota._cron_next_plpgsql(repeat('0,', 123) || '0  * * * *', '2026-01-01 00:00:30+00'), '2026-01-01 01:00:00+00',
          'an expression of 256 bytes is parsed');
SELECT throws_ok($$SELECT rota._cron_next_plpgsql(repeat('0,', 123) || '0   * * * *', '2026-01-01')$$, 'RO012',
    'rota.cron_next: invalid cron expression "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,...": expression is longer than 256 bytes',
    'an expression of 257 bytes is not');
SELECT throws_ok($$SELECT rota.validate_cron(repeat('é', 150) || ' * * * *')$$, 'RO012',
    'rota.validate_cron: invalid cron expression "éééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééééé...": expression is longer than 256 bytes',
    'the limit is in bytes');
SELECT throws_ok($$SELECT rota.validate_cron(repeat('0,', 500000) || '0 * * * *')$$, 'RO012', NULL,
    'a 1 MB expression is rejected before it is parsed');
SELECT throws_ok($$SELECT rota.validate_cron('0 0 * * * * *')$$, 'RO012',
    'rota.validate_cron: invalid cron expression "0 0 * * * * *": expected 5 or 6 fields, found 7', 'validate_cron raises');
SELECT lives_ok($$SELECT rota.validate_cron('*/5 9-17 * JAN-MAR mon-fri')$$, 'validate_cron accepts a valid expression');
SELECT is((SELECT current_setting('TimeZone')), 'UTC', 'the session time zone is left alone');

SELECT * FROM finish();
ROLLBACK;
