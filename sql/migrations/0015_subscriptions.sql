-- 0015 subscriptions: a claim over many queues (a worker given 1,000 queue names) used to
-- look every name up in rota.queues on every call, to check that each exists and to learn
-- which are paused or limited: 1,000 index probes, about half the cost of such a claim.
-- What it learns now stays in one row per executor, valid while the catalog of queues
-- keeps the version it was read at; any change of rota.queues moves the version on.
SELECT rota._migrate(15, 'subscriptions', $migration$

-- One row: the version of rota.queues. Every statement that changes a queue moves it on
-- and the functions that change queues lock it first, so that
-- they wait for each other in one order.
CREATE TABLE rota._queue_catalog (
    singleton boolean PRIMARY KEY DEFAULT true CONSTRAINT queue_catalog_singleton CHECK (singleton),
    version   bigint NOT NULL DEFAULT 0
);
INSERT INTO rota._queue_catalog DEFAULT VALUES;

-- What rota.claim knows of an executor's queue list: valid while catalog_version is the
-- catalog's version and the claim names the same queues (all of them known then).
CREATE TABLE rota._executor_subscriptions (
    executor        text PRIMARY KEY REFERENCES rota.executors (id) ON DELETE CASCADE,
    queues          text[] NOT NULL,
    catalog_version bigint NOT NULL,
    paused_queues   text[] NOT NULL,
    any_open        boolean NOT NULL,
    any_limited     boolean NOT NULL,
    -- the list names every queue there is: a claim need not filter on it
    all_queues      boolean NOT NULL
);

$migration$);
