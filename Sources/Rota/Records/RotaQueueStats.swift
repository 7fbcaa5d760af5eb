/// A row of `rota.queue_stats`.
public struct RotaQueueStats: Sendable, Hashable, Codable {
    public var queue: String
    /// Queued and due now.
    public var ready: Int
    /// Queued with a future run_at.
    public var delayed: Int
    public var running: Int
    /// Waiting for their children (``TaskContext/waitForChildren()``).
    public var waiting: Int
    public var succeeded: Int
    public var failed: Int
    public var cancelled: Int
    /// Seconds the oldest ready task has waited.
    public var oldestReadyAgeSeconds: Double?
    public var concurrency: Int?
    public var slotsInUse: Int
    public var rateLimit: Int?
    public var ratePeriodSeconds: Double?
    public var concurrencyKeyLimit: Int?
    public var paused: Bool

    init(row: PostgresRow) throws {
        queue = try row.decode("queue")
        ready = try row.decode("ready")
        delayed = try row.decode("delayed")
        running = try row.decode("running")
        waiting = try row.decode("waiting")
        succeeded = try row.decode("succeeded")
        failed = try row.decode("failed")
        cancelled = try row.decode("cancelled")
        oldestReadyAgeSeconds = try row.decode("oldest_ready_age_seconds", as: Double?.self)
        concurrency = try row.decode("concurrency", as: Int?.self)
        slotsInUse = try row.decode("slots_in_use")
        rateLimit = try row.decode("rate_limit", as: Int?.self)
        ratePeriodSeconds = try row.decode("rate_period_seconds", as: Double?.self)
        concurrencyKeyLimit = try row.decode("concurrency_key_limit", as: Int?.self)
        paused = try row.decode("paused")
    }
}
