SELECT rota._apply_code('complete_in_transaction', $code$

-- Completes a running task inside the caller's open transaction (the handler's writes
-- commit with it or not at all); false (nothing written) when fenced off or cancelling.
CREATE OR REPLACE FUNCTION rota.complete_in_transaction(id bigint, attempt integer, result jsonb DEFAULT NULL,
                                                        token uuid DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $fn$
#variable_conflict use_column
DECLARE
    c_fn constant text := 'rota.complete_in_transaction';
    v_cancel_requested boolean;
BEGIN
    IF complete_in_transaction.result IS NOT NULL THEN
        PERFORM rota._check_size(c_fn, 'result', complete_in_transaction.result);
    END IF;
    -- rota.complete would end a task whose cancel was requested as cancelled, committing
    -- the caller's writes with it; here a requested cancel refuses instead, so they roll
    -- back (as a transactional step's do) and the attempt's failure ends the task
    -- cancelled. The row stays locked until the caller's commit, so no cancel lands between
    -- this check and the completion.
    SELECT t.cancel_requested INTO v_cancel_requested
    FROM rota.tasks t WHERE t.id = complete_in_transaction.id
    FOR UPDATE;
    IF v_cancel_requested THEN
        PERFORM rota._check_attempts(c_fn, ARRAY[complete_in_transaction.id], ARRAY[complete_in_transaction.attempt],
                                     ARRAY[complete_in_transaction.token]);
        RETURN false;
    END IF;
    RETURN EXISTS (SELECT 1 FROM rota._complete(c_fn, ARRAY[complete_in_transaction.id],
                                                ARRAY[complete_in_transaction.attempt],
                                                ARRAY[complete_in_transaction.result],
                                                ARRAY[complete_in_transaction.token]));
END;
$fn$;
COMMENT ON FUNCTION rota.complete_in_transaction(bigint, integer, jsonb, uuid)
    IS 'Completes a running task inside the caller''s transaction, under its current attempt and lease token; false (nothing written, roll back) when that attempt is stale or a cancel of the task was requested.';

$code$);
