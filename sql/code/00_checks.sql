SELECT rota._apply_code('checks', $code$

-- A value as error messages echo it: itself when at most p_max_bytes long, else its first
-- 64 characters and "..." (the rule of the C extension's messages too), so no message
-- grows with its input.
CREATE OR REPLACE FUNCTION rota._echo(p_value text, p_max_bytes integer DEFAULT 64)
RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT CASE WHEN octet_length(p_value) <= p_max_bytes THEN p_value ELSE left(p_value, 64) || '...' END;
$fn$;

-- Raises the invalid-argument error in the one format every function uses; the value is
-- echoed by rota._echo.
CREATE OR REPLACE FUNCTION rota._invalid(p_fn text, p_arg text, p_problem text, p_value text)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    RAISE EXCEPTION '%: % % (got %)', p_fn, p_arg, p_problem, coalesce(rota._echo(p_value), 'NULL')
        USING ERRCODE = 'RO010';
END;
$fn$;

-- Raises RO010 unless an interval is at most p_max (a NULL passes: callers check NULLs
-- where they are not allowed), so that adding it to a timestamp cannot overflow.
CREATE OR REPLACE FUNCTION rota._check_at_most(p_fn text, p_arg text, p_value interval, p_max interval)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $fn$
BEGIN
    IF p_value > p_max THEN
        PERFORM rota._invalid(p_fn, p_arg, 'must be at most ' || p_max, p_value::text);
    END IF;
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

-- Whether p_value matches rota._name_pattern(), tested as `*` plus a length: PostgreSQL's
-- regex engine matches the pattern's bounded repetition {0,127} ~12 times slower. The
-- *_format CHECK constraints spell it the same way (migration 0019).
CREATE OR REPLACE FUNCTION rota._is_name(p_value text)
RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $fn$
    SELECT p_value ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$' AND char_length(p_value) <= 128;
$fn$;

-- Raises RO010 unless p_value is a name (rota._name_pattern).
CREATE OR REPLACE FUNCTION rota._check_name(p_fn text, p_arg text, p_value text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
    IF p_value IS NULL OR NOT rota._is_name(p_value) THEN
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

-- Raises RO010 unless a key has a valid length (rota._is_key_length).
CREATE OR REPLACE FUNCTION rota._check_key_length(p_fn text, p_arg text, p_value text)
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
    IF NOT rota._is_key_length(p_value) THEN
        PERFORM rota._invalid(p_fn, p_arg, 'must be 1 to 512 characters', quote_literal(p_value));
    END IF;
END;
$fn$;

-- JSON documents over 1 MiB are rejected of text. The binary size bounds the text size
-- (at most 6 text bytes per stored byte, for \u escapes), so small documents are never
-- rendered to text.
CREATE OR REPLACE FUNCTION rota._is_oversized(p_value jsonb)
RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE
AS $fn$
    SELECT pg_column_size(p_value) * 6 > 1048576 AND octet_length(p_value::text) > 1048576;
$fn$;

-- Raises RO011 when one JSON document is over 1 MiB (rota._is_oversized).
CREATE OR REPLACE FUNCTION rota._check_size(p_fn text, p_arg text, p_value jsonb)
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
BEGIN
    IF rota._is_oversized(p_value) THEN
        RAISE EXCEPTION '%: % is larger than 1 MiB (got % bytes)', p_fn, p_arg, octet_length(p_value::text)
            USING ERRCODE = 'RO011';
    END IF;
END;
$fn$;

-- Raises RO011 for the first document over 1 MiB of a batch, in one set-based pass (so big
-- batches do not pay a function call per element), naming it p_arg[i], or p_single_arg
-- when the caller took a single document.
CREATE OR REPLACE FUNCTION rota._check_sizes(p_fn text, p_arg text, p_values jsonb[], p_single_arg text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_oversized integer;
BEGIN
    SELECT u.ord INTO v_oversized FROM unnest(p_values) WITH ORDINALITY AS u(value, ord)
    WHERE rota._is_oversized(u.value)
    ORDER BY u.ord LIMIT 1;
    IF FOUND THEN
        PERFORM rota._check_size(p_fn, coalesce(p_single_arg, p_arg || '[' || v_oversized || ']'), p_values[v_oversized]);
    END IF;
END;
$fn$;

-- Raises RO010 unless an array argument that goes with another one has as many elements
-- (p_expected, the length of p_other); a NULL length (argument not given) passes.
CREATE OR REPLACE FUNCTION rota._check_same_length(p_fn text, p_arg text, p_length integer, p_other text,
                                                   p_expected integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $fn$
BEGIN
    IF p_length <> p_expected THEN
        PERFORM rota._invalid(p_fn, p_arg, 'must have as many elements as ' || p_other || ' (' || p_expected || ')',
            p_length::text);
    END IF;
END;
$fn$;

-- Raises "<fn>: unknown <what> '<value>'" with its SQLSTATE (RO001 queue, RO004 executor);
-- p_more is appended to the message.
CREATE OR REPLACE FUNCTION rota._raise_unknown(p_fn text, p_what text, p_value text, p_errcode text,
                                               p_more text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $fn$
BEGIN
    RAISE EXCEPTION USING ERRCODE = p_errcode,
        MESSAGE = format('%s: unknown %s %s%s', p_fn, p_what, coalesce(quote_literal(rota._echo(p_value)), 'NULL'), ' ' || p_more);
END;
$fn$;

-- Raises RO002 "<fn>: unknown task id <id>" (NULL as NULL), the one text of every function
-- given a task id that does not exist or that the session may not see; p_more is appended.
CREATE OR REPLACE FUNCTION rota._raise_unknown_task(p_fn text, p_id bigint, p_more text DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
BEGIN
    RAISE EXCEPTION USING ERRCODE = 'RO002',
        MESSAGE = format('%s: unknown task id %s%s', p_fn, coalesce(p_id::text, 'NULL'), ' ' || p_more);
END;
$fn$;

-- Raises RO010 unless a batch gives the lease token of each of its p_count tasks.
CREATE OR REPLACE FUNCTION rota._check_tokens(p_fn text, p_tokens uuid[], p_count integer)
RETURNS void
LANGUAGE plpgsql IMMUTABLE
AS $fn$
BEGIN
    IF p_tokens IS NULL THEN
        PERFORM rota._invalid(p_fn, 'tokens', 'is required (the lease_token rota.claim returned for each task)', NULL);
    END IF;
    PERFORM rota._check_same_length(p_fn, 'tokens', cardinality(p_tokens), 'ids', p_count);
END;
$fn$;

-- Raises, for the first (id, attempt, token) triple that is not a stale claim: RO002 (no
-- such task), RO021 (an attempt that never existed), RO010 (no token) or RO022 (the
-- current attempt of a running task with another token). A stale attempt passes (fenced
-- off, not an error). Used only after a fenced write missed, off the success path.
DROP FUNCTION IF EXISTS rota._check_attempts(text, bigint[], integer[]);
CREATE OR REPLACE FUNCTION rota._check_attempts(p_fn text, p_ids bigint[], p_attempts integer[], p_tokens uuid[])
RETURNS void
LANGUAGE plpgsql STABLE
AS $fn$
DECLARE
    v_task_id bigint;
    v_attempt integer;
    v_token uuid;
    v_attempts_so_far integer;
    v_task_exists boolean;
BEGIN
    FOR v_task_id, v_attempt, v_token, v_attempts_so_far, v_task_exists IN
        SELECT i.id, i.attempt, i.token, t.attempts, t.id IS NOT NULL
        FROM unnest(p_ids, p_attempts, p_tokens) WITH ORDINALITY AS i(id, attempt, token, ord)
        LEFT JOIN rota.tasks t ON t.id = i.id
        WHERE t.id IS NULL OR i.attempt IS NULL OR i.attempt < 1 OR i.attempt > t.attempts OR i.token IS NULL
           OR (i.attempt = t.attempts AND t.lease_token <> i.token)
        ORDER BY i.ord
        LIMIT 1
    LOOP
        IF NOT v_task_exists THEN
            PERFORM rota._raise_unknown_task(p_fn, v_task_id);
        END IF;
        IF v_attempt IS NULL OR v_attempt < 1 OR v_attempt > v_attempts_so_far THEN
            RAISE EXCEPTION '%: attempt % of task % was never claimed (it has % attempts)',
                p_fn, coalesce(v_attempt::text, 'NULL'), v_task_id, v_attempts_so_far
                USING ERRCODE = 'RO021';
        END IF;
        IF v_token IS NULL THEN
            PERFORM rota._invalid(p_fn, 'token', 'is required (the lease_token rota.claim returned) for task ' || v_task_id,
                                  NULL);
        END IF;
        RAISE EXCEPTION '%: wrong lease token for attempt % of task % (nothing was written)', p_fn, v_attempt, v_task_id
            USING ERRCODE = 'RO022',
                  HINT = 'Only the claim that started this attempt may finish, renew or checkpoint it: pass the lease_token rota.claim returned.';
    END LOOP;
END;
$fn$;

$code$);
