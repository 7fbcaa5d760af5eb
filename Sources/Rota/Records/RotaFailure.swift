import Foundation

/// A row of `rota.failures`: one failed or lease-expired attempt.
public struct RotaFailure: Sendable, Hashable, Codable {
    public var taskID: Int64
    public var queue: String
    public var task: String
    public var attempt: Int
    public var executor: String?
    /// failed or lease_expired.
    public var outcome: String
    public var error: String?
    public var startedAt: Date?
    public var failedAt: Date
    /// The attempt that left the task failed for good.
    public var final: Bool

    init(row: PostgresRow) throws {
        taskID = try row.decode("task_id")
        queue = try row.decode("queue")
        task = try row.decode("task")
        attempt = try row.decode("attempt")
        executor = try row.decode("executor", as: String?.self)
        outcome = try row.decode("outcome")
        error = try row.decode("error", as: String?.self)
        startedAt = try row.decode("started_at", as: Date?.self)
        failedAt = try row.decode("failed_at")
        final = try row.decode("final")
    }
}

/// A fire of a schedule with its task's outcome (`rota.schedule_fire_status`).
public struct RotaScheduleFire: Sendable, Hashable, Codable {
    public var schedule: String
    public var fireAt: Date
    public var manual: Bool
    public var taskID: Int64?
    public var state: RotaTaskState?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var executor: String?

    init(row: PostgresRow) throws {
        schedule = try row.decode("schedule")
        fireAt = try row.decode("fire_at")
        manual = try row.decode("manual")
        taskID = try row.decode("task_id", as: Int64?.self)
        state = try row.decode("task_state", as: RotaTaskState?.self)
        startedAt = try row.decode("started_at", as: Date?.self)
        finishedAt = try row.decode("finished_at", as: Date?.self)
        executor = try row.decode("task_executor", as: String?.self)
    }
}
