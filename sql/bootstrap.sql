-- Bootstrap of the installer, run first by every install (not a versioned migration):
-- creates the schema and the two ledgers, serialises concurrent installs on the ledger
-- of migrations, and defines the runners that install.sql calls.
--
-- The lock is a table lock, not an advisory lock: an advisory lock can be taken (and held
-- forever) by any role that can connect, while LOCK TABLE ... IN EXCLUSIVE MODE needs
-- UPDATE, DELETE or TRUNCATE on rota._migrations, which only rota's installers have.

-- The schema and the ledgers, which the lock below needs. Two first installs at once
-- both try to create them; the second one waits for the first to commit and then fails
-- with a unique violation on the catalog, after which everything exists: try again.
DO $bootstrap$
BEGIN
    FOR attempt IN 1..3 LOOP
        BEGIN
            CREATE SCHEMA IF NOT EXISTS rota;
            CREATE TABLE IF NOT EXISTS rota._migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE IF NOT EXISTS rota._code (
                name       text PRIMARY KEY,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            );
            RETURN;
        EXCEPTION WHEN unique_violation OR duplicate_schema OR duplicate_table OR duplicate_object THEN
            IF attempt = 3 THEN
                RAISE;
            END IF;
        END;
    END LOOP;
END;
$bootstrap$;

-- Held until the install commits: one installer at a time from here on.
LOCK TABLE rota._migrations IN EXCLUSIVE MODE;

COMMENT ON TABLE rota._migrations IS 'Applied numbered migrations (sql/migrations), with the checksum of each body.';
COMMENT ON TABLE rota._code IS 'Applied code files (sql/code), with the checksum of each body; a changed file is applied again.';

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
    SELECT checksum INTO v_recorded FROM rota._migrations WHERE version = p_version;
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
    INSERT INTO rota._migrations (version, name, checksum) VALUES (p_version, p_name, v_checksum);
    RETURN true;
END;
$fn$;

-- Applies one code file (functions, views, triggers: CREATE OR REPLACE) when its text
-- differs from the one applied last, so an unchanged install touches no function.
CREATE OR REPLACE FUNCTION rota._apply_code(p_name text, p_body text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE
AS $fn$
DECLARE
    v_checksum text := md5(p_body);
BEGIN
    IF EXISTS (SELECT 1 FROM rota._code WHERE name = p_name AND checksum = v_checksum) THEN
        RETURN false;
    END IF;
    EXECUTE p_body;
    INSERT INTO rota._code AS c (name, checksum) VALUES (p_name, v_checksum)
    ON CONFLICT (name) DO UPDATE SET checksum = EXCLUDED.checksum, applied_at = now();
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
    SELECT max(version) INTO v_applied FROM rota._migrations;
    IF v_applied > p_latest THEN
        RAISE EXCEPTION 'rota: the database schema is at version %, newer than this release (%)', v_applied, p_latest
            USING ERRCODE = 'RO091',
                  HINT = 'Run the migrations of the newer release, or upgrade this one.';
    END IF;
END;
$fn$;
