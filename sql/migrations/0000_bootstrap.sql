-- Bootstrap of the migration runner: not a versioned migration, run first by every
-- install. It serialises concurrent installs with a transaction-scoped advisory lock,
-- creates the schema and the ledger of applied migrations, and defines the runner.

SELECT pg_advisory_xact_lock(hashtext('rota.install'));

CREATE SCHEMA IF NOT EXISTS rota;

CREATE TABLE IF NOT EXISTS rota.migrations (
    version    integer PRIMARY KEY,
    name       text NOT NULL,
    checksum   text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);

-- Applies one numbered migration unless it is already recorded; a recorded migration
-- whose text has changed since is an error, because migrations are forward-only.
CREATE OR REPLACE FUNCTION rota._migrate(p_version integer, p_name text, p_body text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_recorded text;
    v_checksum text := md5(p_body);
BEGIN
    SELECT checksum INTO v_recorded FROM rota.migrations WHERE version = p_version;
    IF FOUND THEN
        IF v_recorded <> v_checksum THEN
            RAISE EXCEPTION 'rota: migration % (%) differs from the one applied (checksum % applied, % now)',
                p_version, p_name, v_recorded, v_checksum
                USING ERRCODE = 'RO090',
                      HINT = 'Applied migrations are never edited; add a new numbered migration instead.';
        END IF;
        RETURN false;
    END IF;
    EXECUTE p_body;
    INSERT INTO rota.migrations (version, name, checksum) VALUES (p_version, p_name, v_checksum);
    RETURN true;
END;
$fn$;

-- Refuses to install over a schema that a newer release has already migrated.
CREATE OR REPLACE FUNCTION rota._require_schema_at_most(p_latest integer)
RETURNS void
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_applied integer;
BEGIN
    SELECT max(version) INTO v_applied FROM rota.migrations;
    IF v_applied > p_latest THEN
        RAISE EXCEPTION 'rota: the database schema is at version %, newer than this release (%)', v_applied, p_latest
            USING ERRCODE = 'RO091',
                  HINT = 'Run the migrations of the newer release, or upgrade this one.';
    END IF;
END;
$fn$;
