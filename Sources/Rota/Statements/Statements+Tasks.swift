extension Statements {
    /// `rota.enqueue`; returns the task id (an existing task's for a key already in the queue).
    func enqueue(queue: String, task: String, payload: PostgresJSON, options: EnqueueOptions) async throws -> Int64 {
        var call = FunctionCall("rota.enqueue")
        call.add("queue", queue)
        call.add("task", task)
        call.add("payload", payload, as: "jsonb")
        call.add("key", options.key)
        call.add("run_at", options.runAt, as: "timestamptz")
        call.add("priority", options.priority, as: "int")
        call.add("max_attempts", options.maxAttempts, as: "int")
        call.add("concurrency_key", options.concurrencyKey)
        call.add("parent_id", options.parentID, as: "bigint")
        return try await run("SELECT \(call.sql) AS id", call.parameters)[0].decode("id")
    }

    /// `rota.enqueue_many`; returns the ids in input order. `options.key` is not used: `keys` are.
    func enqueueMany(queue: String, task: String, payloads: [PostgresJSON], keys: [String?]?,
                     options: EnqueueOptions) async throws -> [Int64] {
        var call = FunctionCall("rota.enqueue_many")
        call.add("queue", queue)
        call.add("task", task)
        call.add("payloads", payloads, as: "jsonb[]")
        call.add("keys", keys, as: "text[]")
        call.add("run_at", options.runAt, as: "timestamptz")
        call.add("priority", options.priority, as: "int")
        call.add("max_attempts", options.maxAttempts, as: "int")
        call.add("concurrency_key", options.concurrencyKey)
        call.add("parent_id", options.parentID, as: "bigint")
        return try await run("SELECT id FROM \(call.sql) AS id", call.parameters).map { try $0.decode(at: 0, as: Int64.self) }
    }

    /// `rota.cancel`: the state after the call (`cancelling` for a running task).
    func cancel(taskID: Int64) async throws -> String {
        try await run("SELECT rota.cancel($1::bigint) AS state", [taskID])[0].decode("state")
    }

    func retry(taskID: Int64) async throws {
        try await run("SELECT rota.retry($1::bigint)", [taskID])
    }

    func task(id: Int64) async throws -> RotaTaskRecord? {
        try await run("SELECT \(RotaTaskRecord.columns) FROM rota.task_details WHERE id = $1::bigint", [id])
            .first.map(RotaTaskRecord.init(row:))
    }

    /// Tasks, newest first, of `queue` and in `state` when given.
    func tasks(queue: String?, state: RotaTaskState?, limit: Int) async throws -> [RotaTaskRecord] {
        try await run(
            """
            SELECT \(RotaTaskRecord.columns) FROM rota.task_details
            WHERE ($1::text IS NULL OR queue = $1) AND ($2::text IS NULL OR state = $2)
            ORDER BY id DESC LIMIT $3::int
            """, [queue, state, limit]).map(RotaTaskRecord.init(row:))
    }

    func attempts(taskID: Int64) async throws -> [RotaAttemptRecord] {
        try await run("SELECT \(RotaAttemptRecord.columns) FROM rota.task_attempt_history WHERE task_id = $1::bigint ORDER BY attempt",
                      [taskID]).map(RotaAttemptRecord.init(row:))
    }
}
