-- rota_cron 1.0: the C implementation of rota.cron_next.
\echo Use "CREATE EXTENSION rota_cron" to load this file. \quit

-- Smallest instant strictly after `after` matching the cron expression in the time zone
-- (same contract, answers and errors as rota._cron_next_plpgsql; see sql/migrations/0002_cron.sql).
CREATE FUNCTION @extschema@.cron_next_c(cron text, after timestamptz, timezone text DEFAULT 'UTC')
RETURNS timestamptz
AS 'MODULE_PATHNAME', 'rota_cron_next'
LANGUAGE C STABLE STRICT PARALLEL SAFE;

COMMENT ON FUNCTION @extschema@.cron_next_c(text, timestamptz, text) IS
    'C implementation of rota.cron_next (extension rota_cron); rota.cron_next calls it when it exists.';
