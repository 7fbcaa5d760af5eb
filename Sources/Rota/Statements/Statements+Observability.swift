extension Statements {
    /// `rota.alerts`, in a stable order.
    func alerts() async throws -> [RotaAlert] {
        try await run("SELECT * FROM rota.alerts ORDER BY alert, queue, schedule, executor").map(RotaAlert.init(row:))
    }

    /// `rota.metrics(format)`.
    func metrics(format: String) async throws -> String {
        try await run("SELECT rota.metrics($1) AS metrics", [format]).first?.decode("metrics", as: String.self) ?? ""
    }
}

extension Statements {
    /// `rota.queue_overview`, with the age in seconds.
    func queueOverview() async throws -> [RotaQueueOverview] {
        try await run(
            """
            SELECT o.*, extract(epoch FROM o.oldest_ready_age)::float8 AS oldest_ready_age_seconds
            FROM rota.queue_overview o ORDER BY o.queue
            """).map(RotaQueueOverview.init(row:))
    }

    /// `rota.queue_activity`: every queue's minutes of the last hour.
    func queueActivity() async throws -> [RotaQueueActivity] {
        try await run("SELECT * FROM rota.queue_activity ORDER BY queue, minute").map(RotaQueueActivity.init(row:))
    }

    /// The latest failed attempts, newest first, of the given queue, task and executor when set.
    func failures(queue: String?, task: String?, executor: String?, limit: Int) async throws -> [RotaFailure] {
        try await run(
            """
            SELECT * FROM rota.failures
            WHERE ($1::text IS NULL OR queue = $1) AND ($2::text IS NULL OR task = $2)
              AND ($3::text IS NULL OR executor = $3)
            ORDER BY failed_at DESC, task_id DESC, attempt DESC LIMIT $4::int
            """, [queue, task, executor, limit]).map(RotaFailure.init(row:))
    }

    /// The latest fires of a schedule, newest first.
    func scheduleFires(schedule: String, limit: Int) async throws -> [RotaScheduleFire] {
        try await run(
            "SELECT * FROM rota.schedule_fire_status WHERE schedule = $1 ORDER BY fire_at DESC LIMIT $2::int",
            [schedule, limit]).map(RotaScheduleFire.init(row:))
    }
}
