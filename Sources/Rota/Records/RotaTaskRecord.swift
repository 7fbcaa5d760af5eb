import Foundation

/// A row of `rota.tasks`.
public struct RotaTaskRecord: Sendable, Hashable, Codable {
    public var id: Int64
    public var queue: String
    public var task: String
    /// The payload as JSON text.
    public var payload: String
    public var key: String?
    public var state: RotaTaskState
    public var priority: Int
    public var runAt: Date
    /// The number of the latest attempt (claims so far).
    public var attemptCount: Int
    public var maxAttempts: Int
    public var enqueuedAt: Date
    /// When the latest attempt started.
    public var startedAt: Date?
    public var finishedAt: Date?
    /// The handler's result as JSON text.
    public var result: String?
    /// The latest error message.
    public var lastError: String?
    /// The executor running (or that last ran) the task.
    public var executor: String?
    public var concurrencyKey: String?
    public var parentID: Int64?
    /// The attempt history, filled in by ``RotaClient/task(id:)``.
    public var attempts: [RotaAttemptRecord] = []
    /// The recorded step checkpoints, filled in by ``RotaClient/task(id:)``.
    public var steps: [RotaStepRecord] = []

    /// The columns ``init(row:)`` reads, for the statements that select tasks.
    static let columns = """
        id, queue, task, payload, key, state, priority, run_at, attempts, max_attempts, enqueued_at, started_at,
        finished_at, result, last_error, executor, concurrency_key, parent_id
        """

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        queue = try row.decode("queue")
        task = try row.decode("task")
        payload = try row.decode("payload")
        key = try row.decode("key", as: String?.self)
        state = try row.decode("state")
        priority = try row.decode("priority")
        runAt = try row.decode("run_at")
        attemptCount = try row.decode("attempts")
        maxAttempts = try row.decode("max_attempts")
        enqueuedAt = try row.decode("enqueued_at")
        startedAt = try row.decode("started_at", as: Date?.self)
        finishedAt = try row.decode("finished_at", as: Date?.self)
        result = try row.decode("result", as: String?.self)
        lastError = try row.decode("last_error", as: String?.self)
        executor = try row.decode("executor", as: String?.self)
        concurrencyKey = try row.decode("concurrency_key", as: String?.self)
        parentID = try row.decode("parent_id", as: Int64?.self)
    }
}

/// One attempt of a task that did not succeed (a row of `rota.task_attempt_history`).
public struct RotaAttemptRecord: Sendable, Hashable, Codable {
    public var taskID: Int64
    public var attempt: Int
    public var executor: String?
    /// How the attempt ended: `failed`, `lease_expired` or `released`.
    public var outcome: String
    public var startedAt: Date?
    public var finishedAt: Date
    public var error: String?

    /// The columns ``init(row:)`` reads.
    static let columns = "task_id, attempt, executor, outcome, started_at, finished_at, error"

    init(row: PostgresRow) throws {
        taskID = try row.decode("task_id")
        attempt = try row.decode("attempt")
        executor = try row.decode("executor", as: String?.self)
        outcome = try row.decode("outcome")
        startedAt = try row.decode("started_at", as: Date?.self)
        finishedAt = try row.decode("finished_at")
        error = try row.decode("error", as: String?.self)
    }
}
