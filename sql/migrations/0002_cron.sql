-- 0002 cron: the parsed form of a cron expression (the functions: sql/code/70_cron.sql).

SELECT rota._migrate(2, 'cron', $migration$

-- The parsed form of a cron expression: one bitmap per field (bit v set = value v
-- selected) and the Vixie flags (field starts with "*").
CREATE TYPE rota._cron_spec AS (
    secs     bigint,
    mins     bigint,
    hours    bigint,
    doms     bigint,
    months   bigint,
    dows     bigint,
    dom_star boolean,
    dow_star boolean
);

$migration$);
