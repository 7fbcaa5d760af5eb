-- 0004 apply: queues and schedules as code, in one idempotent call every replica may make.
--
-- A definitions document carries a version. The highest version applied wins: a replica
-- of the previous release that restarts during a rolling deploy applies an older version,
-- which changes nothing.
SELECT rota._migrate(4, 'apply', $migration$

CREATE TABLE rota.definitions (
    singleton  boolean PRIMARY KEY DEFAULT true,
    version    bigint NOT NULL,
    checksum   text NOT NULL,
    document   jsonb NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT definitions_single_row CHECK (singleton)
);

$migration$);
