-- 0020 task links: a task's idempotency key and its parent were indexed in rota.tasks
-- itself (tasks_queue_key_idx, unique; tasks_parent_idx). A task's claim and its completion
-- are non-HOT updates (they change `state`, which the ready and running indexes name), and
-- a non-HOT update adds an entry to every index the new row version meets: each keyed
-- child of a fan-out wrote four more index entries in its life than a plain task, two of
-- them with a uniqueness check that visits the row's older versions (40,000 keyed
-- children: database CPU per child 61-64 µs with both indexes, 54-57 without, as plain
-- tasks). Keys and parent links now live in tables of their own, written once when the
-- task is enqueued and deleted with it (rota._enqueue, rota._delete_tasks); tasks.key and
-- tasks.parent_id stay, for reading. A row written into rota.tasks by hand, bypassing
-- rota's functions, has neither: its key deduplicates nothing and its parent does not see
-- it as a child.
SELECT rota._migrate(20, 'task_links', $migration$

CREATE TABLE rota._task_keys (
    queue   text NOT NULL,
    key     text NOT NULL,
    task_id bigint NOT NULL,
    PRIMARY KEY (queue, key)
);
COMMENT ON TABLE rota._task_keys IS 'The idempotency key of each task that has one, unique per queue, for as long as the task exists.';

CREATE TABLE rota._task_children (
    parent_id bigint NOT NULL,
    task_id   bigint NOT NULL,
    PRIMARY KEY (parent_id, task_id)
);
COMMENT ON TABLE rota._task_children IS 'The children of each task (tasks.parent_id), for as long as the child exists.';

-- No enqueue may add a key or a child between the copy and the drop of the old indexes.
-- The lock is the one DROP INDEX takes, taken first so that it is never an upgrade.
LOCK TABLE rota.tasks IN ACCESS EXCLUSIVE MODE;
INSERT INTO rota._task_keys (queue, key, task_id)
SELECT t.queue, t.key, t.id FROM rota.tasks t WHERE t.key IS NOT NULL;
INSERT INTO rota._task_children (parent_id, task_id)
SELECT t.parent_id, t.id FROM rota.tasks t WHERE t.parent_id IS NOT NULL;
DROP INDEX rota.tasks_queue_key_idx;
DROP INDEX rota.tasks_parent_idx;

$migration$);
