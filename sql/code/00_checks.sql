SELECT rota._apply_code('checks', $code$

-- Raises the invalid-argument error in the one format every function uses.
CREATE OR REPLACE FUNCTION rota._invalid(p_fn text, p_arg text, p_problem text, p_value text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    RAISE EXCEPTION '%: % % (got %)', p_fn, p_arg, p_problem, coalesce(p_value, 'NULL')
        USING ERRCODE = 'RO010';
END;
$fn$;

-- Names of queues, tasks, executors, steps and schedules share one pattern so they are
-- safe in keys, NOTIFY payloads and logs. (The tables' *_format CHECK constraints repeat
-- it as the last line of defence.)
CREATE OR REPLACE FUNCTION rota._name_pattern()
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$';
$fn$;

-- Raises RO010 unless p_value is a name (rota._name_pattern).
CREATE OR REPLACE FUNCTION rota._check_name(p_fn text, p_arg text, p_value text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
    IF p_value IS NULL OR p_value !~ rota._name_pattern() THEN
        PERFORM rota._invalid(p_fn, p_arg, 'must match ' || rota._name_pattern(), quote_nullable(p_value));
    END IF;
END;
$fn$;

-- Keys (idempotency and concurrency keys) are 1 to 512 characters long (NULL: no key).
CREATE OR REPLACE FUNCTION rota._is_key_length(p_value text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT char_length(p_value) BETWEEN 1 AND 512;
$fn$;

-- Raises RO010 unless a key has a valid length (rota._is_key_length); the message shows
-- its first 40 characters only.
CREATE OR REPLACE FUNCTION rota._check_key_length(p_fn text, p_arg text, p_value text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
    IF NOT rota._is_key_length(p_value) THEN
        PERFORM rota._invalid(p_fn, p_arg, 'must be 1 to 512 characters', quote_literal(left(p_value, 40)));
    END IF;
END;
$fn$;

-- Rejects JSON documents over 1 MiB of text. The binary size bounds the text size
-- (at most 6 text bytes per stored byte, for \u escapes), so small documents are never
-- rendered to text.
CREATE OR REPLACE FUNCTION rota._check_size(p_fn text, p_arg text, p_value jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_bytes bigint;
BEGIN
    IF p_value IS NOT NULL AND pg_column_size(p_value) * 6 > 1048576 THEN
        v_bytes := octet_length(p_value::text);
        IF v_bytes > 1048576 THEN
            RAISE EXCEPTION '%: % is larger than 1 MiB (got % bytes)', p_fn, p_arg, v_bytes
                USING ERRCODE = 'RO011';
        END IF;
    END IF;
END;
$fn$;

-- Raises RO002/RO021 for the first (id, attempt) pair that names no task or an attempt
-- that never existed; used only after a fenced write missed, off the success path.
CREATE OR REPLACE FUNCTION rota._check_attempts(p_fn text, p_ids bigint[], p_attempts integer[])
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_task_id bigint;
    v_attempt integer;
    v_attempts_so_far integer;
    v_task_exists boolean;
BEGIN
    FOR v_task_id, v_attempt, v_attempts_so_far, v_task_exists IN
        SELECT i.id, i.attempt, t.attempts, t.id IS NOT NULL
        FROM unnest(p_ids, p_attempts) AS i(id, attempt)
        LEFT JOIN rota.tasks t ON t.id = i.id
        WHERE t.id IS NULL OR i.attempt IS NULL OR i.attempt < 1 OR i.attempt > t.attempts
        LIMIT 1
    LOOP
        IF NOT v_task_exists THEN
            RAISE EXCEPTION '%: unknown task id %', p_fn, coalesce(v_task_id::text, 'NULL')
                USING ERRCODE = 'RO002';
        END IF;
        RAISE EXCEPTION '%: attempt % of task % was never claimed (it has % attempts)',
            p_fn, coalesce(v_attempt::text, 'NULL'), v_task_id, v_attempts_so_far
            USING ERRCODE = 'RO021';
    END LOOP;
END;
$fn$;

$code$);
