import Foundation

/// Options of ``RotaClient/enqueue(queue:task:payload:options:)``: every field is an
/// argument of `rota.enqueue`, and a field left nil takes that function's default.
public struct EnqueueOptions: Sendable, Hashable {
    /// Idempotency key: a second enqueue with the same key in the same queue returns the existing task.
    public var key: String?
    /// Run no earlier than this instant (SQL default: now, by the database clock).
    public var runAt: Date?
    /// Lower runs first.
    public var priority: Int?
    /// Overrides the queue's attempt budget for this task.
    public var maxAttempts: Int?
    /// Tasks sharing a concurrency key are limited by the queue's `concurrency_key_limit`.
    public var concurrencyKey: String?
    /// The task that spawned this one.
    public var parentID: Int64?

    /// Options; every one left nil takes the SQL default.
    public init(key: String? = nil, runAt: Date? = nil, priority: Int? = nil, maxAttempts: Int? = nil,
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
/// Defining a queue again replaces all of its options; one left nil takes the SQL default
/// (see `docs/sql-contract.md`), which for the limits means unlimited.
public struct QueueOptions: Sendable, Hashable {
    /// Most tasks of the queue running at once across all executors.
    public var concurrency: Int?
    /// Most task starts per ``ratePeriod``.
    public var rateLimit: Int?
    /// The window of ``rateLimit``.
    public var ratePeriod: Duration?
    /// Attempts before a task fails for good.
    public var maxAttempts: Int?
    /// How long a claim lasts without a heartbeat.
    public var lease: Duration?
    /// Most running tasks per concurrency key.
    public var concurrencyKeyLimit: Int?
    /// First retry delay; doubles per attempt.
    public var backoffBase: Duration?
    /// Largest retry delay.
    public var backoffMax: Duration?
    /// How long finished tasks are kept before `rota.prune` deletes them.
    public var retention: Duration?
    /// When the queue's alerts in `rota.alerts` fire.
    public var alerts: QueueAlertThresholds

    /// Options; every one left nil takes the SQL default.
    public init(concurrency: Int? = nil, rateLimit: Int? = nil, ratePeriod: Duration? = nil,
                maxAttempts: Int? = nil, lease: Duration? = nil, concurrencyKeyLimit: Int? = nil,
                backoffBase: Duration? = nil, backoffMax: Duration? = nil, retention: Duration? = nil,
                alerts: QueueAlertThresholds = QueueAlertThresholds()) {
        self.concurrency = concurrency
        self.rateLimit = rateLimit
        self.ratePeriod = ratePeriod
        self.maxAttempts = maxAttempts
        self.lease = lease
        self.concurrencyKeyLimit = concurrencyKeyLimit
        self.backoffBase = backoffBase
        self.backoffMax = backoffMax
        self.retention = retention
        self.alerts = alerts
    }
}

/// Thresholds of a queue's alerts in `rota.alerts` (the `alert_*` arguments of
/// `rota.define_queue`); one left nil takes the SQL default.
public struct QueueAlertThresholds: Sendable, Hashable {
    /// `queue_stuck`: ready tasks waiting this long while nothing of the queue finishes.
    public var stuckAfter: Duration?
    /// `retry_storm`: failures per minute over ``failureWindow`` at or above this...
    public var failuresPerMinute: Double?
    /// ...and a failed share of finished attempts at or above this (0 < ratio <= 1).
    public var failureRatio: Double?
    /// The window of ``failuresPerMinute`` and ``failureRatio`` (1 minute to 1 hour).
    public var failureWindow: Duration?
    /// `dead_letter_growth`: tasks failing for good per hour at or above this.
    public var deadPerHour: Int?
    /// `dead_executor_tasks`: running tasks whose lease expired this long ago and were not reaped.
    public var unreapedAfter: Duration?

    /// Thresholds; every one left nil takes the SQL default.
    public init(stuckAfter: Duration? = nil, failuresPerMinute: Double? = nil, failureRatio: Double? = nil,
                failureWindow: Duration? = nil, deadPerHour: Int? = nil, unreapedAfter: Duration? = nil) {
        self.stuckAfter = stuckAfter
        self.failuresPerMinute = failuresPerMinute
        self.failureRatio = failureRatio
        self.failureWindow = failureWindow
        self.deadPerHour = deadPerHour
        self.unreapedAfter = unreapedAfter
    }
}
