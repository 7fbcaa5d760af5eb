extension Statements {
    /// `rota.steps`: every step recorded for a task so far, name → output JSON text.
    func steps(taskID: Int64, attempt: Int, token: String) async throws -> [String: String] {
        let rows = try await run("SELECT name, output::text AS output FROM rota.steps($1::bigint, $2::int, $3::uuid)",
                                 [taskID, attempt, token])
        var outputs: [String: String] = [:]
        for row in rows { outputs[try row.decode("name")] = try row.decode("output", as: String?.self) ?? "null" }
        return outputs
    }

    /// `rota.record_step`: false when the attempt no longer owns its task (nothing written).
    func recordStep(taskID: Int64, attempt: Int, token: String, name: String, output: PostgresJSON) async throws -> Bool {
        try await run(Self.recordStepSQL, [taskID, attempt, name, output, token])[0].decode("recorded")
    }

    /// The text of ``recordStep(taskID:attempt:token:name:output:)``, also sent inside a
    /// ``RotaTransaction`` so that the checkpoint commits with the handler's writes.
    static let recordStepSQL =
        "SELECT rota.record_step($1::bigint, $2::int, $3, $4::jsonb, $5::uuid) AS recorded"

    /// `rota.complete_in_transaction`, sent inside a ``RotaTransaction`` after the handler's
    /// statements: `completed` is false when the attempt was fenced off (roll back).
    static let completeInTransactionSQL =
        "SELECT rota.complete_in_transaction($1::bigint, $2::int, $3::jsonb, $4::uuid) AS completed"

    /// The recorded steps of a task, in the order they were recorded (``RotaStepRecord``).
    func stepRecords(taskID: Int64) async throws -> [RotaStepRecord] {
        try await run("SELECT \(RotaStepRecord.columns) FROM rota.step_outputs WHERE task_id = $1::bigint ORDER BY recorded_at, step",
                      [taskID]).map(RotaStepRecord.init(row:))
    }
}
