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

DROP FUNCTION IF EXISTS rota._check_definition_keys(text, jsonb, text[]);

-- The keys a definitions object may hold and the JSON type of each (p_types: key -> type;
-- null is always allowed and means "not given"), so a typo or a "yes" for a boolean is an
-- error instead of a silent default or a conversion. Values are never echoed, only types.
CREATE OR REPLACE FUNCTION rota._check_definition_keys(p_where text, p_object jsonb, p_types jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $fn$
DECLARE
    v_key text;
    v_value jsonb;
BEGIN
    IF jsonb_typeof(p_object) IS DISTINCT FROM 'object' THEN
        PERFORM rota._reject_definitions(p_where, 'must be a JSON object (got ' || coalesce(jsonb_typeof(p_object), 'nothing') || ')');
    END IF;
    FOR v_key, v_value IN SELECT o.key, o.value FROM jsonb_each(p_object) AS o LOOP
        IF NOT p_types ? v_key THEN
            PERFORM rota._reject_definitions(p_where, format('unknown key "%s" (allowed: %s)', rota._echo(v_key),
                (SELECT string_agg(k, ', ' ORDER BY k) FROM jsonb_object_keys(p_types) AS k)));
        END IF;
        IF jsonb_typeof(v_value) NOT IN ('null', p_types ->> v_key) THEN
            PERFORM rota._reject_definitions(p_where, format('"%s" must be a JSON %s (got %s)', v_key, p_types ->> v_key,
                                                             jsonb_typeof(v_value)));
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
    -- a version is a positive int4, so no document can be "newer" than every later one by accident
    c_max_version CONSTANT integer := 2147483647;
    -- definitions per document
    c_max_items CONSTANT integer := 1000;
    v_version integer;
    v_checksum text;
    v_current rota.definitions;
    v_item jsonb;
    v_index integer;
    v_where text;
    v_schedule_names text[] := ARRAY[]::text[];
    v_queue_names text[] := ARRAY[]::text[];
    v_disabled text[];
    v_lists jsonb;
BEGIN
    PERFORM rota._check_size('rota.apply', 'definitions', definitions);
    PERFORM rota._check_definition_keys('document', definitions,
        '{"version": "number", "queues": "array", "schedules": "array"}');
    IF jsonb_typeof(definitions -> 'version') IS DISTINCT FROM 'number'
       OR (definitions -> 'version')::numeric NOT BETWEEN 1 AND c_max_version
       OR (definitions -> 'version')::numeric <> trunc((definitions -> 'version')::numeric) THEN
        PERFORM rota._reject_definitions('version', 'must be a whole number between 1 and ' || c_max_version || ' (got '
            || coalesce(rota._echo((definitions -> 'version')::text), 'nothing') || ')');
    END IF;
    v_version := (definitions -> 'version')::numeric;
    -- the two lists, [] when not given (or null)
    v_lists := jsonb_build_object(
        'queues', CASE WHEN jsonb_typeof(definitions -> 'queues') = 'array' THEN definitions -> 'queues' ELSE '[]' END,
        'schedules', CASE WHEN jsonb_typeof(definitions -> 'schedules') = 'array' THEN definitions -> 'schedules' ELSE '[]' END);
    FOREACH v_where IN ARRAY ARRAY['queues', 'schedules'] LOOP
        IF jsonb_array_length(v_lists -> v_where) > c_max_items THEN
            PERFORM rota._reject_definitions(v_where, format('must have at most %s entries (got %s)', c_max_items,
                                                             jsonb_array_length(v_lists -> v_where)));
        END IF;
    END LOOP;
    v_checksum := md5(definitions::text);

    -- serialises concurrent applies of every replica (the row lock alone cannot cover the
    -- first insert) on a lock that only roles allowed to write the definitions can take:
    -- an advisory lock could be held forever by any role that can connect
    LOCK TABLE rota.definitions IN SHARE ROW EXCLUSIVE MODE;
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
        FOR v_item IN SELECT jsonb_array_elements(v_lists -> 'queues') LOOP
            v_where := format('queues[%s]', v_index);
            PERFORM rota._check_definition_keys(v_where, v_item, '{"name": "string", "concurrency": "number",
                "rate_limit": "number", "rate_period": "string", "max_attempts": "number", "lease": "string",
                "concurrency_key_limit": "number", "backoff_base": "string", "backoff_max": "string",
                "retention": "string", "paused": "boolean", "alert_stuck_after": "string",
                "alert_failures_per_minute": "number", "alert_failure_ratio": "number", "alert_failure_window": "string",
                "alert_dead_per_hour": "number", "alert_unreaped_after": "string"}');
            IF (v_item ->> 'name') = ANY (v_queue_names) THEN
                PERFORM rota._reject_definitions(v_where, format('queue "%s" is defined twice', rota._echo(v_item ->> 'name')));
            END IF;
            v_queue_names := v_queue_names || (v_item ->> 'name');
            PERFORM rota._call_define('rota.define_queue', v_item, ARRAY['name'],
                ARRAY['concurrency', 'rate_limit', 'rate_period', 'max_attempts', 'lease', 'concurrency_key_limit',
                      'backoff_base', 'backoff_max', 'retention', 'alert_stuck_after', 'alert_failures_per_minute',
                      'alert_failure_ratio', 'alert_failure_window', 'alert_dead_per_hour', 'alert_unreaped_after']);
            IF (v_item ->> 'paused')::boolean THEN
                PERFORM rota.pause_queue(v_item ->> 'name');
            ELSIF jsonb_typeof(v_item -> 'paused') = 'boolean' THEN
                PERFORM rota.resume_queue(v_item ->> 'name');
            END IF;
            v_index := v_index + 1;
        END LOOP;

        v_index := 0;
        FOR v_item IN SELECT jsonb_array_elements(v_lists -> 'schedules') LOOP
            v_where := format('schedules[%s]', v_index);
            PERFORM rota._check_definition_keys(v_where, v_item, '{"name": "string", "cron": "string",
                "queue": "string", "task": "string", "payload": "object", "timezone": "string",
                "catch_up": "string", "catch_up_max": "number", "enabled": "boolean", "alert_late_after": "string"}');
            IF (v_item ->> 'name') = ANY (v_schedule_names) THEN
                PERFORM rota._reject_definitions(v_where, format('schedule "%s" is defined twice', rota._echo(v_item ->> 'name')));
            END IF;
            v_schedule_names := v_schedule_names || (v_item ->> 'name');
            PERFORM rota._call_define('rota.define_schedule', v_item, ARRAY['name', 'cron', 'queue', 'task'],
                ARRAY['payload', 'timezone', 'catch_up', 'enabled', 'catch_up_max', 'alert_late_after'], ARRAY['payload']);
            UPDATE rota.schedules SET managed = true WHERE name = v_item ->> 'name' AND NOT managed;
            v_index := v_index + 1;
        END LOOP;
    EXCEPTION WHEN OTHERS THEN
        -- a definition the define functions reject (RO0xx) or a value of the wrong type
        -- ("concurrency": "many", class 22): RO040 naming where it is; anything else as it is
        IF (SQLSTATE LIKE 'RO%' OR SQLSTATE LIKE '22%') AND SQLSTATE <> 'RO040' THEN
            PERFORM rota._reject_definitions(v_where, rota._echo(SQLERRM, 512));
        END IF;
        RAISE;
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
