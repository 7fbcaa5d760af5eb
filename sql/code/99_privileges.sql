SELECT rota._apply_code('privileges', $code$

-- Every privilege rule of the schema, in one place (docs/sql-contract.md, "Roles"):
--   * rota_owner (NOLOGIN) owns the schema and everything in it;
--   * every entry point (a public function, a trigger function) runs as its owner
--     (SECURITY DEFINER), so callers need no table access, with search_path pinned to
--     pg_catalog then pg_temp (every rota name is qualified; a function or operator
--     planted in a schema of the caller's path is never called);
--   * the install runners pin search_path too but run with the installer's rights (they
--     run its migrations and code);
--   * private `_` helpers are executed by nobody but the owner, so they run only inside
--     an entry point, as rota_owner with the pinned search_path: they carry neither clause,
--     which would cost a GUC save and restore on every call (per row for some) and keep
--     SQL helpers from being inlined;
--   * nobody but the roles below may execute a function (nothing for PUBLIC);
--   * tables and sequences are reachable through the functions only; rota_reader reads
--     the views;
--   * rota_owner is a member of pg_read_all_stats when the installer may grant it (for
--     rota.metrics' oldest open snapshot).
-- rota._grant_privileges() puts all of this right on every install (sql/install.sql runs
-- it after the code files, also when none changed), changing only what differs, so an
-- unchanged install writes nothing to the catalog.

-- Which role may execute each public function. rota_admin is a member of the other
-- roles, so it may call everything they may.
CREATE OR REPLACE FUNCTION rota._function_grants()
RETURNS TABLE(function_name name, grantee name)
LANGUAGE sql IMMUTABLE
AS $fn$
    VALUES
        ('enqueue', 'rota_producer'), ('enqueue_many', 'rota_producer'), ('task_status', 'rota_producer'),
        ('cancel', 'rota_producer'), ('await_task', 'rota_producer'),
        ('claim', 'rota_worker'), ('complete', 'rota_worker'), ('complete_many', 'rota_worker'),
        ('complete_in_transaction', 'rota_worker'),
        ('fail', 'rota_worker'), ('fail_many', 'rota_worker'), ('heartbeat', 'rota_worker'),
        ('register_executor', 'rota_worker'), ('stop_executor', 'rota_worker'),
        ('step', 'rota_worker'), ('steps', 'rota_worker'), ('record_step', 'rota_worker'), ('reap', 'rota_worker'),
        ('prune', 'rota_worker'), ('fire_due', 'rota_worker'), ('next_run_at', 'rota_worker'),
        ('next_fire_at', 'rota_worker'), ('cron_next', 'rota_worker'),
        ('sleep', 'rota_worker'), ('enqueue_child', 'rota_worker'), ('wait_for_children', 'rota_worker'),
        ('children', 'rota_worker'),
        -- start also needs rota_producer (checked inside: it creates a task)
        ('start', 'rota_worker'),
        ('define_queue', 'rota_admin'), ('drop_queue', 'rota_admin'), ('pause_queue', 'rota_admin'),
        ('resume_queue', 'rota_admin'), ('define_schedule', 'rota_admin'), ('drop_schedule', 'rota_admin'),
        ('pause_schedule', 'rota_admin'), ('resume_schedule', 'rota_admin'),
        ('trigger_schedule', 'rota_admin'), ('validate_cron', 'rota_admin'), ('apply', 'rota_admin'),
        ('retry', 'rota_admin'),
        ('metrics', 'rota_reader');
$fn$;

-- The install runners: pinned, not SECURITY DEFINER (they run the installer's migrations and code).
CREATE OR REPLACE FUNCTION rota._install_runners()
RETURNS name[]
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT ARRAY['_migrate', '_apply_code', '_require_schema_at_most', '_grant_privileges']::name[];
$fn$;

-- The search_path that entry points and install runners pin.
CREATE OR REPLACE FUNCTION rota._pinned_search_path()
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT 'search_path=pg_catalog, pg_temp';
$fn$;

-- Makes the schema's ownership and privileges what this file says, touching only objects
-- that differ. Runs with the installer's rights (a superuser, or a member of rota_owner).
CREATE OR REPLACE FUNCTION rota._grant_privileges()
RETURNS void
LANGUAGE plpgsql VOLATILE
SET search_path = pg_catalog, pg_temp
AS $fn$
DECLARE
    c_roles constant name[] := ARRAY['rota_producer', 'rota_worker', 'rota_reader', 'rota_admin'];
    v_owner oid := 'rota_owner'::regrole;
    v_schema oid := 'rota'::regnamespace;
    v_object record;
BEGIN
    IF (SELECT n.nspowner FROM pg_namespace n WHERE n.oid = v_schema) <> v_owner THEN
        ALTER SCHEMA rota OWNER TO rota_owner;
    END IF;
    -- rota.metrics reports the oldest open snapshot among the database's sessions, which
    -- it sees only with pg_read_all_stats; an installer that may not grant it (not a
    -- superuser) leaves that metric NaN.
    IF NOT pg_has_role(v_owner, 'pg_read_all_stats', 'MEMBER') THEN
        BEGIN
            GRANT pg_read_all_stats TO rota_owner;
        EXCEPTION WHEN insufficient_privilege THEN
            NULL;
        END;
    END IF;
    -- USAGE for the four roles, nothing for PUBLIC
    IF EXISTS (SELECT 1 FROM pg_namespace n, aclexplode(n.nspacl) a
               WHERE n.oid = v_schema AND a.grantee <> v_owner
                 AND (a.grantee = 0 OR a.privilege_type <> 'USAGE'
                      OR a.grantee::regrole::name <> ALL (c_roles)))
       OR (SELECT count(*) FROM pg_namespace n, aclexplode(n.nspacl) a
           WHERE n.oid = v_schema AND a.grantee <> v_owner) <> cardinality(c_roles) THEN
        REVOKE ALL ON SCHEMA rota FROM PUBLIC, rota_producer, rota_worker, rota_reader, rota_admin;
        GRANT USAGE ON SCHEMA rota TO rota_producer, rota_worker, rota_reader, rota_admin;
    END IF;

    -- Tables, views, sequences and types: owned by rota_owner; only the views are readable,
    -- by rota_reader.
    FOR v_object IN
        SELECT c.oid::regclass::text AS name, c.relkind, c.relowner,
               ARRAY(SELECT a.grantee::regrole::text || ':' || a.privilege_type
                     FROM aclexplode(c.relacl) a WHERE a.grantee <> v_owner ORDER BY 1) AS grants,
               CASE WHEN c.relkind = 'v' THEN ARRAY['rota_reader:SELECT'] ELSE '{}' END AS wanted
        FROM pg_class c
        WHERE c.relnamespace = v_schema AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
          -- an identity sequence follows its table
          AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass
                                                      AND d.deptype IN ('a', 'i') AND c.relkind = 'S')
        ORDER BY c.oid
    LOOP
        IF v_object.relowner <> v_owner THEN
            EXECUTE format('ALTER %s %s OWNER TO rota_owner',
                           CASE v_object.relkind WHEN 'v' THEN 'VIEW' WHEN 'm' THEN 'MATERIALIZED VIEW'
                                                 WHEN 'S' THEN 'SEQUENCE' WHEN 'f' THEN 'FOREIGN TABLE'
                                                 ELSE 'TABLE' END, v_object.name);
        END IF;
        IF v_object.grants <> v_object.wanted THEN
            EXECUTE format('REVOKE ALL ON %s FROM PUBLIC, rota_producer, rota_worker, rota_reader, rota_admin',
                           v_object.name);
            IF v_object.relkind = 'v' THEN
                EXECUTE format('GRANT SELECT ON %s TO rota_reader', v_object.name);
            END IF;
        END IF;
    END LOOP;
    FOR v_object IN
        SELECT t.oid::regtype::text AS name FROM pg_type t
        WHERE t.typnamespace = v_schema AND t.typowner <> v_owner AND t.typtype IN ('c', 'd', 'e', 'r')
          AND (t.typrelid = 0 OR (SELECT c.relkind FROM pg_class c WHERE c.oid = t.typrelid) = 'c')
    LOOP
        EXECUTE format('ALTER TYPE %s OWNER TO rota_owner', v_object.name);
    END LOOP;

    -- Functions. Members of an extension (rota_cron) keep the extension's owner; they lose
    -- PUBLIC's EXECUTE and are executed by the functions that call them, as rota_owner.
    FOR v_object IN
        SELECT p.oid::regprocedure::text AS signature, p.proname, p.proowner, p.prosecdef,
               coalesce(rota._pinned_search_path() = ANY (p.proconfig), false) AS pinned,
               EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c WHERE c LIKE 'search_path=%') AS sets_search_path,
               p.proname !~ '^_' OR p.prorettype = 'trigger'::regtype AS entry_point,
               p.proname = ANY (rota._install_runners()) AS install_runner,
               p.prokind, p.proacl IS NULL AS default_acl,
               p.proowner = v_owner OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = v_owner)
                   AS owner_executes,
               EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid
                                                   AND d.deptype = 'e') AS in_extension,
               ARRAY(SELECT a.grantee::regrole::text FROM aclexplode(p.proacl) a
                     WHERE a.grantee <> p.proowner OR a.grantee = 0 ORDER BY 1) AS grantees,
               ARRAY(SELECT g.grantee::text FROM rota._function_grants() g WHERE g.function_name = p.proname
                     ORDER BY 1) AS wanted
        FROM pg_proc p
        WHERE p.pronamespace = v_schema
        ORDER BY p.oid
    LOOP
        IF v_object.in_extension THEN
            -- a NULL proacl is the default, with EXECUTE for PUBLIC ('-')
            IF v_object.default_acl OR '-' = ANY (v_object.grantees) OR NOT v_object.owner_executes THEN
                EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC', v_object.signature);
                EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO rota_owner', v_object.signature);
            END IF;
            CONTINUE;
        END IF;
        IF v_object.proowner <> v_owner THEN
            EXECUTE format('ALTER %s %s OWNER TO rota_owner',
                           CASE v_object.prokind WHEN 'p' THEN 'PROCEDURE' ELSE 'FUNCTION' END, v_object.signature);
        END IF;
        IF v_object.prosecdef <> v_object.entry_point THEN
            EXECUTE format('ALTER FUNCTION %s %s', v_object.signature,
                           CASE WHEN v_object.prosecdef THEN 'SECURITY INVOKER' ELSE 'SECURITY DEFINER' END);
        END IF;
        IF (v_object.entry_point OR v_object.install_runner) AND NOT v_object.pinned THEN
            EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, pg_temp', v_object.signature);
        ELSIF NOT (v_object.entry_point OR v_object.install_runner) AND v_object.sets_search_path THEN
            EXECUTE format('ALTER FUNCTION %s RESET search_path', v_object.signature);
        END IF;
        -- a NULL proacl is the default (PUBLIC may execute): never what is wanted
        IF v_object.grantees <> v_object.wanted OR v_object.default_acl THEN
            EXECUTE format('REVOKE ALL ON FUNCTION %s FROM PUBLIC, rota_producer, rota_worker, rota_reader, rota_admin',
                           v_object.signature);
            IF cardinality(v_object.wanted) > 0 THEN
                EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO %s', v_object.signature,
                               (SELECT string_agg(quote_ident(w), ', ') FROM unnest(v_object.wanted) AS w));
            END IF;
        END IF;
    END LOOP;
END;
$fn$;

$code$);

-- Every install, also when no code file changed (a replaced function loses its SET and
-- SECURITY DEFINER clauses and a new one has none).
SELECT rota._grant_privileges();
