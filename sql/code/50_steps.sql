SELECT rota._apply_code('steps', $code$

-- The recorded output of a step of a task, or NULL when it has not run yet.
DROP FUNCTION IF EXISTS rota.step(bigint, integer, text);
CREATE OR REPLACE FUNCTION rota.step(id bigint, attempt integer, name text, token uuid DEFAULT NULL)
RETURNS jsonb
LANGUAGE plpgsql STABLE
AS $fn$
#variable_conflict use_column
DECLARE
    v_output jsonb;
BEGIN
    PERFORM rota._check_name('rota.step', 'name', step.name);
    PERFORM rota._check_attempts('rota.step', ARRAY[step.id], ARRAY[step.attempt], ARRAY[step.token]);
    SELECT s.output INTO v_output FROM rota.task_steps s WHERE s.task_id = step.id AND s.name = step.name;
    RETURN v_output;
END;
$fn$;
COMMENT ON FUNCTION rota.step(bigint, integer, text, uuid) IS 'Output recorded for a step of a task by an earlier attempt (or this one), NULL if none.';

-- Records a step's output under the current attempt; false (nothing written) when fenced off.
DROP FUNCTION IF EXISTS rota.record_step(bigint, integer, text, jsonb);
CREATE OR REPLACE FUNCTION rota.record_step(id bigint, attempt integer, name text, output jsonb, token uuid DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM rota._check_name('rota.record_step', 'name', record_step.name);
    PERFORM rota._check_size('rota.record_step', 'output', record_step.output);
    -- FOR SHARE conflicts with the UPDATE of a reap, stop or cancel, so the step lands
    -- only while this attempt still owns the task and nobody asked to cancel it (inside a
    -- transactional step, the handler's writes then roll back with it).
    PERFORM 1 FROM rota.tasks t
    WHERE t.id = record_step.id AND t.attempts = record_step.attempt AND t.lease_token = record_step.token
      AND t.lease_expires_at IS NOT NULL AND NOT t.cancel_requested
    FOR SHARE;
    IF NOT FOUND THEN
        PERFORM rota._check_attempts('rota.record_step', ARRAY[record_step.id], ARRAY[record_step.attempt],
                                     ARRAY[record_step.token]);
        RETURN false;
    END IF;
    INSERT INTO rota.task_steps AS s (task_id, name, output, attempt)
    VALUES (record_step.id, record_step.name, record_step.output, record_step.attempt)
    ON CONFLICT (task_id, name) DO UPDATE
    SET output = EXCLUDED.output, attempt = EXCLUDED.attempt, recorded_at = now();
    RETURN true;
END;
$fn$;
COMMENT ON FUNCTION rota.record_step(bigint, integer, text, jsonb, uuid)
    IS 'Records a step checkpoint of a running task under its current attempt and lease token; false (nothing written) when the attempt is stale or the task is being cancelled.';

-- Every step recorded for a task so far (name and output), so that an attempt loads its
-- checkpoints in one round trip instead of one rota.step call per step.
CREATE OR REPLACE FUNCTION rota.steps(id bigint, attempt integer, token uuid)
RETURNS TABLE(name text, output jsonb)
LANGUAGE plpgsql STABLE
AS $fn$
#variable_conflict use_column
BEGIN
    PERFORM rota._check_attempts('rota.steps', ARRAY[steps.id], ARRAY[steps.attempt], ARRAY[steps.token]);
    RETURN QUERY SELECT s.name, s.output FROM rota.task_steps s WHERE s.task_id = steps.id ORDER BY s.recorded_at, s.name;
END;
$fn$;
COMMENT ON FUNCTION rota.steps(bigint, integer, uuid)
    IS 'Every step output recorded for a task so far (name, output), for an attempt that resumes it.';

$code$);
