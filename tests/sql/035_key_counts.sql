-- Per-key concurrency limits: one count row per (queue, concurrency key) with queued or
-- running tasks; limits respected, lowered, raised, introduced and removed; idle rows pruned.
BEGIN;
SELECT plan(50);

SELECT rota.register_executor('w1');
CREATE FUNCTION pg_temp.counts(p_queue text) RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(k.concurrency_key || '=' || k.running, ' ' ORDER BY k.concurrency_key COLLATE "C"), '')
    FROM rota._key_counts k WHERE k.queue = p_queue;
$$;
CREATE FUNCTION pg_temp.complete_one(p_queue text, p_key text) RETURNS boolean LANGUAGE sql AS $$
    SELECT rota.complete(t.id, t.attempts, token => token(t.id, t.attempts)) FROM rota.tasks t
    WHERE t.queue = p_queue AND t.concurrency_key = p_key AND t.state = 'running' ORDER BY t.id LIMIT 1;
$$;
CREATE FUNCTION pg_temp.claimed(p_queue text, p_max integer DEFAULT 100, p_executor text DEFAULT 'w1') RETURNS text LANGUAGE sql AS $$
    SELECT coalesce(string_agg(coalesce(c.concurrency_key, '-'), ' ' ORDER BY coalesce(c.concurrency_key, '-') COLLATE "C"), '')
    FROM rota.claim(p_executor, ARRAY[p_queue], p_max) AS c;
$$;

-- the limit holds; enqueue makes the rows, one per key whatever the limit
SELECT rota.define_queue('kc', concurrency_key_limit => 2);
SELECT rota.enqueue_many('kc', 'j', array_fill('{}'::jsonb, ARRAY[5]), concurrency_key => 'a');
SELECT rota.enqueue('kc', 'j', concurrency_key => 'b');
SELECT rota.enqueue('kc', 'j');
SELECT is(pg_temp.counts('kc'), 'a=0 b=0', 'enqueue makes one count row per key, nothing running');
SELECT is(pg_temp.claimed('kc'), '- a a b', 'two of a, one of b, the keyless one');
SELECT is(pg_temp.counts('kc'), 'a=2 b=1', 'counted');
SELECT is(pg_temp.claimed('kc'), '', 'a is at its limit: nothing more starts');
SELECT ok(pg_temp.complete_one('kc', 'a'), 'an a task completes');
SELECT is(pg_temp.counts('kc'), 'a=1 b=1', 'its count is released');
SELECT is(pg_temp.claimed('kc'), 'a', 'one more a starts');
SELECT is((SELECT count(*) FROM rota.tasks WHERE queue = 'kc' AND concurrency_key = 'a' AND state = 'running'), 2::bigint,
          'two a running');
SELECT rota.define_queue('kc', concurrency_key_limit => 10000);
SELECT is((SELECT count(*) FROM rota._key_counts WHERE queue = 'kc'), 2::bigint,
          'a limit of 10000 still costs one row per key');
SELECT is(pg_temp.claimed('kc'), 'a a', 'a raised limit: the rest of a starts');
SELECT is(pg_temp.counts('kc'), 'a=4 b=1', 'counted');

-- fail, reap and stop_executor release counts like complete
SELECT rota.register_executor('w3');
SELECT rota.define_queue('kr', concurrency_key_limit => 1, lease => '1 hour', max_attempts => 5);
SELECT rota.enqueue_many('kr', 'j', array_fill('{}'::jsonb, ARRAY[2]), concurrency_key => 'r');
SELECT is(pg_temp.claimed('kr', 1, 'w3'), 'r', 'one r starts');
SELECT is(rota.fail((SELECT id FROM rota.tasks WHERE queue = 'kr' AND state = 'running'), 1, 'boom', retry_in => '0 seconds',
                   token => token((SELECT id FROM rota.tasks WHERE queue = 'kr' AND state = 'running'), 1)),
          'queued', 'fail re-queues it');
SELECT is(pg_temp.counts('kr'), 'r=0', 'fail released the count');
SELECT is(pg_temp.claimed('kr', 1, 'w3'), 'r', 'one r starts again');
UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE queue = 'kr' AND state = 'running';
SELECT is(rota.reap(), 1, 'reap recovers it');
SELECT is(pg_temp.counts('kr'), 'r=0', 'reap released the count');
SELECT is(pg_temp.claimed('kr', 1, 'w3'), 'r', 'one r starts again');
SELECT is(rota.stop_executor('w3'), 1, 'stop_executor releases it');
SELECT is(pg_temp.counts('kr'), 'r=0', 'stop_executor released the count');

-- a lowered limit: the tasks running above it drain, nothing starts until under it
SELECT rota.define_queue('kl', concurrency_key_limit => 3);
SELECT rota.enqueue_many('kl', 'j', array_fill('{}'::jsonb, ARRAY[6]), concurrency_key => 'c');
SELECT is(pg_temp.claimed('kl'), 'c c c', 'three start under limit 3');
SELECT rota.define_queue('kl', concurrency_key_limit => 1);
SELECT ok(pg_temp.complete_one('kl', 'c'), 'one completes');
SELECT is(pg_temp.claimed('kl'), '', 'two run, limit 1: nothing starts');
SELECT ok(pg_temp.complete_one('kl', 'c'), 'another completes');
SELECT is(pg_temp.claimed('kl'), '', 'one runs, limit 1: nothing starts');
SELECT ok(pg_temp.complete_one('kl', 'c'), 'the last completes');
SELECT is(pg_temp.claimed('kl'), 'c', 'under the limit: exactly one starts');

