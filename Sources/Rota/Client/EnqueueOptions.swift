import Foundation

/// Options of ``RotaClient/enqueue(queue:task:payload:options:)``; every field maps to an
/// argument of `rota.enqueue`, and `nil` leaves the SQL default.
public struct EnqueueOptions: Sendable, Hashable {
    /// Idempotency key: a second enqueue with the same key in the same queue returns the existing task.
    public var key: String?
    /// Run no earlier than this instant (default: now, by the database clock).
    public var runAt: Date?
    /// Lower runs first; default 0.
    public var priority: Int
    /// Overrides the queue's attempt budget for this task.
    public var maxAttempts: Int?
    /// Tasks sharing a concurrency key are limited by the queue's `concurrency_key_limit`.
    public var concurrencyKey: String?
    /// The task that spawned this one.
    public var parentID: Int64?

    /// Options; all default to the SQL defaults.
    public init(key: String? = nil, runAt: Date? = nil, priority: Int = 0, maxAttempts: Int? = nil,
                concurrencyKey: String? = nil, parentID: Int64? = nil) {
        self.key = key
        self.runAt = runAt
        self.priority = priority
        self.maxAttempts = maxAttempts
        self.concurrencyKey = concurrencyKey
        self.parentID = parentID
    }
}

/// Options of ``RotaClient/defineQueue(_:options:)``, the arguments of `rota.define_queue`.
/// Defining a queue again replaces all of its options with these.
public struct QueueOptions: Sendable, Hashable {
    /// Most tasks of the queue running at once across all executors; `nil`: unlimited.
    public var concurrency: Int?
    /// Most task starts per ``ratePeriod``; `nil`: unlimited.
    public var rateLimit: Int?
    /// The window of ``rateLimit``.
    public var ratePeriod: Duration?
    /// Attempts before a task fails for good.
    public var maxAttempts: Int
    /// How long a claim lasts without a heartbeat.
    public var lease: Duration
    /// Most running tasks per concurrency key; `nil`: unlimited.
    public var concurrencyKeyLimit: Int?
    /// First retry delay; doubles per attempt.
    public var backoffBase: Duration
    /// Largest retry delay.
    public var backoffMax: Duration
    /// How long finished tasks are kept before `rota.prune` deletes them.
    public var retention: Duration

    /// Options with the SQL defaults.
    public init(concurrency: Int? = nil, rateLimit: Int? = nil, ratePeriod: Duration? = nil,
                maxAttempts: Int = 5, lease: Duration = .seconds(30), concurrencyKeyLimit: Int? = nil,
                backoffBase: Duration = .seconds(1), backoffMax: Duration = .seconds(3600),
                retention: Duration = .seconds(7 * 24 * 3600)) {
        self.concurrency = concurrency
        self.rateLimit = rateLimit
        self.ratePeriod = ratePeriod
        self.maxAttempts = maxAttempts
        self.lease = lease
        self.concurrencyKeyLimit = concurrencyKeyLimit
        self.backoffBase = backoffBase
        self.backoffMax = backoffMax
        self.retention = retention
    }
}
