extension Statements {
    /// `rota.define_queue`, with the options that are set.
    func defineQueue(_ name: String, options: QueueOptions) async throws {
        var call = FunctionCall("rota.define_queue")
        call.add("name", name)
        call.add("concurrency", options.concurrency, as: "int")
        call.add("rate_limit", options.rateLimit, as: "int")
        call.add("rate_period", options.ratePeriod.map(PostgresInterval.init), as: "interval")
        call.add("max_attempts", options.maxAttempts, as: "int")
        call.add("lease", options.lease.map(PostgresInterval.init), as: "interval")
        call.add("concurrency_key_limit", options.concurrencyKeyLimit, as: "int")
        call.add("backoff_base", options.backoffBase.map(PostgresInterval.init), as: "interval")
        call.add("backoff_max", options.backoffMax.map(PostgresInterval.init), as: "interval")
        call.add("retention", options.retention.map(PostgresInterval.init), as: "interval")
        let alerts = options.alerts
        call.add("alert_stuck_after", alerts.stuckAfter.map(PostgresInterval.init), as: "interval")
        call.add("alert_failures_per_minute", alerts.failuresPerMinute, as: "numeric")
        call.add("alert_failure_ratio", alerts.failureRatio, as: "numeric")
        call.add("alert_failure_window", alerts.failureWindow.map(PostgresInterval.init), as: "interval")
        call.add("alert_dead_per_hour", alerts.deadPerHour, as: "int")
        call.add("alert_unreaped_after", alerts.unreapedAfter.map(PostgresInterval.init), as: "interval")
        try await run("SELECT \(call.sql)", call.parameters)
    }

    func pauseQueue(_ name: String) async throws {
        try await run("SELECT rota.pause_queue($1)", [name])
    }

    func resumeQueue(_ name: String) async throws {
        try await run("SELECT rota.resume_queue($1)", [name])
    }

    func dropQueue(_ name: String, force: Bool) async throws {
        try await run("SELECT rota.drop_queue($1, $2::boolean)", [name, force])
    }

    /// `rota.queue_stats`, with the intervals in seconds.
    func queueStats() async throws -> [RotaQueueStats] {
        try await run(
            """
            SELECT s.*, extract(epoch FROM s.oldest_ready_age)::float8 AS oldest_ready_age_seconds,
                   extract(epoch FROM s.rate_period)::float8 AS rate_period_seconds
            FROM rota.queue_stats s ORDER BY s.queue
            """).map(RotaQueueStats.init(row:))
    }

    /// Which of `queues` do not exist, checked with `rota.next_run_at` (which the worker
    /// role may call, and which raises RO001 naming a missing queue): all of them in one
    /// statement, and only when one is missing, one queue at a time so that every missing
    /// one is named (a worker on 1,000 queues starts with one round trip, not 1,000).
    func unknownQueues(_ queues: [String]) async throws -> [String] {
        do {
            try await run("SELECT rota.next_run_at($1::text[])", [queues])
            return []
        } catch let error as RotaError where error.code == .unknownQueue {
            // named below, with every other missing one
        }
        var unknown: [String] = []
        for queue in queues {
            do {
                try await run("SELECT rota.next_run_at($1::text[])", [[queue]])
            } catch let error as RotaError where error.code == .unknownQueue {
                unknown.append(queue)
            }
        }
        return unknown
    }
}
