-- Setup of bench/claim_complete.pgbench: a queue `bench` with 50,000 queued tasks.
-- Run by scripts/bench-sql.sh in a fresh database (fresh_db rota_bench).
\set ON_ERROR_STOP 1
SELECT rota.define_queue('bench', lease => '5 minutes');
-- pgbench client ids start at 0: executors bench-0 .. bench-255
SELECT count(*) AS executors FROM (SELECT rota.register_executor('bench-' || g) FROM generate_series(0, 255) AS g) AS r;
SELECT count(*) AS enqueued
FROM rota.enqueue_many('bench', 'noop',
                       ARRAY(SELECT jsonb_build_object('n', g) FROM generate_series(1, 50000) g));
VACUUM ANALYZE rota.tasks;
