-- 0014 claim plans: tasks_ready_any_queue_idx (0012) is for the many-queues claim alone.
-- Without a predicate of its own, the generic plans of the other claim statements took it
-- as well: a probe of one queue (or a lock of a few ids) walked the ready rows of every
-- queue in claim order, filtering on the queue, because that order is the one they sort
-- by. With two queues, one of them holding a backlog, each claim then read the whole
-- backlog (2,000 claims of 4 tasks from a queue beside 60,000 queued tasks: 3.9 s; with
-- this, 1.0 s). `id > 0` holds for every task (ids come from a sequence starting at 1);
-- only a query that states it (the many-queues walk in rota.claim) can use the index.
SELECT rota._migrate(14, 'claim_plans', $migration$

DROP INDEX IF EXISTS rota.tasks_ready_any_queue_idx;
CREATE INDEX tasks_ready_any_queue_idx ON rota.tasks (priority, run_at, id)
    INCLUDE (queue) WHERE state = 'queued' AND id > 0;

$migration$);
