extension RotaClient {
    /// The active alerts of `rota.alerts` (empty when all is well).
    public func alerts() async throws -> [RotaAlert] {
        try await statements.alerts()
    }

    /// The database's metrics from `rota.metrics()`: queues, schedules, executors and alerts
    /// in the OpenMetrics text format, or the Prometheus text format (0.0.4) with
    /// `prometheusText`.
    public func metrics(prometheusText: Bool = false) async throws -> String {
        try await statements.metrics(format: prometheusText ? "prometheus" : "openmetrics")
    }
}

extension RotaClient {
    /// Every queue's depth, running tasks and outcome totals, read from indexes and counters
    /// (`rota.queue_overview`): cheap however many finished tasks are kept.
    public func queueOverview() async throws -> [RotaQueueOverview] {
        try await statements.queueOverview()
    }

    /// Succeeded tasks and failed attempts per queue and minute of the last hour.
    public func queueActivity() async throws -> [RotaQueueActivity] {
        try await statements.queueActivity()
    }

    /// The latest failed attempts, newest first, filtered by queue, task and executor when given.
    public func failures(queue: String? = nil, task: String? = nil, executor: String? = nil,
                         limit: Int = 100) async throws -> [RotaFailure] {
        try await statements.failures(queue: queue, task: task, executor: executor, limit: limit)
    }

    /// A task's durable step checkpoints.
    public func steps(taskID: Int64) async throws -> [RotaStepRecord] {
        try await statements.stepRecords(taskID: taskID)
    }

    /// The latest fires of a schedule with their tasks' outcomes, newest first.
    public func scheduleFires(schedule: String, limit: Int = 10) async throws -> [RotaScheduleFire] {
        try await statements.scheduleFires(schedule: schedule, limit: limit)
    }
}
