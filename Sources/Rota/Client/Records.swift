import Foundation

/// A row of `rota.tasks`.
public struct RotaTaskRecord: Sendable, Hashable, Codable {
    public var id: Int64
    public var queue: String
    public var task: String
    /// The payload as JSON text.
    public var payload: String
    public var key: String?
    /// `queued`, `running`, `succeeded`, `failed` or `cancelled`.
    public var state: String
    public var priority: Int?
    public var runAt: Date?
    /// The number of the latest attempt (claims so far).
    public var attemptCount: Int?
    public var maxAttempts: Int?
    public var enqueuedAt: Date?
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

    init(row: PostgresRow) throws {
        id = try row.decode("id")
        queue = try row.decode("queue")
        task = try row.decode("task")
        payload = try row.decodeIfPresent("payload") ?? "{}"
        key = try row.decodeIfPresent("key")
        state = try row.decode("state")
        priority = try row.decodeIfPresent("priority")
        runAt = try row.decodeIfPresent("run_at")
        attemptCount = try row.decodeIfPresent("attempts") ?? row.decodeIfPresent("attempt")
        maxAttempts = try row.decodeIfPresent("max_attempts")
        enqueuedAt = try row.decodeIfPresent("enqueued_at") ?? row.decodeIfPresent("created_at")
        startedAt = try row.decodeIfPresent("started_at")
        finishedAt = try row.decodeIfPresent("finished_at")
        result = try row.decodeIfPresent("result")
        lastError = try row.decodeIfPresent("last_error") ?? row.decodeIfPresent("error")
        executor = try row.decodeIfPresent("executor") ?? row.decodeIfPresent("locked_by")
        concurrencyKey = try row.decodeIfPresent("concurrency_key")
        parentID = try row.decodeIfPresent("parent_id")
    }
}

/// One attempt of a task (a row of the attempt history).
public struct RotaAttemptRecord: Sendable, Hashable, Codable {
    public var taskID: Int64
    public var attempt: Int
    public var executor: String?
    /// How the attempt ended (`succeeded`, `failed`, ...), nil while running.
    public var outcome: String?
    public var startedAt: Date?
    public var finishedAt: Date?
    public var error: String?

    init(row: PostgresRow) throws {
        taskID = try row.decode("task_id")
        attempt = try row.decode("attempt")
        executor = try row.decodeIfPresent("executor")
        outcome = try row.decodeIfPresent("outcome") ?? row.decodeIfPresent("state")
        startedAt = try row.decodeIfPresent("started_at")
        finishedAt = try row.decodeIfPresent("finished_at")
        error = try row.decodeIfPresent("error")
    }
}

/// A row of a status view, with its columns in order as text: views grow columns over
/// releases, so tools show whatever the installed schema has.
public struct RotaStatusRow: Sendable, Hashable, Codable {
    /// Column names and values (nil for NULL), in the view's order.
    public var fields: [Field]

    /// One column.
    public struct Field: Sendable, Hashable, Codable {
        public var name: String
        public var value: String?
    }

    init(row: PostgresRow) {
        fields = zip(row.columns, row.values).map { Field(name: $0, value: $1) }
    }

    /// The text of column `name`, nil when NULL or absent.
    public subscript(name: String) -> String? {
        fields.first { $0.name == name }?.value ?? nil
    }
}
