-- A keyed enqueue reads the key table's index (rota._task_keys, migration 0020) once per
-- key that exists already, never the queue's other keyed tasks: until now it joined its keys with every keyed task of the queue, so
-- each batch of a fan-out read all the batches before it (the 100th batch of 1,000
-- children read 99,000 rows). Counted with this transaction's own statistics
-- (pg_stat_get_xact_*).
BEGIN;
SELECT plan(6);

CREATE FUNCTION pg_temp.key_index_reads() RETURNS bigint LANGUAGE sql AS
$$ SELECT pg_stat_get_xact_tuples_returned('rota._task_keys_pkey'::regclass) $$;
CREATE FUNCTION pg_temp.table_rows_scanned() RETURNS bigint LANGUAGE sql AS
$$ SELECT pg_stat_get_xact_tuples_returned('rota.tasks'::regclass) $$;

SELECT rota.define_queue('kids');
SELECT rota.enqueue('kids', 'parent') AS parent \gset
-- the batches before: 5,000 keyed children, analyzed
SELECT count(*) FROM rota.enqueue_many('kids', 'child', array_fill('{}'::jsonb, ARRAY[5000]),
                                       keys => ARRAY(SELECT 'tenant-' || g FROM generate_series(1, 5000) AS g),
                                       parent_id => :parent);
ANALYZE rota.tasks;

-- a new batch: 1,000 new keys
SELECT pg_temp.key_index_reads() AS key0, pg_temp.table_rows_scanned() AS rows0 \gset
SELECT is((SELECT count(*) FROM rota.enqueue_many('kids', 'child', array_fill('{}'::jsonb, ARRAY[1000]),
                                                  keys => ARRAY(SELECT 'tenant-' || g FROM generate_series(5001, 6000) AS g),
                                                  parent_id => :parent)),
          1000::bigint, 'a batch of 1,000 new keys is enqueued');
SELECT is(pg_temp.key_index_reads() - :key0, 0::bigint, 'new keys: the key index returns no entry');
SELECT is(pg_temp.table_rows_scanned() - :rows0, 0::bigint, 'new keys: no task is read by a scan of the table');

-- a batch with 10 keys that exist, between new ones: their ids come back in input order
SELECT pg_temp.key_index_reads() AS key0, pg_temp.table_rows_scanned() AS rows0 \gset
CREATE TEMP TABLE batch AS
SELECT x.id, x.ord FROM rota.enqueue_many('kids', 'child', array_fill('{}'::jsonb, ARRAY[20]),
                                          keys => ARRAY(SELECT CASE WHEN g % 2 = 0 THEN 'tenant-' || g ELSE 'new-' || g END
                                                        FROM generate_series(1, 20) AS g ORDER BY g),
                                          parent_id => :parent) WITH ORDINALITY AS x(id, ord);
-- each existing key: one entry for the insert's conflict check, one for the lookup
SELECT cmp_ok(pg_temp.key_index_reads() - :key0, '<=', 20::bigint,
              'existing keys: at most two key-index entries per existing key');
SELECT is(pg_temp.table_rows_scanned() - :rows0, 0::bigint, 'existing keys: no task is read by a scan of the table');

SELECT is((SELECT array_agg(t.key ORDER BY b.ord) FROM batch b JOIN rota.tasks t ON t.id = b.id),
          ARRAY(SELECT CASE WHEN g % 2 = 0 THEN 'tenant-' || g ELSE 'new-' || g END FROM generate_series(1, 20) AS g ORDER BY g),
          'existing and new keys: each input gets the task of its key, in input order');
SELECT * FROM finish();
ROLLBACK;
