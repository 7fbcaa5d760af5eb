-- 0009 workflow waits: durable sleep (a task released to its queue until a later run_at)
-- and waits for child tasks (a parent out of the worker until its last child ends).
--
-- A parent that waits for its children is in the new state 'waiting': it holds no lease,
-- slot or attempt, no claim sees it (the ready index covers 'queued' only), and
-- children_open counts its children not yet in a final state when it began to wait. Each
-- child that reaches a final state counts itself off under the parent's row lock, in the
-- transaction that ends the child; the child that brings the count to zero makes the parent
-- queued again (rota._wake_parents in sql/code/55_waits.sql).
SELECT rota._migrate(9, 'workflow_waits', $migration$

ALTER TABLE rota.tasks
    DROP CONSTRAINT tasks_state_valid,
    ADD CONSTRAINT tasks_state_valid
        CHECK (state IN ('queued', 'running', 'waiting', 'succeeded', 'failed', 'cancelled')),
    ADD COLUMN children_open integer,
    ADD CONSTRAINT tasks_waiting_counted
        CHECK ((state = 'waiting') = (children_open IS NOT NULL) AND (children_open IS NULL OR children_open > 0));
COMMENT ON COLUMN rota.tasks.children_open
    IS 'While waiting (rota.wait_for_children): the children not yet in a final state; the last one to end queues the task again.';
COMMENT ON TABLE rota.tasks
    IS 'Tasks: queued -> running -> succeeded | failed | cancelled (failed/cancelled may be retried); running -> waiting -> queued while a workflow waits for its children.';

-- A parent's children: counted when it waits, read when it resumes, cancelled with it.
-- Only tasks with a parent pay for it.
CREATE INDEX tasks_parent_idx ON rota.tasks (parent_id) WHERE parent_id IS NOT NULL;
-- Waiting tasks per queue, for rota.queue_overview (which reads indexes, never the history).
CREATE INDEX tasks_waiting_idx ON rota.tasks (queue) WHERE state = 'waiting';

-- Step names as rota.step and rota.record_step accept them (rota._name_pattern), also for
-- rows written by hand.
ALTER TABLE rota.task_steps
    ADD CONSTRAINT task_steps_name_format CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$');

$migration$);
