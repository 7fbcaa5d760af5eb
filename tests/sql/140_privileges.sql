-- Privileges, from the catalog: everything in schema rota belongs to rota_owner, every
-- entry point (public or trigger function) runs as its owner with a pinned search_path,
-- private helpers run only inside them (executable by nobody else), nothing is granted to
-- PUBLIC, tables are reachable only through the functions. Then a search_path hijack:
-- functions and an operator planted in a schema on the caller's path are never called.
-- (What each role may do, logged in as that role: tests/sql/roles/, run by test-sql.sh.)
BEGIN;
SELECT plan(18);

CREATE TEMP VIEW rota_functions AS
SELECT p.oid, p.proname, p.oid::regprocedure AS signature, p.prosecdef, p.proconfig, p.proacl, p.proowner,
       p.proname !~ '^_' OR p.prorettype = 'trigger'::regtype AS entry_point,
       p.proname IN ('_migrate', '_apply_code', '_require_schema_at_most', '_grant_privileges') AS install_runner
FROM pg_proc p
WHERE p.pronamespace = 'rota'::regnamespace
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e');
CREATE TEMP VIEW rota_roles (role) AS VALUES ('rota_producer'), ('rota_worker'), ('rota_reader'), ('rota_admin');

SELECT cmp_ok((SELECT count(*) FROM rota_functions), '>', 50::bigint, 'the schema has its functions');
SELECT is(ARRAY(SELECT signature::text FROM rota_functions
                WHERE (entry_point OR install_runner)
                  AND NOT coalesce('search_path=pg_catalog, pg_temp' = ANY (proconfig), false) ORDER BY 1),
          '{}'::text[], 'every public function, trigger function and install runner pins search_path to pg_catalog, pg_temp');
SELECT is(ARRAY(SELECT signature::text FROM rota_functions WHERE prosecdef <> entry_point ORDER BY 1),
          '{}'::text[], 'public and trigger functions are SECURITY DEFINER; helpers and install runners are not');
SELECT is(ARRAY(SELECT signature::text FROM rota_functions
                WHERE NOT entry_point AND NOT install_runner
                  AND EXISTS (SELECT 1 FROM unnest(proconfig) AS c WHERE c LIKE 'search_path=%') ORDER BY 1),
          '{}'::text[], 'private helpers inherit the pinned path of the entry point that calls them (no clause of their own)');
SELECT is(ARRAY(SELECT signature::text FROM rota_functions WHERE proowner <> 'rota_owner'::regrole ORDER BY 1),
          '{}'::text[], 'rota_owner owns every function');
SELECT is(ARRAY(SELECT p.oid::regprocedure::text FROM pg_proc p
                WHERE p.pronamespace = 'rota'::regnamespace
                  AND (p.proacl IS NULL OR EXISTS (SELECT 1 FROM aclexplode(p.proacl) a WHERE a.grantee = 0))
                ORDER BY 1),
          '{}'::text[], 'no function of rota (extension members included) may be executed by PUBLIC');
SELECT is(ARRAY(SELECT signature::text FROM rota_functions f
                WHERE f.proname !~ '^_'
                  -- an explicit grant: rota_admin holds every privilege through rota_owner anyway
                  AND NOT EXISTS (SELECT 1 FROM pg_proc p, aclexplode(p.proacl) a, rota_roles r
                                  WHERE p.oid = f.oid AND a.grantee = r.role::regrole AND a.privilege_type = 'EXECUTE')
                ORDER BY 1),
          '{}'::text[], 'every public function is granted to one of the roles at least');
SELECT is(ARRAY(SELECT signature::text || ' to ' || a.grantee::regrole::text
                FROM rota_functions f, aclexplode(f.proacl) a
                WHERE f.proname ~ '^_' AND a.grantee <> f.proowner ORDER BY 1),
          '{}'::text[], 'no private function is granted to anybody: they run only inside entry points');
