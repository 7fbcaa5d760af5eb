-- Known answers and errors of rota.cron_next_c (the C implementation of rota.cron_next).
CREATE EXTENSION rota_cron;
SET TimeZone = 'UTC';
-- basics
SELECT rota.cron_next_c('*/5 * * * *', '2026-01-01 00:00:00+00');
SELECT rota.cron_next_c('*/5 * * * *', '2026-01-01 00:04:59.999999+00');
SELECT rota.cron_next_c('0 0 1 1 *', '2026-06-15 12:00:00+00');
SELECT rota.cron_next_c('5/15 * * * *', '2026-01-01 00:50:00+00');
SELECT rota.cron_next_c('1-30/2 * * * *', '2026-01-01 00:29:00+00');
-- 6 fields (seconds)
SELECT rota.cron_next_c('*/10 * * * * *', '2026-01-01 00:00:00.5+00');
SELECT rota.cron_next_c('30 59 23 31 12 *', '2026-01-01 00:00:00+00');
-- names and macros
SELECT rota.cron_next_c('0 9 * * mon-fri', '2026-01-02 10:00:00+00');   -- Friday -> Monday
SELECT rota.cron_next_c('0 0 1 jun *', '2026-01-01 00:00:00+00');
SELECT rota.cron_next_c('0 0 * * 7', '2026-01-01 00:00:00+00');          -- 7 = Sunday
SELECT rota.cron_next_c('@hourly', '2026-01-01 00:30:00+00'),
       rota.cron_next_c('@daily', '2026-01-01 00:30:00+00'),
       rota.cron_next_c('@weekly', '2026-01-01 00:30:00+00'),
       rota.cron_next_c('@monthly', '2026-01-01 00:30:00+00'),
       rota.cron_next_c('@YEARLY', '2026-01-01 00:30:00+00');
-- Vixie: both restricted -> either; one starting with * -> both
SELECT rota.cron_next_c('0 0 13 * FRI', '2026-01-01 00:00:00+00');      -- Fri 2 Jan
SELECT rota.cron_next_c('0 0 */13 * FRI', '2026-01-01 00:00:00+00');    -- Fri and day 1/14/27
-- leap years, short months
SELECT rota.cron_next_c('0 0 29 2 *', '2025-01-01 00:00:00+00');
SELECT rota.cron_next_c('0 0 29 2 *', '2096-03-01 00:00:00+00');        -- 2100 is no leap year
SELECT rota.cron_next_c('0 0 31 * *', '2026-03-31 00:00:00+00');
-- time zones and DST
SELECT rota.cron_next_c('30 2 * * *', '2026-03-28 12:00:00+00', 'Europe/Berlin');    -- gap -> 03:00 CEST
SELECT rota.cron_next_c('30 2 * * *', '2026-10-24 12:00:00+00', 'Europe/Berlin');    -- overlap -> first
SELECT rota.cron_next_c('30 2 * * *', '2026-10-25 00:30:00+00', 'Europe/Berlin');    -- not again
SELECT rota.cron_next_c('*/15 * * * *', '2026-11-01 05:45:00+00', 'America/New_York'); -- second pass skipped
SELECT rota.cron_next_c('0 12 * * *', '2026-01-01 00:00:00+00', 'Asia/Kolkata');
SELECT rota.cron_next_c('15 2 * * *', '2026-10-03 12:00:00+00', 'Australia/Lord_Howe'); -- 30-min gap
-- zones: IANA names of pg_timezone_names, spelled as there (also the legacy ones with digits)
SELECT z, rota.cron_next_c('0 0 * * *', '2026-01-01 00:00:00+00', z)
  FROM unnest(ARRAY['EST5EDT', 'GMT0', 'GMT-0', 'Etc/GMT+5', 'Etc/GMT-14', 'posix/Europe/Berlin', 'GMT', 'UTC', 'NZ-CHAT']) z;
-- out of range instants
SELECT rota.cron_next_c('* * * * *', 'infinity'), rota.cron_next_c('* * * * *', '-infinity');
-- invalid expressions (RO012) and zones (RO013)
\set VERBOSITY sqlstate
SELECT rota.cron_next_c('61 * * * *', '2026-01-01');
\set VERBOSITY default
SELECT rota.cron_next_c('61 * * * *', '2026-01-01');
SELECT rota.cron_next_c('', '2026-01-01');
SELECT rota.cron_next_c('* * * *', '2026-01-01');
SELECT rota.cron_next_c('* * * * * * *', '2026-01-01');
SELECT rota.cron_next_c('@reboot', '2026-01-01');
SELECT rota.cron_next_c('*/0 * * * *', '2026-01-01');
SELECT rota.cron_next_c('*/61 * * * *', '2026-01-01');
SELECT rota.cron_next_c('*/x * * * *', '2026-01-01');
SELECT rota.cron_next_c('0 24 * * *', '2026-01-01');
SELECT rota.cron_next_c('0 0 0 * *', '2026-01-01');
SELECT rota.cron_next_c('0 0 * 13 *', '2026-01-01');
SELECT rota.cron_next_c('0 0 * * 8', '2026-01-01');
SELECT rota.cron_next_c('0 0 * JANUARY *', '2026-01-01');
SELECT rota.cron_next_c('0 0 * * MON-JAN', '2026-01-01');
SELECT rota.cron_next_c('MON 0 * * *', '2026-01-01');
SELECT rota.cron_next_c('5-1 * * * *', '2026-01-01');
SELECT rota.cron_next_c('1,,2 * * * *', '2026-01-01');
SELECT rota.cron_next_c('60 * * * * *', '2026-01-01');
SELECT rota.cron_next_c('0 0 30 2 *', '2026-01-01');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', 'Mars/Base');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', '+02:00');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', 'CEST');
-- POSIX-style specs, names that are no zone, other spellings and leap-second zones (RO013)
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', 'FOO+167BAR-167');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', 'UTC+5');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', 'EST5');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', '<+03>-3');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', 'localtime');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', 'posixrules');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', 'Factory');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', 'posix/Factory');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', 'europe/berlin');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', 'utc');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', 'right/UTC');
-- long values: 256 bytes is the limit of an expression; echoes are cut to 64 characters
SELECT rota.cron_next_c(repeat('0,', 123) || '0  * * * *', '2026-01-01 00:00:30+00');
SELECT rota.cron_next_c(repeat('0,', 123) || '0   * * * *', '2026-01-01');
SELECT rota.cron_next_c(repeat('é', 150) || ' * * * *', '2026-01-01');
SELECT rota.cron_next_c('0 0 * * *', '2026-01-01', repeat('Europe/', 10) || 'Berlin');
-- NULL in, NULL out
SELECT rota.cron_next_c(NULL, '2026-01-01') IS NULL AS n1, rota.cron_next_c('* * * * *', NULL) IS NULL AS n2;
