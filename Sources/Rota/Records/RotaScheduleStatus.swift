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
    }
}
