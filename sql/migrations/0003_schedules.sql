-- 0003 schedules: cron schedules that fire exactly once per interval across replicas.
--
-- A fire of schedule S at instant T is the row (S, T) of rota.schedule_fires, inserted in
-- the same transaction that enqueues its task with key `schedule:S:T`. Replicas race in
-- rota.fire_due; the schedule row lock (SKIP LOCKED) makes one of them do the work and the
-- primary key makes a second fire of (S, T) impossible even across redefinitions.
SELECT rota._migrate(3, 'schedules', $migration$

-- No column DEFAULTs for what rota.define_schedule writes: its parameter defaults are the
-- one place where a schedule's defaults live.
CREATE TABLE rota.schedules (
    name          text PRIMARY KEY,
    cron          text NOT NULL,
    timezone      text NOT NULL,
    queue         text NOT NULL REFERENCES rota.queues (name) ON UPDATE CASCADE,
    task          text NOT NULL,
    payload       jsonb NOT NULL,
    catch_up      text NOT NULL,
    catch_up_max  integer NOT NULL,
    enabled       boolean NOT NULL,
    -- set by rota.apply; only managed schedules are disabled when a definitions document omits them
    managed       boolean NOT NULL DEFAULT false,
    next_fire_at  timestamptz,
    last_fire_at  timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT schedules_catch_up_known CHECK (catch_up IN ('none', 'latest', 'all')),
    CONSTRAINT schedules_catch_up_max_positive CHECK (catch_up_max >= 1),
    CONSTRAINT schedules_payload_object CHECK (jsonb_typeof(payload) = 'object'),
    CONSTRAINT schedules_enabled_has_next CHECK (NOT enabled OR next_fire_at IS NOT NULL)
);

-- The ticker's question "when is the next fire anywhere" is answered from this index.
CREATE INDEX schedules_due_idx ON rota.schedules (next_fire_at) WHERE enabled;

CREATE TABLE rota.schedule_fires (
    schedule  text NOT NULL REFERENCES rota.schedules (name) ON DELETE CASCADE ON UPDATE CASCADE,
    fire_at   timestamptz NOT NULL,
    task_id   bigint,
    executor  text,
    manual    boolean NOT NULL DEFAULT false,
    fired_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
    PRIMARY KEY (schedule, fire_at)
);

CREATE INDEX schedule_fires_task_idx ON rota.schedule_fires (task_id);

$migration$);
