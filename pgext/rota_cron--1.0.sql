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

-- Nobody calls it but rota.cron_next and the schedule functions, which run as rota_owner:
-- no EXECUTE for PUBLIC (CREATE FUNCTION gives it), EXECUTE for rota_owner. Rota's install
-- does the same (rota._grant_privileges) when the extension is created first; this covers
-- an extension created after the install.
REVOKE ALL ON FUNCTION @extschema@.cron_next_c(text, timestamptz, text) FROM PUBLIC;
DO $grant$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rota_owner') THEN
        GRANT EXECUTE ON FUNCTION @extschema@.cron_next_c(text, timestamptz, text) TO rota_owner;
    END IF;
END
$grant$;
