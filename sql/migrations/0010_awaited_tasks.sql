-- 0010 awaited tasks: who waits for a task's final state.
--
-- A NOTIFY costs every committing transaction a turn at the server-wide notification
-- queue, so final states are announced only for the tasks someone waits for: a row here,
-- written by rota.start and rota.await_task, makes the statement that finishes the task
-- send NOTIFY rota_task_finished, '<id>' and delete the row (rota._notify_finished). The
-- table is empty unless callers wait, so the check costs a completion batch one probe of
-- an empty index. No foreign key: it would add a trigger to every delete of a task; a
-- row outlives its task only if the task is deleted without reaching a final state
-- (rota.drop_queue with force), and then names no task.
SELECT rota._migrate(10, 'awaited_tasks', $migration$

CREATE TABLE rota._awaited_tasks (
    task_id    bigint PRIMARY KEY,
    awaited_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE rota._awaited_tasks IS 'Tasks whose final state is announced on NOTIFY rota_task_finished (written by rota.start and rota.await_task).';

$migration$);
