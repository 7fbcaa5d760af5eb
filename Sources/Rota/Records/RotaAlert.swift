import Foundation

/// A row of `rota.alerts`: one active alert.
public struct RotaAlert: Sendable, Hashable, Codable {
    /// queue_stuck, retry_storm, schedule_late, dead_executor_tasks or dead_letter_growth.
    public var alert: String
    public var queue: String?
    public var schedule: String?
    public var executor: String?
    /// The measured value, in the unit of ``threshold``.
    public var value: Double
    public var threshold: Double
    /// When the condition crossed its threshold, where that is known.
    public var since: Date?
    /// One line for people.
    public var message: String

    init(row: PostgresRow) throws {
        alert = try row.decode("alert")
        queue = try row.decode("queue", as: String?.self)
        schedule = try row.decode("schedule", as: String?.self)
        executor = try row.decode("executor", as: String?.self)
        value = try row.decode("value")
        threshold = try row.decode("threshold")
        since = try row.decode("since", as: Date?.self)
        message = try row.decode("message")
    }
}
