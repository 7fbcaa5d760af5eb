-- 0018 bounded housekeeping: rota.prune's sweep of idle key rows looked for up to max_rows
-- idle keys among every count row, each with a probe for queued tasks, so with 100,000
-- tenants that all had work queued, one call probed 100,000 rows (250 ms) to find none.
-- It now reads at most max_rows count rows per call, in key order from where the last call
-- stopped (swept_queue, swept_key; NULL: from the first), wrapping around at the end.
-- Folding old counter buckets found them with a scan of every counter row; they are now
-- found through an index on the bucket. Counter updates stay HOT: a bucket never changes.
SELECT rota._migrate(18, 'bounded_housekeeping', $migration$

ALTER TABLE rota._prune_housekeeping
    ADD COLUMN IF NOT EXISTS swept_queue text,
    ADD COLUMN IF NOT EXISTS swept_key text;

CREATE INDEX IF NOT EXISTS queue_counts_bucket_idx ON rota._queue_counts (bucket);

$migration$);
