import Foundation

/// Durable sleeps and waits of one attempt (``TaskContext/sleep(for:)``,
/// ``TaskContext/waitForChildren()``): each gives the task back in the database, then
/// unwinds the handler with a ``WorkflowSuspension``.
extension WorkflowSteps {
    /// Sleeps once per run: the sleep's step recorded by an earlier attempt means this sleep
    /// is over; else `release` gives the task back (recording the step with it).
    func sleep(_ release: (Statements, _ step: String) async throws -> Bool) async throws {
        let step = nextSleepStepName()
        if let _: [String: String] = try await recordedOutput(of: step) { return }
        let released = try await refusingBadInput("step \"\(step)\"") {
            try await pool.withConnection { connection in try await release(Statements(connection: connection), step) }
        }
        guard released else { throw fencedOff("step \"\(step)\"", nothing: "recorded") }
        throw WorkflowSuspension(reason: "task \(taskID) sleeps (step \(step))")
    }

    /// The children's outcomes once none is left running; else the task waits for them.
    func waitForChildren() async throws -> [RotaChildTask] {
        let open = try await pool.withConnection { connection in
            try await Statements(connection: connection).waitForChildren(taskID: taskID, attempt: attempt, token: token)
        }
        guard let open else {
            throw RotaError(.fencedOff, "waitForChildren: attempt \(attempt) of task \(taskID) no longer owns the task "
                                + "(its lease ended or it was cancelled)")
        }
        if open > 0 { throw WorkflowSuspension(reason: "task \(taskID) waits for \(open) children") }
        return try await pool.withConnection { connection in
            try await Statements(connection: connection).children(taskID: taskID, attempt: attempt, token: token)
        }
    }
}