-- an introduced limit counts the tasks already running, and makes rows for queued keys
SELECT rota.define_queue('ki');
SELECT rota.enqueue_many('ki', 'j', array_fill('{}'::jsonb, ARRAY[5]), concurrency_key => 'x');
SELECT rota.enqueue('ki', 'j', concurrency_key => 'y');
SELECT is(pg_temp.counts('ki'), '', 'no key limit: no rows');
SELECT is(pg_temp.claimed('ki', 3), 'x x x', 'three x start without a limit');
SELECT rota.define_queue('ki', concurrency_key_limit => 2);
SELECT is(pg_temp.counts('ki'), 'x=3 y=0', 'the limit introduced: running x counted, a row for queued y');
SELECT is(pg_temp.claimed('ki'), 'y', 'x is over its new limit: only y starts');
SELECT ok(pg_temp.complete_one('ki', 'x'), 'an x completes');
SELECT is(pg_temp.claimed('ki'), '', 'two x run, limit 2: nothing starts');
SELECT ok(pg_temp.complete_one('ki', 'x'), 'another x completes');
SELECT is(pg_temp.claimed('ki'), 'x', 'one x starts');

-- a removed limit: claims count nothing; tasks that hold a count still release it
SELECT rota.define_queue('ki');
SELECT is(pg_temp.claimed('ki'), 'x', 'no limit: the last x starts');
SELECT is(pg_temp.counts('ki'), 'x=2 y=1', 'started without a count');
SELECT is((SELECT count(*) FROM (SELECT rota.complete(id, attempts, token => token(id, attempts)) FROM rota.tasks WHERE queue = 'ki' AND state = 'running') AS d),
          4::bigint, 'every running ki task completes');
SELECT is(pg_temp.counts('ki'), 'x=0 y=0', 'the counts held are released, none goes negative');

-- a keyed task without a row (its row deleted, as if enqueued before the limit): the claim
-- creates the row
SELECT rota.define_queue('km', concurrency_key_limit => 1);
SELECT rota.enqueue('km', 'j', concurrency_key => 'm');
DELETE FROM rota._key_counts WHERE queue = 'km';
SELECT is(pg_temp.claimed('km'), 'm', 'started');
SELECT is(pg_temp.counts('km'), 'm=1', 'the claim made its row and counted it');

-- prune: rows of idle keys go, rows with running or queued tasks stay
SELECT rota.prune();
SELECT is(pg_temp.counts('kc'), 'a=4 b=1', 'rows with running tasks stay');
SELECT is(pg_temp.counts('ki'), '', 'idle rows go');
SELECT rota.enqueue('ki', 'later', concurrency_key => 'z', run_at => now() + interval '1 hour');
SELECT rota.define_queue('ki', concurrency_key_limit => 1);
SELECT rota.enqueue('ki', 'later', concurrency_key => 'z2', run_at => now() + interval '1 hour');
SELECT rota.prune();
SELECT is(pg_temp.counts('ki'), 'z=0 z2=0', 'rows of keys with queued (delayed) tasks stay');

-- 100,000 keys with a limit of 2: one row each while queued or running, none when idle
SELECT rota.define_queue('tenants', concurrency_key_limit => 2);
SELECT count(rota.enqueue('tenants', 'j', concurrency_key => 'tenant-' || g)) FROM generate_series(1, 100000) AS g;
SELECT is((SELECT count(*) FROM rota._key_counts WHERE queue = 'tenants'), 100000::bigint, '100,000 keys queued: 100,000 rows');
-- statistics, as autovacuum would gather them after such a bulk insert (the plans rely on them)
ANALYZE rota.tasks, rota._key_counts;
CREATE TEMP TABLE claimed_tenants AS SELECT c.id, c.lease_token FROM rota.claim('w1', ARRAY['tenants'], 2000) AS c;
SELECT is((SELECT count(*) FROM rota.complete_many(ARRAY(SELECT id FROM claimed_tenants ORDER BY id), array_fill(1, ARRAY[2000]),
                                                    tokens => ARRAY(SELECT lease_token FROM claimed_tenants ORDER BY id))),
          2000::bigint, '2,000 claimed and completed');
SELECT is((SELECT sum(running) FROM rota._key_counts WHERE queue = 'tenants'), 0::bigint, 'counts released');
SELECT is(rota.prune(1000000), 0, 'prune (no finished task old enough)');
SELECT is((SELECT count(*) FROM rota._key_counts WHERE queue = 'tenants'), 98000::bigint, 'the 2,000 idle keys lost their rows');
UPDATE rota.tasks SET state = 'cancelled', finished_at = now() WHERE queue = 'tenants' AND state = 'queued';
SELECT rota.prune(1000000);
SELECT is((SELECT count(*) FROM rota._key_counts WHERE queue = 'tenants'), 0::bigint, 'all idle: 0 rows');

SELECT * FROM finish();
ROLLBACK;
