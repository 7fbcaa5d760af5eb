-- 0013 bytes: fewer WAL bytes per task (issue 12, measured by bench/bytes_per_task.sh).
--
-- A task is inserted once and updated twice (claim: queued -> running, complete: running ->
-- succeeded). Neither update can be HOT (`state` is in the partial indexes' predicates), but
-- each can still keep its new row version on the old one's page. Then PostgreSQL logs only
-- the bytes that changed between the versions (prefix and suffix are left out of the
-- record) and needs no extra lock record for a move to another page. At fillfactor 70 a
-- page of freshly enqueued tasks had room for about a third of the new versions its tasks
-- need, so 0.63 of the two updates per task went to another page (1054 WAL bytes per claim +
-- complete, SQL-only drain of 8,000 tasks); at 40 it is 0.05 (949 bytes, -10 %), at 30
-- 0.006 for no further gain. The price is space: a page takes 4/7 of the new tasks it took
-- (a backlog takes up to 1.75x the heap pages; finished history took 1.35x in that drain).
-- Only pages filled from now on use it; nothing is rewritten.
SELECT rota._migrate(13, 'bytes', $migration$

ALTER TABLE rota.tasks SET (fillfactor = 40);

$migration$);
