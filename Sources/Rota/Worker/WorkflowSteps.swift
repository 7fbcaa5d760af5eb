import Foundation
import Synchronization

/// The step checkpoints of one attempt of a task (``TaskContext/step(_:_:)`` and
/// ``TaskContext/transaction(_:_:)``): the steps recorded by earlier attempts are loaded
/// once, with the attempt's first step, and returned instead of running their closures;
/// new steps are recorded under the attempt and its lease token, so an attempt that lost
/// its task records nothing.
final class WorkflowSteps: Sendable {
    private struct State {
        /// Outputs recorded before this attempt's first step (nil until loaded).
        var recorded: [String: String]?
        /// The step names this attempt has used.
        var used: Set<String> = []
        /// Durable sleeps this attempt has reached (they are steps `sleep-1`, `sleep-2`, ...).
        var sleeps = 0
    }

    /// The transactional step whose closure is running (on this Swift task), if any.
    @TaskLocal private static var enclosingTransaction: String?

    let taskID: Int64
    let attempt: Int
    let token: String
    let task: String
    let pool: ConnectionPool
    private let state = Mutex(State())

    init(task: ClaimedTask, pool: ConnectionPool) {
        taskID = task.id
        attempt = task.attempt
        token = task.leaseToken
        self.task = task.task
        self.pool = pool
    }

    /// A plain step: the recorded output, else the closure's, recorded.
    func step<T: Codable & Sendable>(_ name: String, _ body: () async throws -> T) async throws -> T {
        if let recorded: T = try await recordedOutput(of: name) { return recorded }
        let value = try await body()
        let output = try encode(value, step: name)
        let recorded = try await refusingBadInput(step: name) {
            try await pool.withConnection { connection in
                try await Statements(connection: connection).recordStep(
                    taskID: taskID, attempt: attempt, token: token, name: name, output: output)
            }
        }
        guard recorded else { throw fencedOff(step: name) }
        return value
    }

    /// A transactional step: the recorded output, else the closure's, with the closure's
    /// statements and the checkpoint committed in one transaction (rolled back when the
    /// attempt no longer owns its task).
    func transaction<T: Codable & Sendable>(_ name: String, _ body: (RotaTransaction) async throws -> T) async throws -> T {
        if let recorded: T = try await recordedOutput(of: name) { return recorded }
        return try await pool.withConnection { reconnecting in
            // BEGIN may reconnect (the pooled connection is lent to this step alone); the
            // rest of the transaction stays on that one connection: a break in the middle
            // fails the step, and never sends its remaining statements outside it.
            try await reconnecting.query("BEGIN")
            let transaction = RotaTransaction(connection: try await reconnecting.connection())
            do {
                let value = try await Self.$enclosingTransaction.withValue(name) { try await body(transaction) }
                let output = try encode(value, step: name)
                let recorded: Bool = try await refusingBadInput(step: name) {
                    try await transaction.query(Statements.recordStepSQL, [taskID, attempt, name, output, token])[0]
                        .decode("recorded")
                }
                guard recorded else { throw fencedOff(step: name) }
                try await transaction.query("COMMIT")
                return value
            } catch {
                // A broken connection has already lost the transaction.
                _ = try? await transaction.query("ROLLBACK")
                throw error
            }
        }
    }

    /// Claims `name` for this attempt, then returns its output recorded by an earlier
    /// attempt, decoded as `T`, or nil when it has none.
    func recordedOutput<T: Decodable>(of name: String) async throws -> T? {
        if let enclosing = Self.enclosingTransaction {
            // Its checkpoint would not commit with the enclosing transaction, and it would
            // wait for a pooled connection while holding one.
            throw RotaTaskError.nonRetryable(
                "step \"\(name)\" runs inside transactional step \"\(enclosing)\" of task \(task) (id \(taskID)); "
                    + "steps cannot run inside a transaction's closure")
        }
        let firstUse = state.withLock { $0.used.insert(name).inserted }
        guard firstUse else {
            // Running it again would either repeat its effects or return the first call's
            // output for a different piece of work: both are bugs, so say so.
            throw RotaTaskError.nonRetryable(
                "step \"\(name)\" is used twice in one run of task \(task) (id \(taskID)); step names must be unique "
                    + "within a task, for example \"send-\\(index)\" in a loop")
        }
        guard let json = try await recordedOutputs()[name] else { return nil }
        do {
            return try JSONCoding.decoder().decode(T.self, from: Data(json.utf8))
        } catch {
            // The same text will not decode in a later attempt either.
            throw RotaTaskError.nonRetryable(
                "step \"\(name)\" of task \(task) (id \(taskID)): its recorded output \(json.prefix(200)) "
                    + "does not decode as \(T.self): \(error)")
        }
    }

    /// The step name of this attempt's next durable sleep: sleeps are numbered in the order
    /// a run reaches them, so the same sleep has the same name in every attempt.
    func nextSleepStepName() -> String {
        "sleep-\(state.withLock { state in state.sleeps += 1; return state.sleeps })"
    }

    /// The outputs recorded before this attempt, loaded with its first step.
    private func recordedOutputs() async throws -> [String: String] {
        if let recorded = state.withLock({ $0.recorded }) { return recorded }
        let loaded = try await pool.withConnection { connection in
            try await Statements(connection: connection).steps(taskID: taskID, attempt: attempt, token: token)
        }
        state.withLock { $0.recorded = loaded }
        return loaded
    }

    private func encode<T: Encodable>(_ value: T, step: String) throws -> PostgresJSON {
        do {
            return try PostgresJSON(encoding: value, encoder: JSONCoding.encoder())
        } catch {
            throw RotaTaskError.nonRetryable("step \"\(step)\" of task \(task) (id \(taskID)): \(error)")
        }
    }

    /// Runs `record`, turning the refusals of bad step input (a name out of the pattern, an
    /// output over the size limit) into failures without retries: they would recur.
    func refusingBadInput<R>(step: String, _ record: () async throws -> R) async throws -> R {
        do {
            return try await record()
        } catch let error as RotaError where error.code == .invalidArgument || error.code == .payloadTooLarge {
            throw RotaTaskError.nonRetryable("step \"\(step)\" of task \(task) (id \(taskID)) cannot be recorded: \(error)")
        }
    }

    func fencedOff(step: String) -> RotaError {
        RotaError(.fencedOff, "step \"\(step)\": attempt \(attempt) of task \(taskID) no longer owns the task "
                    + "(its lease ended or it was cancelled); nothing was recorded")
    }
}
