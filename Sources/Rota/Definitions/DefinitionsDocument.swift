import Foundation

/// A definitions document for `rota.apply`: queues and schedules as Swift values.
///
/// Every replica may apply the same document at start; the database keeps the highest
/// version, a document equal to the applied one changes nothing, and the same version with
/// different content is rejected (RO040) — give changed definitions a higher version.
/// Schedules applied by an earlier document and missing from this one are disabled.
/// Fields left nil are left out of the document, so they take the SQL defaults of
/// `rota.define_queue` / `rota.define_schedule`.
public struct DefinitionsDocument: Sendable, Hashable, Codable {
    /// The document's version: a whole number >= 1; the highest applied wins.
    public var version: Int
    public var queues: [Queue]
    public var schedules: [Schedule]

    /// A queue, the arguments of `rota.define_queue`. Intervals are SQL interval text (`"30 seconds"`).
    public struct Queue: Sendable, Hashable, Codable {
        public var name: String
        /// Most tasks running at once across all executors.
        public var concurrency: Int?
        /// Most task starts per ``ratePeriod``.
        public var rateLimit: Int?
        public var ratePeriod: String?
        public var maxAttempts: Int?
        public var lease: String?
        public var backoffBase: String?
        public var backoffMax: String?
        public var retention: String?
        /// Most tasks running at once per concurrency key.
        public var concurrencyKeyLimit: Int?
        /// Whether the queue's tasks are held back (nil: left as it is).
        public var paused: Bool?
        /// The thresholds of the queue's alerts (`alert_*` of `rota.define_queue`).
        public var alertStuckAfter: String?
        public var alertFailuresPerMinute: Double?
        public var alertFailureRatio: Double?
        public var alertFailureWindow: String?
        public var alertDeadPerHour: Int?
        public var alertUnreapedAfter: String?

        public init(name: String, concurrency: Int? = nil, rateLimit: Int? = nil, ratePeriod: String? = nil,
                    maxAttempts: Int? = nil, lease: String? = nil, backoffBase: String? = nil,
                    backoffMax: String? = nil, retention: String? = nil, concurrencyKeyLimit: Int? = nil,
                    paused: Bool? = nil, alertStuckAfter: String? = nil, alertFailuresPerMinute: Double? = nil,
                    alertFailureRatio: Double? = nil, alertFailureWindow: String? = nil,
                    alertDeadPerHour: Int? = nil, alertUnreapedAfter: String? = nil) {
            self.name = name
            self.alertStuckAfter = alertStuckAfter
            self.alertFailuresPerMinute = alertFailuresPerMinute
            self.alertFailureRatio = alertFailureRatio
            self.alertFailureWindow = alertFailureWindow
            self.alertDeadPerHour = alertDeadPerHour
            self.alertUnreapedAfter = alertUnreapedAfter
            self.concurrencyKeyLimit = concurrencyKeyLimit
            self.paused = paused
            self.concurrency = concurrency
            self.rateLimit = rateLimit
            self.ratePeriod = ratePeriod
            self.maxAttempts = maxAttempts
            self.lease = lease
            self.backoffBase = backoffBase
            self.backoffMax = backoffMax
            self.retention = retention
        }

        enum CodingKeys: String, CodingKey {
            case name, concurrency, lease, retention, paused
            case rateLimit = "rate_limit", ratePeriod = "rate_period", maxAttempts = "max_attempts"
            case backoffBase = "backoff_base", backoffMax = "backoff_max"
            case concurrencyKeyLimit = "concurrency_key_limit"
            case alertStuckAfter = "alert_stuck_after", alertFailuresPerMinute = "alert_failures_per_minute"
            case alertFailureRatio = "alert_failure_ratio", alertFailureWindow = "alert_failure_window"
            case alertDeadPerHour = "alert_dead_per_hour", alertUnreapedAfter = "alert_unreaped_after"
        }
    }

    /// A cron schedule, the arguments of `rota.define_schedule`.
    public struct Schedule: Sendable, Hashable, Codable {
        public var name: String
        /// 5 fields, or 6 with seconds first.
        public var cron: String
        public var queue: String
        public var task: String
        /// Merged into every fire's payload (which also gets `schedule` and `scheduled_at`).
        public var payload: [String: JSONValue]?
        /// An IANA time zone.
        public var timezone: String?
        /// What happens to fires missed while nothing ran.
        public var catchUp: CatchUpPolicy?
        /// With ``CatchUpPolicy/all``, at most this many missed fires run (the newest).
        public var catchUpMax: Int?
        public var enabled: Bool?
        /// `schedule_late` fires when a fire is overdue by more than this (SQL interval text).
        public var alertLateAfter: String?

        public init(name: String, cron: String, queue: String, task: String, payload: [String: JSONValue]? = nil,
                    timezone: String? = nil, catchUp: CatchUpPolicy? = nil, catchUpMax: Int? = nil, enabled: Bool? = nil,
                    alertLateAfter: String? = nil) {
            self.name = name
            self.alertLateAfter = alertLateAfter
            self.catchUpMax = catchUpMax
            self.cron = cron
            self.queue = queue
            self.task = task
            self.payload = payload
            self.timezone = timezone
            self.catchUp = catchUp
            self.enabled = enabled
        }

        enum CodingKeys: String, CodingKey {
            case name, cron, queue, task, payload, timezone, enabled
            case catchUp = "catch_up", catchUpMax = "catch_up_max", alertLateAfter = "alert_late_after"
        }
    }

    public init(version: Int, queues: [Queue] = [], schedules: [Schedule] = []) {
        self.version = version
        self.queues = queues
        self.schedules = schedules
    }

    /// The document as JSON text (keys sorted, so equal documents have equal text).
    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }

    /// Applies the document with `rota.apply` and returns its answer as JSON text, e.g.
    /// `{"status": "applied", ...}`, `{"status": "unchanged", ...}` or `{"status": "stale", ...}`.
    @discardableResult
    public func apply(using client: RotaClient) async throws -> String {
        try await client.apply(definitionsJSON: PostgresJSON(text: try json()))
    }
}
