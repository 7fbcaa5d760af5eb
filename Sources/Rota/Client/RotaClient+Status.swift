import Foundation

/// A row of `rota.queue_stats`.
public struct RotaQueueStats: Sendable, Hashable, Codable {
    public var queue: String
    /// Queued and due now.
    public var ready: Int
    /// Queued with a future run_at.
    public var delayed: Int
    public var running: Int
    public var succeeded: Int
    public var failed: Int
    public var cancelled: Int
    /// Seconds the oldest ready task has waited.
    public var oldestReadyAgeSeconds: Double?
    public var concurrency: Int?
    public var slotsInUse: Int?
    public var rateLimit: Int?
    public var ratePeriodSeconds: Double?
    public var concurrencyKeyLimit: Int?
    public var paused: Bool

    init(row: PostgresRow) throws {
        queue = try row.decode("queue")
        ready = try row.decodeIfPresent("ready") ?? 0
        delayed = try row.decodeIfPresent("delayed") ?? 0
        running = try row.decodeIfPresent("running") ?? 0
        succeeded = try row.decodeIfPresent("succeeded") ?? 0
        failed = try row.decodeIfPresent("failed") ?? 0
        cancelled = try row.decodeIfPresent("cancelled") ?? 0
        oldestReadyAgeSeconds = try row.decodeIfPresent("oldest_ready_age_seconds")
        concurrency = try row.decodeIfPresent("concurrency")
        slotsInUse = try row.decodeIfPresent("slots_in_use")
        rateLimit = try row.decodeIfPresent("rate_limit")
        ratePeriodSeconds = try row.decodeIfPresent("rate_period_seconds")
        concurrencyKeyLimit = try row.decodeIfPresent("concurrency_key_limit")
        paused = try row.decodeIfPresent("paused") ?? false
    }
}

/// A row of `rota.executor_status`.
public struct RotaExecutorStatus: Sendable, Hashable, Codable {
    public var executor: String
    public var host: String?
    public var pid: Int?
    public var queues: [String]
    /// Not stopped, with a recent heartbeat.
    public var alive: Bool
    public var stopped: Bool
    /// Tasks it runs now.
    public var running: Int
    public var lastHeartbeatAt: Date?
    public var startedAt: Date?
    public var stoppedAt: Date?

    init(row: PostgresRow) throws {
        executor = try row.decode("executor")
        host = try row.decodeIfPresent("host")
        pid = try row.decodeIfPresent("pid")
        queues = try row.decodeIfPresent("queues", as: [String].self) ?? []
        alive = try row.decodeIfPresent("alive") ?? false
        stopped = try row.decodeIfPresent("stopped") ?? false
        running = try row.decodeIfPresent("running") ?? 0
        lastHeartbeatAt = try row.decodeIfPresent("last_heartbeat_at")
        startedAt = try row.decodeIfPresent("started_at")
        stoppedAt = try row.decodeIfPresent("stopped_at")
    }
}

extension RotaClient {
    /// Every queue's task counts by state, oldest waiting age, limits and slots in use.
    public func queueStats() async throws -> [RotaQueueStats] {
        let rows = try await query(
            """
            SELECT s.*, extract(epoch FROM s.oldest_ready_age)::float8 AS oldest_ready_age_seconds,
                   extract(epoch FROM s.rate_period)::float8 AS rate_period_seconds
            FROM rota.queue_stats s ORDER BY s.queue
            """)
        return try rows.map { try RotaQueueStats(row: $0) }
    }

    /// Every executor, alive or not, with how many tasks it runs.
    public func executorStatus() async throws -> [RotaExecutorStatus] {
        let rows = try await query("SELECT * FROM rota.executor_status ORDER BY alive DESC, executor")
        return try rows.map { try RotaExecutorStatus(row: $0) }
    }
}
