SELECT rota._apply_code('metrics', $code$

-- A label value in the OpenMetrics text format: backslash, quote and newline escaped (NULL stays NULL).
CREATE OR REPLACE FUNCTION rota._metric_label(p_value text)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT replace(replace(replace(p_value, E'\\', E'\\\\'), '"', E'\\"'), E'\n', E'\\n');
$fn$;

-- A sample value in the OpenMetrics text format.
CREATE OR REPLACE FUNCTION rota._metric_value(p_value double precision)
RETURNS text
LANGUAGE sql IMMUTABLE
AS $fn$
    SELECT CASE WHEN p_value = 'Infinity' THEN '+Inf' WHEN p_value = '-Infinity' THEN '-Inf'
                WHEN p_value = 'NaN' THEN 'NaN' ELSE p_value::text END;
$fn$;

-- Per queue, cheaply: depth and running through the partial indexes of queued and
-- running tasks, outcome totals and the last hour from the counters (never the history of
-- finished tasks, unlike rota.queue_stats). rota.metrics() and the dashboard read it.
CREATE OR REPLACE VIEW rota.queue_overview AS
SELECT q.name AS queue,
       (SELECT count(*) FROM rota.tasks t WHERE t.queue = q.name AND t.state = 'queued' AND t.run_at <= now()) AS ready,
       (SELECT count(*) FROM rota.tasks t WHERE t.queue = q.name AND t.state = 'queued' AND t.run_at > now()) AS delayed,
       r.running, r.held_by_dead,
       now() - (SELECT min(t.run_at) FROM rota.tasks t
                WHERE t.queue = q.name AND t.state = 'queued' AND t.run_at <= now()) AS oldest_ready_age,
       q.concurrency, q.paused,
       c.succeeded_total, c.dead_total, c.cancelled_total, c.attempts_failed_total, c.retried_total,
       c.succeeded_last_hour, c.attempts_failed_last_hour, c.dead_last_hour,
       (SELECT count(*) FROM rota.tasks t WHERE t.queue = q.name AND t.state = 'waiting') AS waiting
FROM rota.queues q
CROSS JOIN LATERAL (
    SELECT count(*) AS running,
           count(*) FILTER (WHERE NOT EXISTS (SELECT 1 FROM rota.executor_status e
                                              WHERE e.executor = t.executor AND e.alive)) AS held_by_dead
    FROM rota.tasks t WHERE t.queue = q.name AND t.state = 'running') r
CROSS JOIN LATERAL (
    SELECT coalesce(sum(k.succeeded), 0)::bigint AS succeeded_total, coalesce(sum(k.dead), 0)::bigint AS dead_total,
           coalesce(sum(k.cancelled), 0)::bigint AS cancelled_total,
           coalesce(sum(k.attempts_failed), 0)::bigint AS attempts_failed_total,
           coalesce(sum(k.retried), 0)::bigint AS retried_total,
           coalesce(sum(k.succeeded) FILTER (WHERE k.bucket >= now() - interval '1 hour'), 0)::bigint AS succeeded_last_hour,
           coalesce(sum(k.attempts_failed) FILTER (WHERE k.bucket >= now() - interval '1 hour'), 0)::bigint
               AS attempts_failed_last_hour,
           coalesce(sum(k.dead) FILTER (WHERE k.bucket >= now() - interval '1 hour'), 0)::bigint AS dead_last_hour
    FROM rota._queue_counts k WHERE k.queue = q.name) c;
COMMENT ON VIEW rota.queue_overview IS 'Per queue: ready, delayed, running (and held by dead executors), waiting for children, oldest ready age, outcome totals that survive pruning and the last hour''s, from indexes and counters only.';

-- Per queue and minute of the last hour: tasks succeeded and attempts failed (the dashboard's charts).
CREATE OR REPLACE VIEW rota.queue_activity AS
SELECT c.queue, c.bucket AS minute, sum(c.succeeded)::bigint AS succeeded, sum(c.attempts_failed)::bigint AS attempts_failed,
       sum(c.dead)::bigint AS dead
FROM rota._queue_counts c
WHERE c.bucket >= date_trunc('minute', now()) - interval '59 minutes'
GROUP BY c.queue, c.bucket;
COMMENT ON VIEW rota.queue_activity IS 'Per queue and minute of the last hour: succeeded tasks, failed attempts, tasks that ended failed.';

-- Every metric of the database in the OpenMetrics text format, for a Prometheus scrape.
-- Bounded work: queued and running tasks through their partial indexes, finished tasks
-- only through the outcome counters (never the history), schedules, live executors, and
-- this database's sessions (pg_stat_activity) for the oldest open snapshot.
-- format => 'prometheus' gives the older Prometheus text format (0.0.4) instead: counter
-- families are named with their _total suffix there, and there is no # EOF.
CREATE OR REPLACE FUNCTION rota.metrics(format text DEFAULT 'openmetrics')
RETURNS text
LANGUAGE plpgsql STABLE
AS $fn$
#variable_conflict use_column
BEGIN
    IF format IS NULL OR format NOT IN ('openmetrics', 'prometheus') THEN
        PERFORM rota._invalid('rota.metrics', 'format', 'must be openmetrics or prometheus', quote_nullable(format));
    END IF;
    RETURN (
WITH families(ord, name, type, help) AS (VALUES
    (1, 'rota_queue_ready', 'gauge', 'Queued tasks whose run_at has come.'),
    (2, 'rota_queue_delayed', 'gauge', 'Queued tasks whose run_at is in the future.'),
    (3, 'rota_queue_running', 'gauge', 'Running tasks.'),
    (19, 'rota_queue_waiting', 'gauge', 'Tasks waiting for their children (rota.wait_for_children).'),
    (4, 'rota_queue_concurrency_limit', 'gauge', 'The queue''s concurrency limit (queues with one).'),
    (5, 'rota_queue_paused', 'gauge', '1 when the queue is paused.'),
    (6, 'rota_queue_oldest_ready_age_seconds', 'gauge', 'Age of the oldest ready task (0 when none).'),
    (7, 'rota_queue_tasks_succeeded', 'counter', 'Tasks that ended succeeded.'),
    (8, 'rota_queue_tasks_failed', 'counter', 'Tasks that ended failed (dead letters).'),
    (9, 'rota_queue_tasks_cancelled', 'counter', 'Running tasks that ended cancelled.'),
    (10, 'rota_queue_attempts_failed', 'counter', 'Attempts that failed or whose lease expired.'),
    (11, 'rota_queue_retries', 'counter', 'Failed attempts that queued their task again.'),
    (12, 'rota_queue_alert_stuck_after_seconds', 'gauge', 'Threshold of the queue_stuck alert.'),
    (13, 'rota_queue_alert_failures_per_minute', 'gauge', 'Failures per minute threshold of the retry_storm alert.'),
    (14, 'rota_queue_alert_failure_ratio', 'gauge', 'Failed share threshold of the retry_storm alert.'),
    (15, 'rota_queue_alert_failure_window_seconds', 'gauge', 'Window of the retry_storm alert.'),
    (16, 'rota_queue_alert_dead_per_hour', 'gauge', 'Threshold of the dead_letter_growth alert.'),
    (17, 'rota_queue_alert_unreaped_after_seconds', 'gauge', 'Threshold of the dead_executor_tasks alert.'),
    (18, 'rota_queue_tasks_held_by_dead_executors', 'gauge', 'Running tasks whose executor is not alive.'),
    (20, 'rota_schedule_enabled', 'gauge', '1 when the schedule is enabled.'),
    (21, 'rota_schedule_next_fire_timestamp_seconds', 'gauge', 'When the schedule fires next (enabled schedules).'),
    (22, 'rota_schedule_lag_seconds', 'gauge', 'How overdue the next fire is (0 when not due yet).'),
    (23, 'rota_schedule_last_fire_timestamp_seconds', 'gauge', 'The instant of the last fire.'),
    (24, 'rota_schedule_last_fire_state', 'gauge', '1 for the state of the last fire''s task.'),
    (25, 'rota_schedule_last_fire_duration_seconds', 'gauge', 'Run time of the last finished fire''s task.'),
    (26, 'rota_schedule_alert_late_after_seconds', 'gauge', 'Threshold of the schedule_late alert.'),
    (30, 'rota_executor_alive', 'gauge', '1 when the executor heartbeats, 0 when it is dead (not stopped).'),
    (31, 'rota_executor_running_tasks', 'gauge', 'Tasks the executor holds.'),
    (32, 'rota_executor_last_heartbeat_timestamp_seconds', 'gauge', 'The executor''s last heartbeat.'),
    (40, 'rota_alert', 'gauge', '1 for each active alert of rota.alerts.'),
    (50, 'rota_database_oldest_snapshot_age_seconds', 'gauge',
     'Age of the oldest transaction of another session of this database that holds a snapshot (0 when none; NaN when rota_owner may not read other sessions: grant it pg_read_all_stats): while it stays open, claimed tasks'' index entries cannot be cleaned up and every claim steps over them.')),
queues AS (
    SELECT o.*, q.alert_stuck_after, q.alert_failures_per_minute, q.alert_failure_ratio, q.alert_failure_window,
           q.alert_dead_per_hour, q.alert_unreaped_after,
           'queue="' || rota._metric_label(o.queue) || '"' AS labels
    FROM rota.queue_overview o JOIN rota.queues q ON q.name = o.queue),
schedules AS (
    SELECT s.*, 'schedule="' || rota._metric_label(s.name) || '"' AS labels, last.*
    FROM rota.schedules s
    LEFT JOIN LATERAL (
        SELECT f.fire_at AS last_fire_at_, t.state AS last_state, t.finished_at - t.started_at AS last_duration
        FROM rota.schedule_fires f LEFT JOIN rota.tasks t ON t.id = f.task_id
        WHERE f.schedule = s.name ORDER BY f.fire_at DESC LIMIT 1) last ON true),
executors AS (
    SELECT e.*, 'executor="' || rota._metric_label(e.executor) || '"' AS labels
    FROM rota.executor_status e
    WHERE NOT e.stopped AND (e.alive OR e.running > 0 OR e.last_heartbeat_at > now() - interval '1 hour')),
samples(name, labels, value) AS (
    SELECT 'rota_queue_ready', labels, ready::double precision FROM queues
    UNION ALL SELECT 'rota_queue_delayed', labels, delayed FROM queues
    UNION ALL SELECT 'rota_queue_running', labels, running FROM queues
    UNION ALL SELECT 'rota_queue_waiting', labels, waiting FROM queues
    UNION ALL SELECT 'rota_queue_concurrency_limit', labels, concurrency FROM queues WHERE concurrency IS NOT NULL
    UNION ALL SELECT 'rota_queue_paused', labels, paused::int FROM queues
    UNION ALL SELECT 'rota_queue_oldest_ready_age_seconds', labels,
                     coalesce(extract(epoch FROM oldest_ready_age), 0) FROM queues
    UNION ALL SELECT 'rota_queue_tasks_succeeded', labels, succeeded_total FROM queues
    UNION ALL SELECT 'rota_queue_tasks_failed', labels, dead_total FROM queues
    UNION ALL SELECT 'rota_queue_tasks_cancelled', labels, cancelled_total FROM queues
    UNION ALL SELECT 'rota_queue_attempts_failed', labels, attempts_failed_total FROM queues
    UNION ALL SELECT 'rota_queue_retries', labels, retried_total FROM queues
    UNION ALL SELECT 'rota_queue_alert_stuck_after_seconds', labels, extract(epoch FROM alert_stuck_after) FROM queues
    UNION ALL SELECT 'rota_queue_alert_failures_per_minute', labels, alert_failures_per_minute FROM queues
    UNION ALL SELECT 'rota_queue_alert_failure_ratio', labels, alert_failure_ratio FROM queues
    UNION ALL SELECT 'rota_queue_alert_failure_window_seconds', labels, extract(epoch FROM alert_failure_window) FROM queues
    UNION ALL SELECT 'rota_queue_alert_dead_per_hour', labels, alert_dead_per_hour FROM queues
    UNION ALL SELECT 'rota_queue_alert_unreaped_after_seconds', labels, extract(epoch FROM alert_unreaped_after) FROM queues
    UNION ALL SELECT 'rota_queue_tasks_held_by_dead_executors', labels, held_by_dead FROM queues
    UNION ALL SELECT 'rota_schedule_enabled', labels, enabled::int FROM schedules
    UNION ALL SELECT 'rota_schedule_next_fire_timestamp_seconds', labels, extract(epoch FROM next_fire_at)
              FROM schedules WHERE enabled
    UNION ALL SELECT 'rota_schedule_lag_seconds', labels, greatest(extract(epoch FROM now() - next_fire_at), 0)
              FROM schedules WHERE enabled
    UNION ALL SELECT 'rota_schedule_last_fire_timestamp_seconds', labels, extract(epoch FROM last_fire_at_)
              FROM schedules WHERE last_fire_at_ IS NOT NULL
    UNION ALL SELECT 'rota_schedule_last_fire_state', labels || ',state="' || st.state || '"', (st.state = last_state)::int
              FROM schedules CROSS JOIN unnest(ARRAY['queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled']) AS st(state)
              WHERE last_state IS NOT NULL
    UNION ALL SELECT 'rota_schedule_last_fire_duration_seconds', labels, extract(epoch FROM last_duration)
              FROM schedules WHERE last_duration IS NOT NULL
    UNION ALL SELECT 'rota_schedule_alert_late_after_seconds', labels, extract(epoch FROM alert_late_after) FROM schedules
    UNION ALL SELECT 'rota_executor_alive', labels, alive::int FROM executors
    UNION ALL SELECT 'rota_executor_running_tasks', labels, running FROM executors
    UNION ALL SELECT 'rota_executor_last_heartbeat_timestamp_seconds', labels, extract(epoch FROM last_heartbeat_at)
              FROM executors
    UNION ALL SELECT 'rota_alert',
                     concat_ws(',', 'alert="' || a.alert || '"', 'queue="' || rota._metric_label(a.queue) || '"',
                               'schedule="' || rota._metric_label(a.schedule) || '"',
                               'executor="' || rota._metric_label(a.executor) || '"'), 1
              FROM rota.alerts a
    -- client sessions only: vacuum's own snapshot does not hold back cleanup
    UNION ALL SELECT 'rota_database_oldest_snapshot_age_seconds', 'database="' || rota._metric_label(current_database()) || '"',
                     CASE WHEN pg_has_role('pg_read_all_stats', 'USAGE')
                          THEN coalesce(extract(epoch FROM greatest(max(now() - a.xact_start), interval '0')), 0)
                          ELSE 'NaN' END
              FROM pg_stat_activity a
              WHERE a.datname = current_database() AND a.pid <> pg_backend_pid()
                AND a.backend_type = 'client backend' AND a.backend_xmin IS NOT NULL)
SELECT string_agg(pg_catalog.format(E'# TYPE %1$s %2$s\n# HELP %1$s %3$s\n',
                                     f.name || CASE WHEN f.type = 'counter' AND metrics.format = 'prometheus'
                                                    THEN '_total' ELSE '' END,
                                     f.type, f.help) || coalesce(s.lines, ''),
                  '' ORDER BY f.ord)
       || CASE WHEN metrics.format = 'openmetrics' THEN E'# EOF\n' ELSE '' END
FROM families f
LEFT JOIN (SELECT s.name,
                  string_agg(s.name || CASE WHEN fam.type = 'counter' THEN '_total' ELSE '' END
                             || '{' || s.labels || '} ' || rota._metric_value(s.value) || E'\n', '' ORDER BY s.labels) AS lines
           FROM samples s JOIN families fam ON fam.name = s.name
           GROUP BY s.name) s ON s.name = f.name);
END;
$fn$;
COMMENT ON FUNCTION rota.metrics(text)
    IS 'Queues, schedules, executors, active alerts and the oldest open snapshot of the database in the OpenMetrics text format (or format => ''prometheus''), for a Prometheus scrape; reads no finished-task history.';

$code$);
