-- 0016 retention index: rota.prune found its victims with a sequential scan of rota.tasks
-- (no index leads to finished tasks by their finish time), so a call with nothing due read
-- the whole history: every replica, every prune interval, 10,000,000 rows for a table of
-- that size. Finished tasks are now indexed by queue and finish time, and a call reads
-- the rows it deletes plus one probe per queue. The price is one index entry per finished
-- task (its completion writes it with the row's new version).
SELECT rota._migrate(16, 'retention_index', $migration$

CREATE INDEX IF NOT EXISTS tasks_finished_idx ON rota.tasks (queue, finished_at)
    WHERE state IN ('succeeded', 'failed', 'cancelled');

$migration$);
