import Foundation
import Rota

/// The instant a scheduled task belongs to, the same on every attempt of the task: the
/// `scheduled_at` its fire put in the payload, else the instant in its key
/// (`schedule:<name>:<fire_at>`), else when it was enqueued (a task enqueued by hand).
enum FireTime {
    static func resolve(scheduledAt: String?, context: TaskContext) throws -> Date {
        if let scheduledAt {
            guard let date = UTCTimestamp.parse(scheduledAt) else {
                throw RotaTaskError.nonRetryable("scheduled_at is not an ISO 8601 instant: \(scheduledAt)")
            }
            return date
        }
        if let date = context.scheduledAt ?? context.enqueuedAt { return date }
        throw RotaTaskError.nonRetryable("task \(context.taskID) has no scheduled_at, schedule key or enqueue time")
    }
}
