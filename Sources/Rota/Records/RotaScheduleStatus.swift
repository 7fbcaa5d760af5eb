import Foundation

/// A row of `rota.schedule_status`.
public struct RotaScheduleStatus: Sendable, Hashable, Codable {
    public var name: String
    public var cron: String
    public var timezone: String
    public var queue: String
    public var task: String
    public var enabled: Bool
    public var catchUp: CatchUpPolicy
    /// Defined by a definitions document (`rota.apply`) rather than by hand.
    public var managed: Bool
    public var nextFireAt: Date?
    public var lastFireAt: Date?
    /// The state of the last fire's task (nil once it was pruned, or before the first fire).
    public var lastTaskState: RotaTaskState?
    public var lastStartedAt: Date?
    public var lastFinishedAt: Date?
    public var lastExecutor: String?
    /// The error of the schedule's last failed fire (kept after later successes, as a record).
    public var lastError: String?
    public var failedAt: Date?
    /// Failed fires in a row; 0 after a fire succeeds.
    public var failures: Int
    /// While failing: no fire is tried before this instant.
    public var retryAt: Date?

    init(row: PostgresRow) throws {
        name = try row.decode("name")
        cron = try row.decode("cron")
        timezone = try row.decode("timezone")
        queue = try row.decode("queue")
        task = try row.decode("task")
        enabled = try row.decode("enabled")
        catchUp = try row.decode("catch_up")
        managed = try row.decode("managed")
        nextFireAt = try row.decode("next_fire_at", as: Date?.self)
        lastFireAt = try row.decode("last_fire_at", as: Date?.self)
        lastTaskState = try row.decode("last_task_state", as: RotaTaskState?.self)
        lastStartedAt = try row.decode("last_started_at", as: Date?.self)
        lastFinishedAt = try row.decode("last_finished_at", as: Date?.self)
        lastExecutor = try row.decode("last_executor", as: String?.self)
        lastError = try row.decode("last_error", as: String?.self)
        failedAt = try row.decode("failed_at", as: Date?.self)
        failures = try row.decode("failures")
        retryAt = try row.decode("retry_at", as: Date?.self)
    }
}
