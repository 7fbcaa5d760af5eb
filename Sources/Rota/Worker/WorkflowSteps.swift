import Foundation
import Synchronization

/// The step checkpoints of one attempt of a task (``TaskContext/step(_:_:)`` and
/// ``TaskContext/transaction(_:_:)``): the steps recorded by earlier attempts are loaded
/// once, with the attempt's first step, and returned instead of running their closures;
/// new steps are recorded under the attempt and its lease token, so an attempt that lost
/// its task records nothing.
final class WorkflowSteps: Sendable {
    private struct State {
        /// Outputs recorded before this attempt's first step (nil until loaded; empty from the
        /// start for a first attempt).
        var recorded: [String: String]?
        /// The step names this attempt has used.
        var used: Set<String> = []
        /// Durable sleeps this attempt has reached (they are steps `sleep-1`, `sleep-2`, ...).
        var sleeps = 0
        /// Whether ``completeInTransaction(_:)`` committed.
        var completed = false
    }

    /// The transaction whose closure is running (on this Swift task), if any: its label.
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
        // Every claim takes a new attempt number (a sleep or a wait refunds the attempt but
        // does not reuse its number), and only a claimed attempt records steps: the first
        // attempt has nothing to load, which saves its workflows one round trip.
        if task.attempt == 1 { state.withLock { $0.recorded = [:] } }
    }

    /// A plain step: the recorded output, else the closure's, recorded.
    func step<T: Codable & Sendable>(_ name: String, _ body: () async throws -> T) async throws -> T {
        try refuseSleepStepName(name)
        if let recorded: T = try await recordedOutput(of: name) { return recorded }
        let value = try await body()
        let output = try encode(value, "step \"\(name)\"")
        let recorded = try await refusingBadInput("step \"\(name)\"") {
            try await pool.withConnection { connection in
                try await Statements(connection: connection).recordStep(
                    taskID: taskID, attempt: attempt, token: token, name: name, output: output)
            }
        }
        guard recorded else { throw fencedOff("step \"\(name)\"", nothing: "recorded") }
        return value
    }

    /// A transactional step: the recorded output, else the closure's, with the closure's
    /// statements and the checkpoint committed in one transaction (rolled back when the
    /// attempt no longer owns its task).
    func transaction<T: Codable & Sendable>(_ name: String, _ body: (RotaTransaction) async throws -> T) async throws -> T {
        try refuseSleepStepName(name)
        if let recorded: T = try await recordedOutput(of: name) { return recorded }
        return try await inTransaction("transactional step \"\(name)\"", body) { transaction, value in
            let output = try encode(value, "step \"\(name)\"")
            let recorded: Bool = try await refusingBadInput("step \"\(name)\"") {
                try await transaction.query(Statements.recordStepSQL, [taskID, attempt, name, output, token])[0]
                    .decode("recorded")
            }
            guard recorded else { throw fencedOff("step \"\(name)\"", nothing: "recorded") }
        }
    }

    /// Whether ``completeInTransaction(_:)`` committed the task's completion: the worker
    /// then writes no outcome of its own for this attempt.
    var completedInTransaction: Bool { state.withLock { $0.completed } }

    /// Completes the task in one transaction with the closure's statements
    /// (`rota.complete_in_transaction`, fenced like `rota.complete`; a requested cancel
    /// refuses too, and the transaction rolls back).
    func completeInTransaction<T: Encodable & Sendable>(_ body: (RotaTransaction) async throws -> T) async throws -> T {
        if let enclosing = Self.enclosingTransaction {
            throw RotaTaskError.nonRetryable(
                "the completion of task \(task) (id \(taskID)) runs inside \(enclosing); it must run outside any transaction's closure")
        }
        let value = try await inTransaction("the completing transaction", body) { transaction, value in
            let result = try encode(value, "the result")
            let completed: Bool = try await refusingBadInput("the result") {
                try await transaction.query(Statements.completeInTransactionSQL, [taskID, attempt, result, token])[0]
                    .decode("completed")
            }
            guard completed else { throw fencedOff("the completion", nothing: "written") }
        }
        // After COMMIT only: a COMMIT that failed (a deferred constraint, a broken
        // connection) leaves the outcome to the worker, whose write is fenced off if the
        // completion landed after all.
        state.withLock { $0.completed = true }
        return value
    }

    /// Runs `body` on a pooled connection in one transaction that `finish` ends with the
    /// checkpoint or the completion (throwing to roll everything back), then commits.
    /// - Parameter label: names the transaction in the error of a step run inside it.
    private func inTransaction<T: Sendable>(_ label: String, _ body: (RotaTransaction) async throws -> T,
                                            finish: (RotaTransaction, T) async throws -> Void) async throws -> T {
        try await pool.withConnection { reconnecting in
            // BEGIN may reconnect (the pooled connection is lent to this step alone); the
            // rest of the transaction stays on that one connection: a break in the middle
            // fails the step, and never sends its remaining statements outside it.
            try await reconnecting.query("BEGIN")
            let transaction = RotaTransaction(connection: try await reconnecting.connection())
            do {
                let value = try await Self.$enclosingTransaction.withValue(label) { try await body(transaction) }
                try await finish(transaction, value)
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
                "step \"\(name)\" runs inside \(enclosing) of task \(task) (id \(taskID)); "
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

    /// Fails the task without retries for a step named like a durable sleep (`sleep-1`,
    /// `sleep-2`, ...): it would take a sleep's record for its output, or a sleep its own.
    private func refuseSleepStepName(_ name: String) throws {
        let number = name.dropFirst("sleep-".count)
        guard name.hasPrefix("sleep-"), !number.isEmpty, number.allSatisfy(\.isASCII), number.allSatisfy(\.isNumber) else {
            return
        }
        throw RotaTaskError.nonRetryable(
            "step \"\(name)\" of task \(task) (id \(taskID)): the names sleep-1, sleep-2, ... are the durable "
                + "sleeps' own; give the step another name")
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

    /// - Parameter what: what is encoded, e.g. `step "render"`.
    private func encode<T: Encodable>(_ value: T, _ what: String) throws -> PostgresJSON {
        do {
            return try PostgresJSON(encoding: value, encoder: JSONCoding.encoder())
        } catch {
            throw RotaTaskError.nonRetryable("\(what) of task \(task) (id \(taskID)): \(error)")
        }
    }

    /// Runs `record`, turning the refusals of bad input (a step name out of the pattern, an
    /// output or result over the size limit) into failures without retries: they would recur.
    /// - Parameter what: what is recorded, e.g. `step "render"`.
    func refusingBadInput<R>(_ what: String, _ record: () async throws -> R) async throws -> R {
        do {
            return try await record()
        } catch let error as RotaError where error.code == .invalidArgument || error.code == .payloadTooLarge {
            throw RotaTaskError.nonRetryable("\(what) of task \(task) (id \(taskID)) cannot be recorded: \(error)")
        }
    }

    func fencedOff(_ what: String, nothing written: String) -> RotaError {
        RotaError(.fencedOff, "\(what): attempt \(attempt) of task \(taskID) no longer owns the task "
                    + "(its lease ended or it was cancelled); nothing was \(written)")
    }
}
