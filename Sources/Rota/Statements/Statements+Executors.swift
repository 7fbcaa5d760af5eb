extension Statements {
    /// `rota.register_executor`.
    func registerExecutor(_ executor: String, queues: [String], host: String, pid: Int, meta: PostgresJSON) async throws {
        try await run("SELECT rota.register_executor($1, $2::text[], $3, $4::int, $5::jsonb)",
                      [executor, queues, host, pid, meta])
    }

    /// `rota.claim` of up to `max` tasks of `queues`, each with the length of the lease it
    /// started (``ClaimedTask/leaseColumn(of:)``).
    func claim(executor: String, queues: [String], max: Int) async throws -> [ClaimedTask] {
        try await run("SELECT c.*, \(ClaimedTask.leaseColumn(of: "c")) FROM rota.claim($1, $2::text[], $3::int) c",
                      [executor, queues, max]).map(ClaimedTask.init(row:))
    }

    /// `rota.heartbeat`: renews the leases of `held` (task ids, with the lease tokens of
    /// their claims); returns the ids whose handlers must stop.
    func heartbeat(executor: String, held: [Int64], tokens: [String]) async throws -> [Int64] {
        try await run("SELECT id FROM rota.heartbeat($1, $2::bigint[], $3::uuid[]) AS id", [executor, held, tokens])
            .map { try $0.decode(at: 0, as: Int64.self) }
    }

    /// Seconds until the next queued task of `queues` is due, by the database clock; nil when none is.
    func secondsUntilNextRun(queues: [String]) async throws -> Double? {
        try await run("SELECT extract(epoch FROM rota.next_run_at($1::text[]) - clock_timestamp())::float8 AS delay",
                      [queues]).first?.decode("delay", as: Double?.self)
    }

    /// `rota.complete_many`: how many tasks it completed (a fenced-off one is not).
    func completeMany(ids: [Int64], attempts: [Int], results: [PostgresJSON?], tokens: [String]) async throws -> Int {
        try await run("SELECT id FROM rota.complete_many($1::bigint[], $2::int[], $3::jsonb[], $4::uuid[]) AS id",
                      [ids, attempts, results, tokens]).count
    }

    /// `rota.fail_many`: how many tasks it finished (failed for good or cancelled); the
    /// others went back to their queue, or were fenced off.
    func failMany(ids: [Int64], attempts: [Int], errors: [String], retryIns: [PostgresInterval?],
                  retryables: [Bool], tokens: [String]) async throws -> Int {
        try await run("""
            SELECT * FROM rota.fail_many($1::bigint[], $2::int[], $3::text[], $4::interval[], $5::boolean[], $6::uuid[])
            """, [ids, attempts, errors, retryIns, retryables, tokens])
            .filter { try $0.decode("state", as: String.self) != "queued" }.count
    }

    /// `rota.reap`: how many tasks of dead executors it recovered.
    func reap() async throws -> Int {
        try await run("SELECT rota.reap() AS reaped")[0].decode("reaped")
    }

    /// `rota.prune` of at most `batch` old finished tasks: how many it deleted.
    func prune(batch: Int) async throws -> Int {
        try await run("SELECT rota.prune($1::int) AS pruned", [batch])[0].decode("pruned")
    }

    /// `rota.stop_executor`: how many running tasks it released.
    func stopExecutor(_ executor: String) async throws -> Int {
        try await run("SELECT rota.stop_executor($1) AS released", [executor])[0].decode("released")
    }

    /// `rota.executor_status`.
    func executorStatus() async throws -> [RotaExecutorStatus] {
        try await run("SELECT * FROM rota.executor_status ORDER BY alive DESC, executor").map(RotaExecutorStatus.init(row:))
    }
}
