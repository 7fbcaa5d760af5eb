-- Cron: parsing and evaluation of cron expressions (rota.cron_next), in PL/pgSQL.
-- The optional C extension pgext/rota_cron provides rota.cron_next_c with the same
-- signature and answers; rota.cron_next uses it whenever it is installed.
--
-- Contract (shared with pgext/rota_cron.c; tests/differential checks that they agree):
--
-- Syntax: 5 fields (minute hour day-of-month month day-of-week) or 6 with seconds first,
-- separated by ASCII whitespace. Each field is a comma list of elements:
--   *   N   N-M   */S   N-M/S   N/S (= N-max/S)
-- month names JAN-DEC and weekday names SUN-SAT (case-insensitive, 3 letters, only in
-- their own field); day-of-week 0-7 (0 and 7 are Sunday). A step S lies in 1..span of
-- the field (60, 60, 24, 31, 12, 8). A range N-M needs N <= M.
-- Macros (whole expression, case-insensitive): @hourly "0 * * * *", @daily and @midnight
-- "0 0 * * *", @weekly "0 0 * * 0", @monthly "0 0 1 * *", @yearly and @annually "0 0 1 1 *".
-- Vixie rule: when neither day-of-month nor day-of-week starts with "*", a day matches if
-- EITHER matches; otherwise it must match both.
-- An expression that can never match (day-of-month values that no selected month has,
-- e.g. "0 0 30 2 *") is rejected as invalid (RO012), like a syntax error.
--
-- Length: an expression longer than 256 bytes is invalid (RO012) before it is parsed.
-- Errors echo a value over its limit (256 bytes for expressions, 64 for zone names) as its
-- first 64 characters and "..." (rota._echo).
--
-- Time zones: the IANA names of pg_timezone_names, spelled exactly as there (Europe/Berlin,
-- not europe/berlin; also the legacy names EST5EDT, GMT0, Etc/GMT+5), except localtime,
-- posixrules and Factory (in any folder); no POSIX-style specs (UTC+5, FOO+167BAR-167),
-- numeric offsets, intervals or abbreviations. Anything else -> RO013.
--
-- Semantics: the expression selects wall-clock times (to the second) in the zone. Let
-- W(t) be the wall clock at instant t. A selected wall time m fires at the first instant t
-- with W(t) >= m that the clock reaches it, i.e.
--   * a wall time that occurs once fires then;
--   * a repeated wall time (DST overlap, clocks go back) fires once, at its first
--     occurrence (the earlier UTC instant); during the second pass of the repeated hour
--     nothing that already fired fires again (e.g. "*/15 * * * *" in New York on
--     2026-11-01 fires 01:00, 01:15, 01:30, 01:45 EDT, then 02:00 EST);
--   * a wall time that does not exist (DST gap, clocks go forward) fires at the first
--     instant after the gap (Berlin "30 2 * * *" on 2026-03-29 fires at 03:00 CEST);
--     several selected wall times in one gap fire once, together.
-- cron_next(cron, after, tz) is the smallest fire instant strictly after `after`.
-- It returns NULL when `after` is +-infinity or before year 1 (wall clock), and when no
-- fire exists within 100 years of wall-clock time after `after` (or before year 294276);
-- with invalid expressions already rejected, a valid expression always fires within
-- about 40 years (Feb 29 on a given weekday), so NULL means "out of range".
-- Transitions are located by sampling the UTC offset one day before and after, so zones
-- whose offset changes twice within a day (none in modern tzdata) may be approximated.

