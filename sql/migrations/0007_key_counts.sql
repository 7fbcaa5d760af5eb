-- 0007 key counts: per-key concurrency state proportional to the work, not to keys × limit.
--
-- rota._key_slots held concurrency_key_limit rows per key (2,000,000 rows for 200 keys at a
-- limit of 10,000). It is replaced by one counter row per (queue, concurrency key) that has
-- queued or running tasks: `running` is the number of running tasks of the key that hold
-- a count (tasks.key_slot IS NOT NULL). Who touches a row, and in which lock mode:
--   * enqueue of a keyed task into a key-limited queue creates the row if missing and
--     holds FOR KEY SHARE until commit, so that prune cannot delete it under the
--     uncommitted task (KEY SHARE does not conflict with the modes below but FOR UPDATE);
--   * claim locks it FOR NO KEY UPDATE SKIP LOCKED, starts a task only while
--     running < limit, and increments it (rota._take_key_count);
--   * complete, fail, reap and stop_executor decrement it (rota._release_holds);
--   * prune deletes rows with running = 0 and no queued task of the key, FOR UPDATE SKIP
--     LOCKED and checked again after the lock.
-- `running` is not indexed and pages keep half their space free: counts are HOT updates.
SELECT rota._migrate(7, 'key_counts', $migration$

CREATE TABLE rota._key_counts (
    queue           text NOT NULL,
    concurrency_key text NOT NULL,
    running         integer NOT NULL DEFAULT 0
        CONSTRAINT key_counts_running_not_negative CHECK (running >= 0),
    PRIMARY KEY (queue, concurrency_key)
) WITH (fillfactor = 50, autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000);

-- The busy key slots become counts; a running task whose key slot was not its own (a stale
-- record) holds no count.
INSERT INTO rota._key_counts (queue, concurrency_key, running)
SELECT k.queue, k.concurrency_key, count(*)
FROM rota._key_slots k
JOIN rota.tasks t ON t.id = k.task_id AND t.state = 'running' AND t.key_slot = k.slot
GROUP BY k.queue, k.concurrency_key;
UPDATE rota.tasks t SET key_slot = NULL
WHERE t.state = 'running' AND t.key_slot IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM rota._key_slots k
                  WHERE k.queue = t.queue AND k.concurrency_key = t.concurrency_key
                    AND k.slot = t.key_slot AND k.task_id = t.id);
-- Keys with queued tasks in key-limited queues get their row now (claims would create it).
INSERT INTO rota._key_counts (queue, concurrency_key)
SELECT DISTINCT t.queue, t.concurrency_key
FROM rota.tasks t JOIN rota.queues q ON q.name = t.queue AND q.concurrency_key_limit IS NOT NULL
WHERE t.state = 'queued' AND t.concurrency_key IS NOT NULL
ORDER BY 1, 2
ON CONFLICT DO NOTHING;
DROP TABLE rota._key_slots;

COMMENT ON COLUMN rota.tasks.key_slot
    IS 'While running: NULL, or the key''s running count when this task was counted in rota._key_counts (it holds one count, released when it stops running).';

-- Queued tasks of a key: prune keeps a key's row while one exists. Only keyed tasks pay for
-- it, once, at enqueue (running rows are not in it, so a claim adds no entry).
CREATE INDEX tasks_queued_key_idx ON rota.tasks (queue, concurrency_key)
    WHERE state = 'queued' AND concurrency_key IS NOT NULL;

$migration$);
