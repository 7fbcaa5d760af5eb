SELECT rota._apply_code('views', $code$

CREATE OR REPLACE VIEW rota.queue_stats AS
SELECT q.name AS queue,
       coalesce(s.ready, 0) AS ready,
       coalesce(s.delayed, 0) AS delayed,
       coalesce(s.running, 0) AS running,
       coalesce(s.succeeded, 0) AS succeeded,
       coalesce(s.failed, 0) AS failed,
       coalesce(s.cancelled, 0) AS cancelled,
       now() - s.oldest_ready AS oldest_ready_age,
       q.concurrency,
       (SELECT count(*) FROM rota._queue_slots qs WHERE qs.queue = q.name AND qs.task_id IS NOT NULL) AS slots_in_use,
       q.rate_limit,
       q.rate_period,
       q.concurrency_key_limit,
       q.paused,
       coalesce(s.waiting, 0) AS waiting
FROM rota.queues q
LEFT JOIN (
    SELECT t.queue,
           count(*) FILTER (WHERE t.state = 'queued' AND t.run_at <= now()) AS ready,
           count(*) FILTER (WHERE t.state = 'queued' AND t.run_at > now()) AS delayed,
           count(*) FILTER (WHERE t.state = 'running') AS running,
           count(*) FILTER (WHERE t.state = 'waiting') AS waiting,
           count(*) FILTER (WHERE t.state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE t.state = 'failed') AS failed,
           count(*) FILTER (WHERE t.state = 'cancelled') AS cancelled,
           min(t.run_at) FILTER (WHERE t.state = 'queued' AND t.run_at <= now()) AS oldest_ready
    FROM rota.tasks t
    GROUP BY t.queue) AS s ON s.queue = q.name;
COMMENT ON VIEW rota.queue_stats IS 'Per queue: tasks by state, age of the oldest ready task, limits and slots in use.';

CREATE OR REPLACE VIEW rota.failures AS
SELECT a.task_id, t.queue, t.task, a.attempt, a.executor, a.outcome, a.error, a.started_at,
       a.finished_at AS failed_at,
       (t.state = 'failed' AND a.attempt = t.attempts) AS final
FROM rota.task_attempts a
JOIN rota.tasks t ON t.id = a.task_id
WHERE a.outcome IN ('failed', 'lease_expired');
COMMENT ON VIEW rota.failures IS 'Every failed or lease-expired attempt; final is true for the attempt that left the task failed.';

CREATE OR REPLACE VIEW rota.executor_status AS
SELECT e.id AS executor, e.host, e.pid, e.queues,
       (e.stopped_at IS NULL
        AND e.last_heartbeat_at > now() - 2 * coalesce((SELECT max(q.lease) FROM rota.queues q), interval '30 seconds'))
           AS alive,
       (e.stopped_at IS NOT NULL) AS stopped,
       (SELECT count(*) FROM rota.tasks t WHERE t.executor = e.id AND t.state = 'running') AS running,
       e.last_heartbeat_at, e.started_at, e.stopped_at, e.meta
FROM rota.executors e;
COMMENT ON VIEW rota.executor_status IS 'Executors; alive means not stopped and a heartbeat within twice the longest queue lease.';

-- Each fire with the outcome of its task.
CREATE OR REPLACE VIEW rota.schedule_fire_status AS
SELECT f.schedule, f.fire_at, f.manual, f.fired_at, f.executor AS fired_by, f.task_id,
       t.state AS task_state, t.attempts, t.started_at, t.finished_at, t.executor AS task_executor,
       t.last_error, f.error AS fire_error
FROM rota.schedule_fires f
LEFT JOIN rota.tasks t ON t.id = f.task_id;

-- Per schedule: its definition, next and last fire, the last fires' outcomes, and its
-- failed fires (last_error: the last one; failures: how many in a row, retry_at: when the
-- next try is).
CREATE OR REPLACE VIEW rota.schedule_status AS
SELECT s.name, s.cron, s.timezone, s.queue, s.task, s.enabled, s.catch_up, s.managed,
       s.next_fire_at, s.last_fire_at,
       last.task_state AS last_task_state, last.started_at AS last_started_at,
       last.finished_at AS last_finished_at, last.task_executor AS last_executor,
       coalesce(recent.fires, '[]'::jsonb) AS recent_fires,
       s.last_error, s.failed_at, s.failures, s.retry_at
FROM rota.schedules s
LEFT JOIN LATERAL (
    SELECT fs.* FROM rota.schedule_fire_status fs
    WHERE fs.schedule = s.name ORDER BY fs.fire_at DESC LIMIT 1
) last ON true
LEFT JOIN LATERAL (
    SELECT jsonb_agg(jsonb_build_object(
               'fire_at', r.fire_at, 'manual', r.manual, 'task_id', r.task_id, 'state', r.task_state,
               'started_at', r.started_at, 'finished_at', r.finished_at, 'executor', r.task_executor)
           ORDER BY r.fire_at DESC) AS fires
    FROM (SELECT fs.* FROM rota.schedule_fire_status fs
          WHERE fs.schedule = s.name ORDER BY fs.fire_at DESC LIMIT 10) r
) recent ON true;

-- Step checkpoints of workflows, with their task's queue, name and state.
CREATE OR REPLACE VIEW rota.step_outputs AS
SELECT s.task_id, t.queue, t.task, t.state AS task_state, s.name AS step, s.attempt, s.output, s.recorded_at
FROM rota.task_steps s
JOIN rota.tasks t ON t.id = s.task_id;
COMMENT ON VIEW rota.step_outputs IS 'Every recorded step of a task: its output and the attempt that recorded it.';

-- Tasks for readers (rota tasks, the dashboard): every column but the lease token, which
-- would let a reader complete or fail another executor's attempt.
CREATE OR REPLACE VIEW rota.task_details AS
SELECT t.id, t.queue, t.task, t.payload, t.key, t.state, t.priority, t.run_at, t.attempts, t.attempts_refunded,
       t.max_attempts, t.concurrency_key, t.parent_id, t.executor, t.lease_expires_at, t.cancel_requested,
       t.result, t.last_error, t.enqueued_at, t.enqueued_by, t.started_at, t.finished_at
FROM rota.tasks t;
COMMENT ON VIEW rota.task_details IS 'Every task with its state, payload, result and last error (without its lease token).';

-- Attempts that did not succeed, for readers.
CREATE OR REPLACE VIEW rota.task_attempt_history AS
SELECT a.task_id, a.attempt, a.executor, a.outcome, a.started_at, a.finished_at, a.error
FROM rota.task_attempts a;
COMMENT ON VIEW rota.task_attempt_history IS 'Attempts that failed, expired or were released, with the executor and the error.';

$code$);
