SELECT rota._apply_code('apply', $code$

-- Raises RO040 about a definitions document, naming where in it the problem is.
CREATE OR REPLACE FUNCTION rota._reject_definitions(p_where text, p_problem text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $fn$
BEGIN
    RAISE EXCEPTION 'rota.apply: %: %', p_where, p_problem USING ERRCODE = 'RO040';
END;
$fn$;

-- The keys a definitions object may hold, so a typo is an error instead of a silent default.
CREATE OR REPLACE FUNCTION rota._check_definition_keys(p_where text, p_object jsonb, p_allowed text[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $fn$
DECLARE
    v_key text;
BEGIN
    IF jsonb_typeof(p_object) IS DISTINCT FROM 'object' THEN
        PERFORM rota._reject_definitions(p_where, 'must be a JSON object (got ' || coalesce(p_object::text, 'null') || ')');
    END IF;
    FOR v_key IN SELECT jsonb_object_keys(p_object) LOOP
        IF NOT v_key = ANY (p_allowed) THEN
            PERFORM rota._reject_definitions(p_where, format('unknown key "%s" (allowed: %s)', v_key, array_to_string(p_allowed, ', ')));
        END IF;
    END LOOP;
END;
$fn$;

-- Calls a define function (rota.define_queue, rota.define_schedule) with the keys of a
-- definition as named arguments. Optional keys that are absent or null are left out, so
-- the function's own parameter defaults apply: those are the one place defaults live.
-- Required keys are always passed (NULL when absent), so the function names them in its
-- error. p_json: keys whose parameter is jsonb (passed as JSON; the others as text).
CREATE OR REPLACE FUNCTION rota._call_define(p_function text, p_definition jsonb, p_required text[],
                                             p_optional text[], p_json text[] DEFAULT '{}')
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_arguments text;
BEGIN
    SELECT string_agg(format('%I => %L', a.name,
                             CASE WHEN a.name = ANY (p_json) THEN (p_definition -> a.name)::text
                                  ELSE p_definition ->> a.name END), ', ' ORDER BY a.position)
    INTO v_arguments
    FROM unnest(p_required || p_optional) WITH ORDINALITY AS a(name, position)
    WHERE a.name = ANY (p_required) OR jsonb_typeof(p_definition -> a.name) <> 'null';
    EXECUTE format('SELECT %s(%s)', p_function, v_arguments);
END;
$fn$;

-- Applies a definitions document of queues and schedules; older versions change nothing.
CREATE OR REPLACE FUNCTION rota.apply(definitions jsonb)
RETURNS jsonb
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_version bigint;
    v_checksum text;
    v_current rota.definitions;
    v_item jsonb;
    v_index integer;
    v_where text;
    v_schedule_names text[] := ARRAY[]::text[];
    v_queue_names text[] := ARRAY[]::text[];
    v_disabled text[];
BEGIN
    PERFORM rota._check_definition_keys('document', definitions, ARRAY['version', 'queues', 'schedules']);
    IF jsonb_typeof(definitions -> 'version') IS DISTINCT FROM 'number'
       OR (definitions ->> 'version')::numeric <> trunc((definitions ->> 'version')::numeric)
       OR (definitions ->> 'version')::numeric < 1 THEN
        PERFORM rota._reject_definitions('version', 'must be a whole number >= 1 (got '
            || coalesce((definitions -> 'version')::text, 'nothing') || ')');
    END IF;
    v_version := (definitions ->> 'version')::bigint;
    FOREACH v_where IN ARRAY ARRAY['queues', 'schedules'] LOOP
        IF definitions ? v_where AND jsonb_typeof(definitions -> v_where) <> 'array' THEN
            PERFORM rota._reject_definitions(v_where, 'must be an array');
        END IF;
    END LOOP;
    v_checksum := md5(definitions::text);

    -- serialises concurrent applies of every replica; the row lock alone cannot cover the first insert
    PERFORM pg_advisory_xact_lock(hashtext('rota.apply'));
    SELECT * INTO v_current FROM rota.definitions;
    IF FOUND THEN
        IF v_version < v_current.version THEN
            RETURN jsonb_build_object('status', 'stale', 'version', v_version, 'current_version', v_current.version);
        ELSIF v_version = v_current.version THEN
            IF v_checksum <> v_current.checksum THEN
                PERFORM rota._reject_definitions('version',
                    format('version %s was already applied with different content; give changed definitions a higher version', v_version));
            END IF;
            RETURN jsonb_build_object('status', 'unchanged', 'version', v_version);
        END IF;
    END IF;

    BEGIN
        v_index := 0;
        FOR v_item IN SELECT jsonb_array_elements(coalesce(definitions -> 'queues', '[]')) LOOP
            v_where := format('queues[%s]', v_index);
            PERFORM rota._check_definition_keys(v_where, v_item, ARRAY['name', 'concurrency', 'rate_limit',
                'rate_period', 'max_attempts', 'lease', 'concurrency_key_limit', 'backoff_base', 'backoff_max',
                'retention', 'paused', 'alert_stuck_after', 'alert_failures_per_minute', 'alert_failure_ratio',
                'alert_failure_window', 'alert_dead_per_hour', 'alert_unreaped_after']);
            IF (v_item ->> 'name') = ANY (v_queue_names) THEN
                PERFORM rota._reject_definitions(v_where, format('queue "%s" is defined twice', v_item ->> 'name'));
            END IF;
            v_queue_names := v_queue_names || (v_item ->> 'name');
            PERFORM rota._call_define('rota.define_queue', v_item, ARRAY['name'],
                ARRAY['concurrency', 'rate_limit', 'rate_period', 'max_attempts', 'lease', 'concurrency_key_limit',
                      'backoff_base', 'backoff_max', 'retention', 'alert_stuck_after', 'alert_failures_per_minute',
                      'alert_failure_ratio', 'alert_failure_window', 'alert_dead_per_hour', 'alert_unreaped_after']);
            IF (v_item ->> 'paused')::boolean THEN
                PERFORM rota.pause_queue(v_item ->> 'name');
            ELSIF v_item ? 'paused' THEN
                PERFORM rota.resume_queue(v_item ->> 'name');
            END IF;
            v_index := v_index + 1;
        END LOOP;

        v_index := 0;
        FOR v_item IN SELECT jsonb_array_elements(coalesce(definitions -> 'schedules', '[]')) LOOP
            v_where := format('schedules[%s]', v_index);
            PERFORM rota._check_definition_keys(v_where, v_item, ARRAY['name', 'cron', 'queue', 'task', 'payload',
                'timezone', 'catch_up', 'catch_up_max', 'enabled', 'alert_late_after']);
            IF (v_item ->> 'name') = ANY (v_schedule_names) THEN
                PERFORM rota._reject_definitions(v_where, format('schedule "%s" is defined twice', v_item ->> 'name'));
            END IF;
            v_schedule_names := v_schedule_names || (v_item ->> 'name');
            PERFORM rota._call_define('rota.define_schedule', v_item, ARRAY['name', 'cron', 'queue', 'task'],
                ARRAY['payload', 'timezone', 'catch_up', 'enabled', 'catch_up_max', 'alert_late_after'], ARRAY['payload']);
            UPDATE rota.schedules SET managed = true WHERE name = v_item ->> 'name' AND NOT managed;
            v_index := v_index + 1;
        END LOOP;
    EXCEPTION WHEN data_exception THEN
        -- a value of the wrong type ("concurrency": "many"): say where it is
        PERFORM rota._reject_definitions(v_where, SQLERRM);
    END;

    -- schedules this document no longer names stop firing; their history stays
    WITH disabled AS (
        UPDATE rota.schedules s SET enabled = false, updated_at = now()
        WHERE s.managed AND s.enabled AND NOT (s.name = ANY (v_schedule_names))
        RETURNING s.name
    )
    SELECT coalesce(array_agg(name ORDER BY name), ARRAY[]::text[]) INTO v_disabled FROM disabled;
    IF cardinality(v_disabled) > 0 THEN
        PERFORM pg_notify('rota_schedules', '');
    END IF;

    INSERT INTO rota.definitions (singleton, version, checksum, document)
    VALUES (true, v_version, v_checksum, definitions)
    ON CONFLICT (singleton) DO UPDATE
        SET version = EXCLUDED.version, checksum = EXCLUDED.checksum, document = EXCLUDED.document,
            applied_at = now();

    RETURN jsonb_build_object('status', 'applied', 'version', v_version,
        'previous_version', v_current.version,
        'queues', to_jsonb(v_queue_names), 'schedules', to_jsonb(v_schedule_names),
        'disabled_schedules', to_jsonb(v_disabled));
END;
$fn$;
COMMENT ON FUNCTION rota.apply(jsonb) IS
    'Applies {"version": n, "queues": [...], "schedules": [...]} idempotently; a version older than the applied one changes nothing, and managed schedules it omits are disabled.';

$code$);
