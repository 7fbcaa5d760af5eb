-- 0012 ready rows of every queue in claim order: a claim over many queues (a worker
-- subscribed to 1,000 queues) walks one index in (priority, run_at, id) order and keeps the
-- rows of its queues, instead of probing each queue's part of tasks_ready_idx and sorting
-- what the probes found (which cost every claim O(queues), and more with each backlog).
-- A task pays for it once, at enqueue: claimed and finished rows are not in it.
SELECT rota._migrate(12, 'ready_any_queue', $migration$

CREATE INDEX IF NOT EXISTS tasks_ready_any_queue_idx ON rota.tasks (priority, run_at, id)
    INCLUDE (queue) WHERE state = 'queued';

$migration$);
