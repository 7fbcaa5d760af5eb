-- The migration runner: re-applying is a no-op, an edited migration is refused, and a
-- newer schema is refused. (install.sql twice and concurrently: scripts/test-sql.sh.)
\set migration_file `cat sql/migrations/0001_queue.sql`
BEGIN;
SELECT plan(9);

CREATE TEMP TABLE m AS
SELECT substring(:'migration_file' FROM '\$migration\$(.*)\$migration\$') AS body;

SELECT isnt((SELECT body FROM m), NULL, 'the migration body was read from sql/migrations/0001_queue.sql');
SELECT results_eq($$SELECT name, checksum FROM rota._migrations WHERE version = 1$$,
                  $$SELECT 'queue'::text, md5(body) FROM m$$, 'migration 1 is recorded with the checksum of its body');
SELECT is(rota._migrate(1, 'queue', (SELECT body FROM m)), false, 're-applying an applied migration is a no-op');
SELECT is((SELECT count(*) FROM rota._migrations WHERE version = 1), 1::bigint, '... and records nothing new');
SELECT throws_like($$SELECT rota._migrate(1, 'queue', (SELECT body || ' -- edited' FROM m))$$,
                   'rota: migration 1 (queue) differs from the one applied%', 'an edited migration is refused');
SELECT throws_ok($$SELECT rota._migrate(1, 'queue', (SELECT body || ' -- edited' FROM m))$$, 'RO090', NULL,
                 '... with SQLSTATE RO090');
SELECT lives_ok($$SELECT rota._require_schema_at_most(1000)$$, 'an older schema is fine');
INSERT INTO rota._migrations (version, name, checksum) VALUES (999, 'from the future', 'x');
SELECT throws_ok($$SELECT rota._require_schema_at_most(2)$$, 'RO091',
                 'rota: the database schema is at version 999, newer than this release (2)', 'a newer schema is refused');
SELECT is((SELECT max(version) FROM rota._migrations WHERE version < 999), (SELECT max(version) FROM rota._migrations WHERE version < 999),
          'nothing else changed');

SELECT * FROM finish();
ROLLBACK;
