extension RotaClient {
    /// Creates a queue or replaces the options of an existing one (idempotent).
    public func defineQueue(_ name: String, options: QueueOptions = QueueOptions()) async throws {
        try await query(
            """
            SELECT rota.define_queue($1, $2::int, $3::int, $4::interval, $5::int, $6::interval, $7::int,
                                     $8::interval, $9::interval, $10::interval)
            """,
            [name, options.concurrency, options.rateLimit, options.ratePeriod.map(PostgresInterval.init),
             options.maxAttempts, PostgresInterval(options.lease), options.concurrencyKeyLimit,
             PostgresInterval(options.backoffBase), PostgresInterval(options.backoffMax),
             PostgresInterval(options.retention)])
    }

    /// Stops the queue's tasks from being claimed (running ones finish).
    public func pauseQueue(_ name: String) async throws {
        try await query("SELECT rota.pause_queue($1)", [name])
    }

    /// Lets a paused queue's tasks be claimed again.
    public func resumeQueue(_ name: String) async throws {
        try await query("SELECT rota.resume_queue($1)", [name])
    }

    /// Drops a queue; unless `force`, only an empty one (else ``RotaError/Code/queueNotEmpty``).
    public func dropQueue(_ name: String, force: Bool = false) async throws {
        try await query("SELECT rota.drop_queue($1, $2::boolean)", [name, force])
    }
}
