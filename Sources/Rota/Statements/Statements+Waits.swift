import Foundation

extension Statements {
    /// `rota.sleep` until `seconds` after the database's clock (so a client clock that is off
    /// cannot move a short sleep into the past); false when the attempt no longer owns its task.
    func sleep(taskID: Int64, attempt: Int, token: String, seconds: Double, step: String) async throws -> Bool {
        try await run("""
            SELECT rota.sleep($1::bigint, $2::int, $3::uuid, statement_timestamp() + make_interval(secs => $4::float8),
                              $5) AS slept
            """, [taskID, attempt, token, seconds, step])[0].decode("slept")
    }

    /// `rota.sleep` until `until`; false when the attempt no longer owns its task.
    func sleep(taskID: Int64, attempt: Int, token: String, until: Date, step: String) async throws -> Bool {
        try await run("SELECT rota.sleep($1::bigint, $2::int, $3::uuid, $4::timestamptz, $5) AS slept",
                      [taskID, attempt, token, until, step])[0].decode("slept")
    }

    /// `rota.enqueue_child`: the child's id, nil when the attempt no longer owns its task.
    func enqueueChild(taskID: Int64, attempt: Int, token: String, task: String, key: String, payload: PostgresJSON,
                      queue: String?) async throws -> Int64? {
        var call = FunctionCall("rota.enqueue_child")
        call.add("id", taskID, as: "bigint")
        call.add("attempt", attempt, as: "int")
        call.add("token", token, as: "uuid")
        call.add("task", task)
        call.add("key", key)
        call.add("payload", payload, as: "jsonb")
        call.add("queue", queue)
        return try await run("SELECT \(call.sql) AS id", call.parameters)[0].decode("id", as: Int64?.self)
    }

    /// `rota.wait_for_children`: how many children the task now waits for (0: none, it keeps
    /// running), nil when the attempt no longer owns its task.
    func waitForChildren(taskID: Int64, attempt: Int, token: String) async throws -> Int? {
        try await run("SELECT rota.wait_for_children($1::bigint, $2::int, $3::uuid) AS open",
                      [taskID, attempt, token])[0].decode("open", as: Int?.self)
    }

    /// `rota.children`: every child of the task with its outcome, in id order.
    func children(taskID: Int64, attempt: Int, token: String) async throws -> [RotaChildTask] {
        try await run("""
            SELECT child_id, task, key, state, result::text AS result, last_error
            FROM rota.children($1::bigint, $2::int, $3::uuid)
            """, [taskID, attempt, token]).map(RotaChildTask.init(row:))
    }
}
