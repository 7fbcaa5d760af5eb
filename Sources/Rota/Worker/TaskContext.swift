import Foundation
import Logging

/// What a handler knows about the task it runs.
public struct TaskContext: Sendable {
    /// The task id.
    public let taskID: Int64
    /// This attempt's number (1 for the first run); the completion is fenced by it.
    public let attempt: Int
    /// The queue the task came from.
    public let queue: String
    /// The task name.
    public let task: String
    /// The task's idempotency key, if any.
    public let key: String?
    /// The task's parent, if any.
    public let parentID: Int64?
    /// When the task was enqueued.
    public let enqueuedAt: Date?
    /// When the task was due to run.
    public let runAt: Date?
    /// For a task enqueued by a schedule (key `schedule:<name>:<fire_at>`), the fire instant.
    public let scheduledAt: Date?
    /// When this attempt's handler started (this process's clock), so a scheduled handler
    /// can tell how late it runs: `startedAt.timeIntervalSince(scheduledAt)`.
    public let startedAt: Date
    /// The executor running the task.
    public let executorID: String
    /// A logger with the task's id, name and attempt attached (made on each access; keep
    /// it in a local to log many times).
    public var logger: Logger {
        var logger = workerLogger
        // One metadata write instead of three: some log handlers (StreamLogHandler) render
        // their metadata again on every write.
        var metadata = logger.handler.metadata
        metadata["task_id"] = "\(taskID)"
        metadata["task"] = "\(task)"
        metadata["attempt"] = "\(attempt)"
        logger.handler.metadata = metadata
        return logger
    }
    /// The worker's logger: ``logger`` adds the task's metadata only when a handler asks for
    /// it, because rendering it cost every task even when nothing was logged.
    let workerLogger: Logger
    /// This attempt's step checkpoints (``step(_:_:)``).
    let steps: WorkflowSteps

    /// Whether the handler should stop: the task was cancelled, timed out, lost its lease,
    /// or the worker is shutting down past its grace period. Same as `Task.isCancelled`.
    public var isCancelled: Bool { Task.isCancelled }

    /// Throws `CancellationError` when the handler should stop (see ``isCancelled``).
    public func checkCancellation() throws { try Task.checkCancellation() }
}
