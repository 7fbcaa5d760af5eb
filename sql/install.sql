-- Installs or upgrades the rota schema; safe to run twice and from two processes at once.
--   psql -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -f sql/install.sql
-- The Swift migrator (`rota migrate`) reads this same file: `\ir FILE` lines include a
-- migration, other backslash lines are psql settings, everything else is SQL.
\set ON_ERROR_STOP 1
\set QUIET 1
\o /dev/null
SET client_min_messages = warning;
BEGIN;
\ir migrations/0000_bootstrap.sql
SELECT rota._require_schema_at_most(4);
\ir migrations/0001_queue.sql
\ir migrations/0002_cron.sql
\ir migrations/0003_schedules.sql
\ir migrations/0004_apply.sql
COMMIT;