SELECT is((SELECT nspowner::regrole::text FROM pg_namespace WHERE nspname = 'rota'), 'rota_owner', 'rota_owner owns the schema');
SELECT is(ARRAY(SELECT a.grantee::regrole::text || ':' || a.privilege_type
                FROM pg_namespace n, aclexplode(n.nspacl) a
                WHERE n.nspname = 'rota' AND a.grantee <> n.nspowner ORDER BY 1),
          ARRAY['rota_admin:USAGE', 'rota_producer:USAGE', 'rota_reader:USAGE', 'rota_worker:USAGE'],
          'USAGE on the schema for the four roles, nothing for PUBLIC');
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                WHERE c.relnamespace = 'rota'::regnamespace AND c.relkind IN ('r', 'v', 'S')
                  AND c.relowner <> 'rota_owner'::regrole ORDER BY 1),
          '{}'::text[], 'rota_owner owns every table, view and sequence');
SELECT is(ARRAY(SELECT c.oid::regclass::text || ' ' || r.role FROM pg_class c, rota_roles r
                WHERE c.relnamespace = 'rota'::regnamespace AND c.relkind IN ('r', 'S') AND r.role <> 'rota_admin'
                  AND (has_table_privilege(r.role, c.oid, 'SELECT, INSERT, UPDATE, DELETE, TRUNCATE, REFERENCES, TRIGGER')
                       OR (c.relkind = 'S' AND has_sequence_privilege(r.role, c.oid, 'USAGE, SELECT, UPDATE')))
                ORDER BY 1),
          '{}'::text[], 'no table or sequence is reachable by rota_producer, rota_worker or rota_reader');
SELECT is(ARRAY(SELECT c.oid::regclass::text || ' ' || coalesce(a.grantee::regrole::text, '') || ':' || a.privilege_type
                FROM pg_class c, aclexplode(c.relacl) a
                WHERE c.relnamespace = 'rota'::regnamespace AND c.relkind IN ('r', 'S') AND a.grantee <> c.relowner
                ORDER BY 1),
          '{}'::text[], 'no table or sequence has a grant (rota_admin reaches them only as a member of rota_owner, to install)');
SELECT is(ARRAY(SELECT c.oid::regclass::text FROM pg_class c
                WHERE c.relnamespace = 'rota'::regnamespace AND c.relkind = 'v'
                  AND NOT has_table_privilege('rota_reader', c.oid, 'SELECT') ORDER BY 1),
          '{}'::text[], 'rota_reader reads every view');
SELECT is(ARRAY(SELECT c.oid::regclass::text || ' ' || r.role FROM pg_class c, rota_roles r
                WHERE c.relnamespace = 'rota'::regnamespace AND c.relkind = 'v' AND r.role IN ('rota_producer', 'rota_worker')
                  AND has_table_privilege(r.role, c.oid, 'SELECT') ORDER BY 1),
          '{}'::text[], 'rota_producer and rota_worker do not read the views');

-- A search_path hijack: a role with CREATE on public plants functions, an aggregate and an
-- operator that rota's functions would otherwise pick, and a superuser calls rota with
-- public first in its path. Each planted object records that it ran.
CREATE ROLE rota_test_planter NOLOGIN;
GRANT USAGE, CREATE ON SCHEMA public TO rota_test_planter;
CREATE TABLE public.planted_calls (fn text);
GRANT INSERT ON public.planted_calls TO PUBLIC;
SET LOCAL ROLE rota_test_planter;
CREATE FUNCTION public.cardinality(text[]) RETURNS integer LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO public.planted_calls VALUES ('cardinality'); RETURN pg_catalog.cardinality($1); END $$;
CREATE FUNCTION public.array_position(bigint[], bigint) RETURNS integer LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO public.planted_calls VALUES ('array_position'); RETURN pg_catalog.array_position($1, $2); END $$;
CREATE FUNCTION public.to_jsonb(text) RETURNS jsonb LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO public.planted_calls VALUES ('to_jsonb'); RETURN pg_catalog.to_jsonb($1); END $$;
CREATE FUNCTION public.planted_concat(text, text) RETURNS text LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO public.planted_calls VALUES ('||'); RETURN pg_catalog.textcat($1, $2); END $$;
CREATE OPERATOR public.|| (LEFTARG = text, RIGHTARG = text, FUNCTION = public.planted_concat);
CREATE FUNCTION public.planted_agg_step(bigint[], bigint) RETURNS bigint[] LANGUAGE plpgsql AS
$$ BEGIN INSERT INTO public.planted_calls VALUES ('array_agg'); RETURN pg_catalog.array_append($1, $2); END $$;
CREATE AGGREGATE public.array_agg(bigint) (SFUNC = public.planted_agg_step, STYPE = bigint[]);
RESET ROLE;

