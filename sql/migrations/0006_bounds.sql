-- 0006 bounds: upper limits on queue intervals, schedule failures recorded per schedule,
-- fire conflicts recorded per fire.
--
-- Intervals without an upper bound overflowed timestamps (now() + '1000000 years') in
-- claim, heartbeat, reap and prune, for every queue at once. rota.define_queue now
-- rejects them (RO010); the constraints repeat its bounds as the last line of defence,
-- and rows written before are brought within them first (a value that broke every call
-- behaves as the largest allowed one).
-- A schedule whose fire fails (its enqueue raises) is recorded and retried later with
-- backoff instead of aborting rota.fire_due for every schedule.
SELECT rota._migrate(6, 'bounds', $migration$

UPDATE rota.queues
SET lease = least(lease, interval '1 day'),
    rate_period = least(rate_period, interval '30 days'),
    backoff_base = least(backoff_base, interval '30 days'),
    backoff_max = least(backoff_max, interval '30 days'),
    retention = least(retention, interval '10 years');
ALTER TABLE rota.queues
    ADD CONSTRAINT queues_lease_at_most CHECK (lease <= interval '1 day'),
    ADD CONSTRAINT queues_rate_period_at_most CHECK (rate_period <= interval '30 days'),
    ADD CONSTRAINT queues_backoff_max_at_most CHECK (backoff_max <= interval '30 days'),
    ADD CONSTRAINT queues_retention_at_most CHECK (retention <= interval '10 years');

UPDATE rota.schedules SET catch_up_max = 1000 WHERE catch_up_max > 1000;
ALTER TABLE rota.schedules
    ADD CONSTRAINT schedules_catch_up_max_at_most CHECK (catch_up_max <= 1000),
    -- the last failed fire of the schedule (kept after later successes, as a record)
    ADD COLUMN last_error text,
    ADD COLUMN failed_at timestamptz,
    -- consecutive failed fires; 0 after a fire succeeds
    ADD COLUMN failures integer NOT NULL DEFAULT 0,
    -- while failing: no fire is tried before this instant (exponential backoff)
    ADD COLUMN retry_at timestamptz;

-- A fire whose key was already held by a task the schedule did not enqueue: the fire is
-- recorded with this error and no task, instead of adopting the other task.
ALTER TABLE rota.schedule_fires ADD COLUMN error text;

$migration$);
