-- Installs or upgrades the rota schema; safe to run twice and from several processes at once.
--   psql -v ON_ERROR_STOP=1 -d "$DATABASE_URL" -f sql/install.sql
-- The Swift migrator (`rota migrate`) reads this same file: `\ir FILE` lines include a
-- file (relative to the including one), other backslash lines are psql settings,
-- everything else is SQL. Layout and how to change things: docs/sql-layout.md.
\set ON_ERROR_STOP 1
\set QUIET 1
\o /dev/null
SET client_min_messages = warning;
BEGIN;
\ir bootstrap.sql
SELECT rota._require_schema_at_most(20);
-- State: numbered, forward-only, each applied once.
\ir migrations/0001_queue.sql
\ir migrations/0002_cron.sql
\ir migrations/0003_schedules.sql
\ir migrations/0004_apply.sql
\ir migrations/0005_roles_tokens.sql
\ir migrations/0006_bounds.sql
\ir migrations/0007_key_counts.sql
\ir migrations/0008_observability.sql
\ir migrations/0009_workflow_waits.sql
\ir migrations/0010_awaited_tasks.sql
\ir migrations/0012_ready_any_queue.sql
\ir migrations/0013_bytes.sql
\ir migrations/0014_claim_plans.sql
\ir migrations/0015_subscriptions.sql
\ir migrations/0016_retention_index.sql
\ir migrations/0017_history_deletes.sql
\ir migrations/0018_bounded_housekeeping.sql
\ir migrations/0019_name_checks.sql
\ir migrations/0020_task_links.sql
-- Code: one file per concept, in this order (a file may use the ones above it), each
-- applied again whenever its text changed; the last one puts every privilege right, on
-- every install.
\ir code/00_checks.sql
\ir code/10_queues.sql
\ir code/20_enqueue.sql
\ir code/25_subscriptions.sql
\ir code/30_claim.sql
\ir code/36_counts.sql
\ir code/40_complete_fail.sql
\ir code/45_complete_in_transaction.sql
\ir code/50_steps.sql
\ir code/55_waits.sql
\ir code/57_direct_start.sql
\ir code/60_executors_reap.sql
\ir code/70_cron.sql
\ir code/80_schedules.sql
\ir code/90_apply.sql
\ir code/95_views.sql
\ir code/96_alerts.sql
\ir code/97_metrics.sql
\ir code/99_privileges.sql
COMMIT;
