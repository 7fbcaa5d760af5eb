-- 0016 retention index: rota.prune found its victims with a sequential scan of rota.tasks
-- (no index leads to finished tasks by their finish time), so a call with nothing due read
-- the whole history: every replica, every prune interval, 10,000,000 rows for a table of
-- that size. Finished tasks are now indexed by queue and finish time, and a call reads
-- the rows it deletes plus one probe per queue. The price is one index entry per finished
-- task (its completion writes it with the row's new version). Workers now call it paced,
-- many times a minute while tasks expire; its housekeeping (idle key rows, old counter
-- buckets), which reads every count row, is done at most once a minute, whoever calls.
-- Upgrading a database with a long history: building the index holds off writes to
-- rota.tasks until it is built (4.7 s for 8,800,000 finished tasks on a 2-core machine).
-- To avoid that, build it first with the same statement and CONCURRENTLY (outside a
-- transaction); this migration then finds it and goes on.
SELECT rota._migrate(16, 'retention_index', $migration$

CREATE INDEX IF NOT EXISTS tasks_finished_idx ON rota.tasks (queue, finished_at)
    WHERE state IN ('succeeded', 'failed', 'cancelled');

-- One row: when rota.prune last did its housekeeping.
CREATE TABLE rota._prune_housekeeping (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT prune_housekeeping_singleton CHECK (singleton),
    done_at   timestamptz NOT NULL DEFAULT '-infinity'
);
INSERT INTO rota._prune_housekeeping DEFAULT VALUES;

$migration$);
