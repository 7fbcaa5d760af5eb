extension Statements {
    /// The `NOTIFY` channel of awaited tasks reaching a final state (payload: the task id).
    static let taskFinishedChannel = "rota_task_finished"

    /// `rota.start`: the task started on `executor` (a claim of it), or its id when it was
    /// left queued (the queue's limits had no room, or a task of the key was not waiting).
    func start(queue: String, task: String, payload: PostgresJSON, executor: String,
               options: EnqueueOptions) async throws -> (id: Int64, claim: ClaimedTask?) {
        var call = FunctionCall("rota.start")
        call.add("queue", queue)
        call.add("task", task)
        call.add("payload", payload, as: "jsonb")
        call.add("executor", executor)
        call.add("key", options.key)
        call.add("priority", options.priority, as: "int")
        call.add("max_attempts", options.maxAttempts, as: "int")
        call.add("concurrency_key", options.concurrencyKey)
        call.add("parent_id", options.parentID, as: "bigint")
        let row = try await run("SELECT s.*, \(ClaimedTask.leaseColumn(of: "s")) FROM \(call.sql) s", call.parameters)[0]
        let id: Int64 = try row.decode("id")
        return (id, try row.decode("started") ? try ClaimedTask(row: row) : nil)
    }

    /// `rota.await_task`: marks the task awaited and returns its status now.
    func awaitTask(id: Int64) async throws -> TaskOutcome {
        try TaskOutcome(row: try await run("SELECT * FROM rota.await_task($1::bigint)", [id])[0])
    }

    /// `rota.task_status`.
    func taskStatus(id: Int64) async throws -> TaskOutcome {
        try TaskOutcome(row: try await run("SELECT * FROM rota.task_status($1::bigint)", [id])[0])
    }
}

/// A task's state with its result or last error (`rota.task_status`).
struct TaskOutcome: Sendable {
    var state: RotaTaskState
    var result: String?
    var lastError: String?

    init(row: PostgresRow) throws {
        state = try row.decode("state")
        result = try row.decode("result", as: String?.self)
        lastError = try row.decode("last_error", as: String?.self)
    }

    /// The result JSON of a succeeded task (nil: none), an error for failed and cancelled
    /// ones, nil while it is not final.
    func finalResult(taskID: Int64) throws -> String?? {
        switch state {
        case .succeeded: return .some(result)
        case .failed:
            throw RotaError(.taskFailed, "task \(taskID) failed: \(lastError ?? "no error recorded")")
        case .cancelled:
            throw RotaError(.taskCancelled, "task \(taskID) was cancelled")
        default: return .none
        }
    }
}
