import Foundation

/// A row of `rota.queue_overview`: a queue's depth and outcomes, cheap at any history size.
public struct RotaQueueOverview: Sendable, Hashable, Codable {
    public var queue: String
    public var ready: Int
    public var delayed: Int
    public var running: Int
    /// Running tasks whose executor is not alive.
    public var heldByDead: Int
    public var oldestReadyAgeSeconds: Double?
    public var concurrency: Int?
    public var paused: Bool
    /// Totals since the queue was created (kept by counters, so pruning does not lower them).
    public var succeededTotal: Int
    public var failedTotal: Int
    public var attemptsFailedTotal: Int
    public var succeededLastHour: Int
    public var attemptsFailedLastHour: Int

    init(row: PostgresRow) throws {
        queue = try row.decode("queue")
        ready = try row.decode("ready")
        delayed = try row.decode("delayed")
        running = try row.decode("running")
        heldByDead = try row.decode("held_by_dead")
        oldestReadyAgeSeconds = try row.decode("oldest_ready_age_seconds", as: Double?.self)
        concurrency = try row.decode("concurrency", as: Int?.self)
        paused = try row.decode("paused")
        succeededTotal = try row.decode("succeeded_total")
        failedTotal = try row.decode("dead_total")
        attemptsFailedTotal = try row.decode("attempts_failed_total")
        succeededLastHour = try row.decode("succeeded_last_hour")
        attemptsFailedLastHour = try row.decode("attempts_failed_last_hour")
    }
}

/// A row of `rota.queue_activity`: one queue's outcomes in one minute of the last hour.
public struct RotaQueueActivity: Sendable, Hashable, Codable {
    public var queue: String
    public var minute: Date
    public var succeeded: Int
    public var attemptsFailed: Int

    init(row: PostgresRow) throws {
        queue = try row.decode("queue")
        minute = try row.decode("minute")
        succeeded = try row.decode("succeeded")
        attemptsFailed = try row.decode("attempts_failed")
    }
}
