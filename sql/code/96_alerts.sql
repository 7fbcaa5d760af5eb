SELECT rota._apply_code('alerts', $code$

-- Active alerts, one row each, from the thresholds of queues and schedules (set by
-- define_queue / define_schedule / apply). Every part reads bounded rows: the oldest
-- ready task through the queued index, running tasks, the counter rows of a window.
--   queue_stuck          ready work older than alert_stuck_after while no alive executor
--                        serves the queue or nothing finished in that window (paused queues
--                        are left out: they stop on purpose)
--   retry_storm          failed attempts per minute over alert_failures_per_minute, or a
--                        failed share over alert_failure_ratio (with at least 5 failures),
--                        within alert_failure_window
--   schedule_late        an enabled schedule's next fire overdue by more than alert_late_after
--   dead_executor_tasks  running tasks of a dead executor whose lease expired more than
--                        alert_unreaped_after ago (nobody reaps them)
--   dead_letter_growth   at least alert_dead_per_hour tasks ended failed in the last hour
CREATE OR REPLACE VIEW rota.alerts AS
SELECT 'queue_stuck'::text AS alert, q.name AS queue, NULL::text AS schedule, NULL::text AS executor,
       extract(epoch FROM now() - o.run_at)::double precision AS value,
       extract(epoch FROM q.alert_stuck_after)::double precision AS threshold,
       o.run_at + q.alert_stuck_after AS since,
       format('queue %s: ready work has waited %s (threshold %s); %s', q.name,
              date_trunc('second', now() - o.run_at), q.alert_stuck_after,
              CASE WHEN NOT served.any THEN 'no alive executor serves it'
                   ELSE 'nothing finished in that window' END) AS message
FROM rota.queues q
CROSS JOIN LATERAL (SELECT t.run_at FROM rota.tasks t
                    WHERE t.queue = q.name AND t.state = 'queued'
                    ORDER BY t.run_at LIMIT 1) o
CROSS JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM rota.executor_status e
                                   WHERE e.alive AND (e.queues IS NULL OR q.name = ANY (e.queues))) AS any) served
CROSS JOIN LATERAL (SELECT coalesce(sum(c.succeeded + c.attempts_failed + c.cancelled), 0) AS finished
                    FROM rota._queue_counts c
                    WHERE c.queue = q.name AND c.bucket >= date_trunc('minute', now() - q.alert_stuck_after)) w
WHERE NOT q.paused AND o.run_at < now() - q.alert_stuck_after AND (NOT served.any OR w.finished = 0)
UNION ALL
SELECT 'retry_storm', q.name, NULL, NULL,
       w.failed / (extract(epoch FROM q.alert_failure_window) / 60)::double precision,
       q.alert_failures_per_minute::double precision,
       NULL::timestamptz,
       format('queue %s: %s failed attempts and %s successes in the last %s (thresholds: %s per minute, ratio %s)',
              q.name, w.failed, w.succeeded, q.alert_failure_window, q.alert_failures_per_minute,
              q.alert_failure_ratio)
FROM rota.queues q
CROSS JOIN LATERAL (SELECT coalesce(sum(c.attempts_failed), 0)::double precision AS failed,
                           coalesce(sum(c.succeeded), 0)::double precision AS succeeded
                    FROM rota._queue_counts c
                    WHERE c.queue = q.name AND c.bucket >= now() - q.alert_failure_window) w
WHERE w.failed / (extract(epoch FROM q.alert_failure_window) / 60) > q.alert_failures_per_minute
   OR (w.failed >= 5 AND w.failed / (w.failed + w.succeeded) > q.alert_failure_ratio)
UNION ALL
SELECT 'schedule_late', s.queue, s.name, NULL,
       extract(epoch FROM now() - s.next_fire_at)::double precision,
       extract(epoch FROM s.alert_late_after)::double precision,
       s.next_fire_at + s.alert_late_after,
       format('schedule %s: the fire due at %s is %s late (threshold %s)', s.name, rota._iso_utc(s.next_fire_at),
              date_trunc('second', now() - s.next_fire_at), s.alert_late_after)
FROM rota.schedules s
WHERE s.enabled AND s.next_fire_at < now() - s.alert_late_after
UNION ALL
SELECT 'dead_executor_tasks', d.queue, NULL, d.executor, d.tasks::double precision,
       extract(epoch FROM d.alert_unreaped_after)::double precision,
       d.oldest_expiry + d.alert_unreaped_after,
       format('queue %s: %s running tasks of dead executor %s, leases expired since %s, not reaped', d.queue,
              d.tasks, d.executor, rota._iso_utc(date_trunc('second', d.oldest_expiry)))
FROM (SELECT t.queue, t.executor, q.alert_unreaped_after, count(*) AS tasks, min(t.lease_expires_at) AS oldest_expiry
      FROM rota.tasks t
      JOIN rota.queues q ON q.name = t.queue
      WHERE t.state = 'running' AND t.lease_expires_at < now() - q.alert_unreaped_after
        AND NOT EXISTS (SELECT 1 FROM rota.executor_status e WHERE e.executor = t.executor AND e.alive)
      GROUP BY t.queue, t.executor, q.alert_unreaped_after) d
UNION ALL
SELECT 'dead_letter_growth', q.name, NULL, NULL, w.dead::double precision, q.alert_dead_per_hour::double precision,
       NULL,
       format('queue %s: %s tasks ended failed in the last hour (threshold %s)', q.name, w.dead, q.alert_dead_per_hour)
FROM rota.queues q
CROSS JOIN LATERAL (SELECT coalesce(sum(c.dead), 0) AS dead
                    FROM rota._queue_counts c
                    WHERE c.queue = q.name AND c.bucket >= now() - interval '1 hour') w
WHERE w.dead >= q.alert_dead_per_hour;
COMMENT ON VIEW rota.alerts IS 'Active alerts: queue_stuck, retry_storm, schedule_late, dead_executor_tasks, dead_letter_growth; value against threshold, and a message.';

$code$);