SET LOCAL search_path = public, pg_catalog;
-- the plants work: a call that resolves names with this path runs them
SELECT cardinality(ARRAY['x']), 'a' || 'b', array_agg(x) FROM (VALUES (1::bigint)) AS v(x);
CREATE TEMP TABLE planted_control AS SELECT count(DISTINCT fn) AS n FROM public.planted_calls;
DELETE FROM public.planted_calls;
-- rota under the same path
SELECT rota.define_queue('hijack', concurrency => 2);
SELECT rota.register_executor('hijack-w');
SELECT count(*) FROM rota.enqueue_many('hijack', 'job', ARRAY['{}', '{}', '{}']::jsonb[], ARRAY['k1', 'k2', 'k3']);
SELECT rota.enqueue('hijack', 'job', key => 'k4');
CREATE TEMP TABLE hijack_claimed AS SELECT * FROM rota.claim('hijack-w', ARRAY['hijack'], 2);
SELECT count(*) FROM rota.complete_many(ARRAY(SELECT id FROM hijack_claimed ORDER BY id), ARRAY(SELECT attempt FROM hijack_claimed ORDER BY id),
                                        NULL, ARRAY(SELECT lease_token FROM hijack_claimed ORDER BY id));
CREATE TEMP TABLE hijack_claimed2 AS SELECT * FROM rota.claim('hijack-w', ARRAY['hijack'], 2);
SELECT count(*) FROM rota.heartbeat('hijack-w', ARRAY(SELECT id FROM hijack_claimed2), ARRAY(SELECT lease_token FROM hijack_claimed2));
UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE queue = 'hijack' AND state = 'running';
SELECT rota.reap();
SELECT rota.trigger_schedule(name) FROM (SELECT rota.define_schedule('hijack-s', '* * * * *', 'hijack', 'job') AS d, 'hijack-s' AS name) s;
SELECT count(*) FROM rota.fire_due('hijack-w');
SELECT rota.apply('{"version": 1, "queues": [{"name": "hijack2"}]}');
CREATE TEMP TABLE planted_after AS SELECT coalesce(string_agg(DISTINCT fn, ', '), '') AS fns FROM public.planted_calls;
SET LOCAL search_path = pg_catalog, public;
DROP AGGREGATE public.array_agg(bigint);
DROP OPERATOR public.|| (text, text);
DROP FUNCTION public.cardinality(text[]), public.array_position(bigint[], bigint), public.to_jsonb(text),
              public.planted_concat(text, text), public.planted_agg_step(bigint[], bigint);

SELECT is((SELECT n FROM planted_control), 3::bigint, 'the planted cardinality, || and array_agg run for a caller with public first');
SELECT is((SELECT count(*) FROM rota.tasks WHERE queue = 'hijack' AND state = 'succeeded'), 2::bigint,
          'rota worked under the hijacked path');
SELECT is((SELECT fns FROM planted_after), '', 'no planted function or operator ran inside rota''s functions');

SELECT * FROM finish();
ROLLBACK;