SELECT rota._apply_code('cron', $code$

-- Raises RO012 for a cron expression in the one format every cron error uses.
CREATE OR REPLACE FUNCTION rota._invalid_cron(p_fn text, p_cron text, p_problem text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $fn$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'RO012',
        MESSAGE = format('%s: invalid cron expression "%s": %s', p_fn, rota._echo(p_cron, 256), p_problem);
END;
$fn$;

-- Parses a cron expression into bitmaps; raises RO012 naming the field and value.
-- p_fn is the function name the error message starts with.
CREATE OR REPLACE FUNCTION rota._cron_parse(p_cron text, p_fn text DEFAULT 'rota.cron_next')
RETURNS rota._cron_spec
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
DECLARE
    c_names  CONSTANT text[] := ARRAY['second', 'minute', 'hour', 'day-of-month', 'month', 'day-of-week'];
    c_min    CONSTANT int[]  := ARRAY[0, 0, 0, 1, 1, 0];
    c_max    CONSTANT int[]  := ARRAY[59, 59, 23, 31, 12, 7];
    c_months CONSTANT text[] := ARRAY['JAN','FEB','MAR','APR','MAY','JUN','JUL','AUG','SEP','OCT','NOV','DEC'];
    c_days   CONSTANT text[] := ARRAY['SUN','MON','TUE','WED','THU','FRI','SAT'];
    c_mdays  CONSTANT int[]  := ARRAY[31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
    v_src    text;
    v_fields text[];
    v_field_count      int;
    v_field_index      int;
    v_bits   bigint[] := ARRAY[1, 0, 0, 0, 0, 0];
    v_field  text;
    v_field_name  text;
    v_element     text;
    v_base   text;
    v_step   text;
    v_token    text;
    v_pos    int;
    v_lo     int;
    v_hi     int;
    v_step_size      int;
    v_value      int;
    v_field_bits      bigint;
    v_field_span   int;
    v_spec   rota._cron_spec;
    v_first_dom int;
    v_dom_exists     boolean;
BEGIN
    -- checked before any parsing, so a huge expression costs nothing
    IF octet_length(p_cron) > 256 THEN
        PERFORM rota._invalid_cron(p_fn, p_cron, 'expression is longer than 256 bytes');
    END IF;
    v_src := btrim(p_cron, E' \t\n\r\f\x0b');
    IF v_src = '' THEN
        PERFORM rota._invalid_cron(p_fn, p_cron, 'expression is empty');
    END IF;
    IF left(v_src, 1) = '@' THEN
        v_src := CASE lower(v_src)
            WHEN '@hourly' THEN '0 * * * *'
            WHEN '@daily' THEN '0 0 * * *'
            WHEN '@midnight' THEN '0 0 * * *'
            WHEN '@weekly' THEN '0 0 * * 0'
            WHEN '@monthly' THEN '0 0 1 * *'
            WHEN '@yearly' THEN '0 0 1 1 *'
            WHEN '@annually' THEN '0 0 1 1 *'
        END;
        IF v_src IS NULL THEN
            PERFORM rota._invalid_cron(p_fn, p_cron, format('unknown macro "%s"', btrim(p_cron, E' \t\n\r\f\x0b')));
        END IF;
    END IF;
    v_fields := regexp_split_to_array(v_src, E'[ \t\n\r\f\x0b]+');
    v_field_count := cardinality(v_fields);
    IF v_field_count NOT IN (5, 6) THEN
        PERFORM rota._invalid_cron(p_fn, p_cron, format('expected 5 or 6 fields, found %s', v_field_count));
    END IF;
    FOR v_i IN 1 .. v_field_count LOOP
        v_field_index := v_i + 6 - v_field_count;
        v_field := v_fields[v_i];
        v_field_name := c_names[v_field_index];
        v_field_span := c_max[v_field_index] - c_min[v_field_index] + 1;
        v_field_bits := 0;
        IF v_field = '*' THEN   -- fast path: the whole range
            v_field_bits := ((1::bigint << (c_max[v_field_index] + 1)) - 1) & ~((1::bigint << c_min[v_field_index]) - 1);
            v_field := '';
        END IF;
        FOREACH v_element IN ARRAY string_to_array(v_field, ',') LOOP
            -- split off the step
            v_pos := strpos(v_element, '/');
            IF v_pos > 0 THEN
                v_base := left(v_element, v_pos - 1);
                v_step := substr(v_element, v_pos + 1);
            ELSE
                v_base := v_element;
                v_step := NULL;
            END IF;
            -- the base: *, N, or N-M
            IF v_base = '*' THEN
                v_lo := c_min[v_field_index];
                v_hi := c_max[v_field_index];
            ELSE
                v_pos := strpos(v_base, '-');
                FOR v_j IN 1 .. CASE WHEN v_pos > 0 THEN 2 ELSE 1 END LOOP
                    IF v_pos = 0 THEN
                        v_token := v_base;
                    ELSIF v_j = 1 THEN
                        v_token := left(v_base, v_pos - 1);
                    ELSE
                        v_token := substr(v_base, v_pos + 1);
                    END IF;
                    IF v_token ~ '^[0-9]+$' THEN
                        IF length(v_token) > 9 OR v_token::int < c_min[v_field_index] OR v_token::int > c_max[v_field_index] THEN
                            PERFORM rota._invalid_cron(p_fn, p_cron, format('%s field value %s out of range %s-%s',
                                                             v_field_name, v_token, c_min[v_field_index], c_max[v_field_index]));
                        END IF;
                        v_value := v_token::int;
                    ELSIF v_field_index = 5 AND upper(v_token) = ANY (c_months) THEN
                        v_value := array_position(c_months, upper(v_token));
                    ELSIF v_field_index = 6 AND upper(v_token) = ANY (c_days) THEN
                        v_value := array_position(c_days, upper(v_token)) - 1;
                    ELSE
                        PERFORM rota._invalid_cron(p_fn, p_cron, format('%s field value "%s" is invalid', v_field_name, v_token));
                    END IF;
                    IF v_j = 1 THEN
                        v_lo := v_value;
                        v_hi := CASE WHEN v_step IS NULL THEN v_value ELSE c_max[v_field_index] END;
                    ELSE
                        v_hi := v_value;
                    END IF;
                END LOOP;
            END IF;
            -- the step
            v_step_size := 1;
            IF v_step IS NOT NULL THEN
                IF v_step !~ '^[0-9]+$' THEN
                    PERFORM rota._invalid_cron(p_fn, p_cron, format('%s field step "%s" is invalid', v_field_name, v_step));
                END IF;
                IF length(v_step) > 9 OR v_step::int < 1 OR v_step::int > v_field_span THEN
                    PERFORM rota._invalid_cron(p_fn, p_cron, format('%s field step %s out of range 1-%s', v_field_name, v_step, v_field_span));
                END IF;
                v_step_size := v_step::int;
            END IF;
            IF v_lo > v_hi THEN
                PERFORM rota._invalid_cron(p_fn, p_cron, format('%s field range "%s" is reversed', v_field_name, v_base));
            END IF;
            IF v_step_size = 1 THEN
                v_field_bits := v_field_bits | (((1::bigint << (v_hi + 1)) - 1) & ~((1::bigint << v_lo) - 1));
            ELSE
                FOR v_value IN v_lo .. v_hi BY v_step_size LOOP
                    v_field_bits := v_field_bits | (1::bigint << v_value);
                END LOOP;
            END IF;
        END LOOP;
        IF v_field_index = 6 AND (v_field_bits & 128) <> 0 THEN
            v_field_bits := (v_field_bits & 127) | 1;   -- 7 is Sunday
        END IF;
        v_bits[v_field_index] := v_field_bits;
    END LOOP;

    v_spec := ROW(v_bits[1], v_bits[2], v_bits[3], v_bits[4], v_bits[5], v_bits[6],
                  left(v_fields[v_field_count - 2], 1) = '*', left(v_fields[v_field_count], 1) = '*')::rota._cron_spec;

    -- Never-matching day-of-month: only possible when both fields must match and the
    -- day-of-week field starts with "*" (a day-of-month starting with "*" includes 1).
    IF v_spec.dow_star AND NOT v_spec.dom_star THEN
        v_first_dom := round(ln((v_spec.doms & -v_spec.doms)::float8) / ln(2::float8))::int;
        v_dom_exists := false;
        FOR v_m IN 1 .. 12 LOOP
            IF (v_spec.months >> v_m) & 1 = 1 AND c_mdays[v_m] >= v_first_dom THEN
                v_dom_exists := true;
                EXIT;
            END IF;
        END LOOP;
        IF NOT v_dom_exists THEN
            PERFORM rota._invalid_cron(p_fn, p_cron, 'day-of-month field never matches: no selected day exists in the selected months');
        END IF;
    END IF;
    RETURN v_spec;
END;
$fn$;

COMMENT ON FUNCTION rota._cron_parse(text, text) IS
    'Parses a cron expression into per-field bitmaps; raises RO012 naming the field and value.';

-- Raises RO012 when the cron expression is invalid (for schedules to check before storing).
CREATE OR REPLACE FUNCTION rota.validate_cron(cron text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $fn$
BEGIN
    IF cron IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = 'RO012',
            MESSAGE = 'rota.validate_cron: invalid cron expression: NULL';
    END IF;
    PERFORM rota._cron_parse(cron, 'rota.validate_cron');
END;
$fn$;

COMMENT ON FUNCTION rota.validate_cron(text) IS
    'Raises RO012 (naming the field and the value) when the cron expression is invalid.';

-- Smallest wall-clock second >= p_ws (seconds since 1970-01-01 00:00 of wall time) that the
-- expression selects, searching up to the end of year p_ylimit; NULL when there is none.
CREATE OR REPLACE FUNCTION rota._cron_next_wall(s rota._cron_spec, p_ws bigint, p_ylimit int)
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE STRICT PARALLEL SAFE
AS $fn$
DECLARE
    c_ln2   CONSTANT float8 := ln(2::float8);
    v_days  bigint := p_ws / 86400;
    v_s0    int;
    v_date  date;
    v_y     int;
    v_m     int;
    v_d     int;
    v_dim   int;
    v_wd1   int;
    v_x     bigint;
    v_h     int;
    v_mi    int;
    v_se    int;
    v_t     int;
    v_first int;
    v_fh    int;
    v_fm    int;
    v_fs    int;
    v_or    boolean := NOT (s.dom_star OR s.dow_star);
BEGIN
    IF p_ws % 86400 < 0 THEN
        v_days := v_days - 1;
    END IF;
    v_s0 := (p_ws - v_days * 86400)::int;
    v_date := date '1970-01-01' + v_days::int;
    v_y := extract(year FROM v_date)::int;
    v_m := extract(month FROM v_date)::int;
    v_d := extract(day FROM v_date)::int;
    v_fh := round(ln((s.hours & -s.hours)::float8) / c_ln2)::int;
    v_fm := round(ln((s.mins & -s.mins)::float8) / c_ln2)::int;
    v_fs := round(ln((s.secs & -s.secs)::float8) / c_ln2)::int;
    v_first := v_fh * 3600 + v_fm * 60 + v_fs;
    LOOP
        -- the month: jump to the next selected one
        v_x := s.months & ~((1::bigint << v_m) - 1);
        IF v_x = 0 THEN
            v_y := v_y + 1;
            v_m := 1;
            v_d := 1;
            v_s0 := 0;
            CONTINUE WHEN v_y <= p_ylimit;
            RETURN NULL;
        END IF;
        IF (v_x & -v_x) <> (1::bigint << v_m) THEN
            v_m := round(ln((v_x & -v_x)::float8) / c_ln2)::int;
            v_d := 1;
            v_s0 := 0;
        END IF;
        IF v_y > p_ylimit THEN
            RETURN NULL;
        END IF;
        v_dim := CASE v_m WHEN 2 THEN CASE WHEN v_y % 4 = 0 AND (v_y % 100 <> 0 OR v_y % 400 = 0) THEN 29 ELSE 28 END
                          WHEN 4 THEN 30 WHEN 6 THEN 30 WHEN 9 THEN 30 WHEN 11 THEN 30 ELSE 31 END;
        v_wd1 := extract(dow FROM make_date(v_y, v_m, 1))::int;
        -- the days of this month
        WHILE v_d <= v_dim LOOP
            IF NOT v_or THEN
                v_x := s.doms & ~((1::bigint << v_d) - 1);
                EXIT WHEN v_x = 0;
                v_x := round(ln((v_x & -v_x)::float8) / c_ln2)::int;
                IF v_x <> v_d THEN
                    v_d := v_x;
                    v_s0 := 0;
                    EXIT WHEN v_d > v_dim;
                END IF;
            END IF;
            IF (NOT v_or AND (s.dows >> ((v_wd1 + v_d - 1) % 7)) & 1 = 1)
               OR (v_or AND ((s.doms >> v_d) & 1 = 1 OR (s.dows >> ((v_wd1 + v_d - 1) % 7)) & 1 = 1)) THEN
                -- the day matches: the first selected time of day >= v_s0
                IF v_s0 = 0 THEN
                    v_t := v_first;
                ELSE
                    v_t := NULL;
                    v_h := v_s0 / 3600;
                    v_mi := (v_s0 / 60) % 60;
                    v_se := v_s0 % 60;
                    IF (s.hours >> v_h) & 1 = 1 THEN
                        IF (s.mins >> v_mi) & 1 = 1 THEN
                            v_x := s.secs & ~((1::bigint << v_se) - 1);
                            IF v_x <> 0 THEN
                                v_t := v_h * 3600 + v_mi * 60 + round(ln((v_x & -v_x)::float8) / c_ln2)::int;
                            END IF;
                        END IF;
                        IF v_t IS NULL THEN
                            v_x := s.mins & ~((1::bigint << (v_mi + 1)) - 1);
                            IF v_x <> 0 THEN
                                v_t := v_h * 3600 + round(ln((v_x & -v_x)::float8) / c_ln2)::int * 60 + v_fs;
                            END IF;
                        END IF;
                    END IF;
                    IF v_t IS NULL THEN
                        v_x := s.hours & ~((1::bigint << (v_h + 1)) - 1);
                        IF v_x <> 0 THEN
                            v_t := round(ln((v_x & -v_x)::float8) / c_ln2)::int * 3600 + v_fm * 60 + v_fs;
                        END IF;
                    END IF;
                END IF;
                IF v_t IS NOT NULL THEN
                    RETURN (make_date(v_y, v_m, v_d) - date '1970-01-01')::bigint * 86400 + v_t;
                END IF;
            END IF;
            v_d := v_d + 1;
            v_s0 := 0;
        END LOOP;
        -- next month
        v_m := v_m + 1;
        v_d := 1;
        v_s0 := 0;
        IF v_m > 12 THEN
            v_m := 1;
            v_y := v_y + 1;
        END IF;
    END LOOP;
END;
$fn$;

COMMENT ON FUNCTION rota._cron_next_wall(rota._cron_spec, bigint, int) IS
    'Smallest selected wall-clock second >= the given one (seconds since 1970 of wall time), up to a year limit.';

-- The instant at Unix time s (whole seconds), exactly: to_timestamp(double) rounds far
-- from 1970, so whole hours are added as intervals (two halves, each fits an int).
CREATE OR REPLACE FUNCTION rota._cron_ts(s bigint)
RETURNS timestamptz
LANGUAGE sql STABLE STRICT PARALLEL SAFE
AS $fn$
    SELECT to_timestamp(s % 3600) + make_interval(hours => (s / 3600 / 2)::int)
                                  + make_interval(hours => (s / 3600 - s / 3600 / 2)::int)
$fn$;

-- The first second in (p_lo, p_hi] whose UTC offset in the session's zone is no longer
-- p_offset: the instant of a DST transition, found by bisection (p_lo has p_offset).
CREATE OR REPLACE FUNCTION rota._cron_transition(p_lo bigint, p_hi bigint, p_offset int)
RETURNS bigint
LANGUAGE plpgsql STABLE STRICT PARALLEL SAFE
AS $fn$
DECLARE
    v_mid bigint;
BEGIN
    WHILE p_hi - p_lo > 1 LOOP
        v_mid := (p_lo + p_hi) / 2;
        IF date_part('timezone', rota._cron_ts(v_mid))::int = p_offset THEN
            p_lo := v_mid;
        ELSE
            p_hi := v_mid;
        END IF;
    END LOOP;
    RETURN p_hi;
END;
$fn$;

-- Raises RO013 naming p_fn unless p_timezone is a zone of the contract (at the top of this
-- file): a name of pg_timezone_names, spelled as there, other than localtime, posixrules and
-- Factory. The same rule as the C extension's, step by step:
--   - letters, digits, "_", "+", "/", "-", starting with a letter (no offsets, no "..");
--   - the zone code loads it (SET TimeZone: no leap-second zone) and spells it exactly so
--     (pg_timezone_names has Europe/Berlin only);
--   - a name with a digit and no lower-case letter may be a POSIX-style spec (UTC+5,
--     FOO+167BAR-167) rather than a file: it must be in pg_timezone_names itself. Any other
--     name that loads comes from a file. Reading the view costs ~30 ms, so only those
--     names (EST5EDT, GMT0, ...: rare) pay it.
-- Its own SET clause undoes the trial setting.
CREATE OR REPLACE FUNCTION rota._check_timezone(p_fn text, p_timezone text)
RETURNS void
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
SET "TimeZone" = 'UTC'
AS $fn$
DECLARE
    v_known boolean := false;
BEGIN
    IF p_timezone ~ '^[A-Za-z][A-Za-z0-9_+/-]*$' AND p_timezone !~ '(^|/)(localtime|posixrules|Factory)$'
       -- what SET TimeZone would read as a number or an interval
       AND lower(p_timezone) NOT IN ('inf', 'infinity', 'nan') AND lower(p_timezone) NOT LIKE 'interval%' THEN
        BEGIN
            -- set_config answers with the zone's own spelling
            v_known := set_config('TimeZone', p_timezone, true) = p_timezone;
        EXCEPTION WHEN invalid_parameter_value THEN
            v_known := false;
        END;
        IF v_known AND p_timezone ~ '[0-9]' AND p_timezone !~ '[a-z]' THEN
            v_known := EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names z WHERE z.name = p_timezone);
        END IF;
    END IF;
    IF NOT v_known THEN
        RAISE EXCEPTION USING ERRCODE = 'RO013',
            MESSAGE = format('%s: unknown time zone "%s"', p_fn, rota._echo(p_timezone));
    END IF;
END;
$fn$;

-- The PL/pgSQL implementation of rota.cron_next (see the contract at the top of this file).
-- It switches TimeZone to the schedule's zone for its own duration (SET clause), so the
-- conversions use PostgreSQL's zone code exactly as the C version does.
CREATE OR REPLACE FUNCTION rota._cron_next_plpgsql(cron text, after timestamptz, timezone text DEFAULT 'UTC')
RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
AS $fn$
DECLARE
    v_spec rota._cron_spec := rota._cron_parse(cron, 'rota.cron_next');
BEGIN
    PERFORM rota._check_timezone('rota.cron_next', timezone);
    RETURN rota._cron_next_parsed(v_spec, after, timezone);
END;
$fn$;

COMMENT ON FUNCTION rota._cron_next_plpgsql(text, timestamptz, text) IS
    'PL/pgSQL implementation of rota.cron_next (kept callable for the differential test against rota.cron_next_c).';

-- The body of rota._cron_next_plpgsql for a parsed expression and a checked zone, so that
-- a search over many instants of one schedule (rota._cron_last_fire) parses and checks once.
CREATE OR REPLACE FUNCTION rota._cron_next_parsed(s rota._cron_spec, after timestamptz, timezone text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
SET "TimeZone" = 'UTC'
AS $fn$
DECLARE
    v_after_s     bigint;
    v_offset_now int;
    v_offset_before int;
    v_offset_after int;
    v_transition_s    bigint;
    v_wall_from    bigint;
    v_year_limit  int;
    v_wall_match     bigint;
    v_fire_s     bigint;
BEGIN
    PERFORM set_config('TimeZone', timezone, true);
    IF NOT isfinite(after) OR after < timestamptz '0001-01-02 00:00:00+00'
       OR after >= timestamptz '294276-01-01 00:00:00+00' THEN
        RETURN NULL;
    END IF;

    -- W(after) and the high-water mark of the wall clock: in the second pass of a
    -- repeated hour the clock has already shown later wall times.
    v_after_s := floor(extract(epoch FROM after))::bigint;
    v_offset_now := date_part('timezone', rota._cron_ts(v_after_s))::int;
    v_wall_from := v_after_s + v_offset_now + 1;
    v_offset_before := date_part('timezone', rota._cron_ts(v_after_s - 86400))::int;
    IF v_offset_before > v_offset_now THEN
        v_transition_s := rota._cron_transition(v_after_s - 86400, v_after_s, v_offset_before);
        v_wall_from := greatest(v_wall_from, v_transition_s + v_offset_before);
    END IF;
    v_year_limit := least(extract(year FROM rota._cron_ts(v_wall_from) AT TIME ZONE 'UTC')::int + 100, 294275);

    LOOP
        v_wall_match := rota._cron_next_wall(s, v_wall_from, v_year_limit);
        IF v_wall_match IS NULL THEN
            RETURN NULL;
        END IF;
        -- the first instant the wall clock reaches v_wall_match
        v_offset_before := date_part('timezone', rota._cron_ts(v_wall_match - 86400))::int;
        v_offset_after := date_part('timezone', rota._cron_ts(v_wall_match + 86400))::int;
        IF v_offset_before = v_offset_after THEN
            v_fire_s := v_wall_match - v_offset_before;
        ELSE
            v_transition_s := rota._cron_transition(v_wall_match - 86400, v_wall_match + 86400, v_offset_before);
            IF v_wall_match - v_offset_before < v_transition_s THEN
                v_fire_s := v_wall_match - v_offset_before;          -- exists before the transition (first pass)
            ELSIF v_wall_match - v_offset_after >= v_transition_s THEN
                v_fire_s := v_wall_match - v_offset_after;          -- exists after the transition only
            ELSE
                v_fire_s := v_transition_s;                   -- in the gap: the first instant after it
            END IF;
        END IF;
        IF rota._cron_ts(v_fire_s) > after THEN
            RETURN rota._cron_ts(v_fire_s);
        END IF;
        v_wall_from := v_wall_match + 1;
    END LOOP;
END;
$fn$;

-- cron_next for a search over many instants of one schedule: rota.cron_next_c when
-- p_in_c, else the PL/pgSQL code on the expression parsed and the zone checked once.
CREATE OR REPLACE FUNCTION rota._cron_next_either(p_in_c boolean, p_cron text, p_spec rota._cron_spec,
                                                  p_after timestamptz, p_timezone text)
RETURNS timestamptz
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
AS $fn$
BEGIN
    -- the C call is planned only when first executed, so this compiles without the extension
    IF p_in_c THEN
        RETURN rota.cron_next_c(p_cron, p_after, p_timezone);
    END IF;
    RETURN rota._cron_next_parsed(p_spec, p_after, p_timezone);
END;
$fn$;

-- The newest p_count of the instants {p_floor} and the fires after p_floor that are before
-- p_before (p_floor < p_before), oldest first: the due instants of a schedule whose next
-- fire was p_floor, without walking the ones in between. Each is found from the one after
-- it: gallop back from it (1 s, 2 s, 4 s, ...) to an instant before which cron_next lands
-- earlier, then bisect; so each costs O(log of the gap between two fires) cron_next calls,
-- whatever the length of the outage. Uses rota.cron_next_c when installed, else the PL/pgSQL
-- code with the expression parsed and the zone checked once (RO012, RO013).
CREATE OR REPLACE FUNCTION rota._cron_fires_before(p_cron text, p_timezone text, p_floor timestamptz,
                                                   p_before timestamptz, p_count integer)
RETURNS timestamptz[]
LANGUAGE plpgsql STABLE PARALLEL RESTRICTED
AS $fn$
DECLARE
    v_in_c boolean := to_regproc('rota.cron_next_c') IS NOT NULL;
    v_spec rota._cron_spec;
    v_fires timestamptz[] := ARRAY[]::timestamptz[];
    v_before timestamptz := p_before;
    v_step interval;
    v_lo timestamptz;   -- an instant of the set before v_before
    v_hi timestamptz;   -- cron_next(v_hi) >= v_before
    v_probe timestamptz;
    v_next timestamptz;
BEGIN
    IF NOT v_in_c THEN
        v_spec := rota._cron_parse(p_cron, 'rota.cron_next');
        PERFORM rota._check_timezone('rota.cron_next', p_timezone);
    END IF;
    WHILE cardinality(v_fires) < p_count AND v_before > p_floor LOOP
        -- gallop back
        v_hi := v_before;
        v_step := interval '1 second';
        LOOP
            v_probe := v_before - v_step;
            IF v_probe <= p_floor THEN
                v_lo := p_floor;
                EXIT;
            END IF;
            v_next := rota._cron_next_either(v_in_c, p_cron, v_spec, v_probe, p_timezone);
            IF v_next < v_before THEN
                v_lo := v_next;
                EXIT;
            END IF;
            v_hi := v_probe;
            v_step := v_step * 2;
        END LOOP;
        -- bisect: move v_lo to the newest fire before v_before
        LOOP
            v_next := rota._cron_next_either(v_in_c, p_cron, v_spec, v_lo, p_timezone);
            EXIT WHEN v_next IS NULL OR v_next >= v_before;
            v_lo := v_next;
            v_probe := v_lo + (v_hi - v_lo) / 2;
            v_next := rota._cron_next_either(v_in_c, p_cron, v_spec, v_probe, p_timezone);
            IF v_next < v_before THEN
                v_lo := v_next;
            ELSE
                v_hi := v_probe;
            END IF;
        END LOOP;
        v_fires := v_lo || v_fires;
        v_before := v_lo;
    END LOOP;
    RETURN v_fires;
END;
$fn$;

-- The next fire of a cron expression strictly after an instant, in a time zone (RO012, RO013).
-- Uses rota.cron_next_c from the optional C extension rota_cron when it is installed.
CREATE OR REPLACE FUNCTION rota.cron_next(cron text, after timestamptz, timezone text DEFAULT 'UTC')
RETURNS timestamptz
LANGUAGE plpgsql STABLE STRICT PARALLEL RESTRICTED
AS $fn$
BEGIN
    IF to_regproc('rota.cron_next_c') IS NOT NULL THEN
        RETURN rota.cron_next_c(cron, after, timezone);
    END IF;
    RETURN rota._cron_next_plpgsql(cron, after, timezone);
END;
$fn$;

COMMENT ON FUNCTION rota.cron_next(text, timestamptz, text) IS
    'Smallest instant strictly after `after` matching the cron expression in the time zone (NULL when out of range); uses the C extension rota_cron when installed.';

$code$);
