-- 0017 history deletes: the attempts and steps of a task went with it through ON DELETE
-- CASCADE foreign keys, which run two queries for every deleted task (one per table): 70 %
-- of what rota.prune spent per row (10,000 expired tasks: 75 ms with them, 23 ms without).
-- rota.prune and rota.drop_queue, the only deletes of tasks, now delete them set-based.
-- Nothing can add an attempt or a step to a deleted task: every insert of one holds its
-- task's row lock while the task runs (the UPDATE that records the attempt; FOR SHARE in
-- record_step, FOR UPDATE in sleep), and prune deletes only finished tasks it has locked.
SELECT rota._migrate(17, 'history_deletes', $migration$

ALTER TABLE rota.task_attempts DROP CONSTRAINT IF EXISTS task_attempts_task_id_fkey;
ALTER TABLE rota.task_steps DROP CONSTRAINT IF EXISTS task_steps_task_id_fkey;

$migration$);
