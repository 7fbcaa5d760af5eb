import Foundation
import Rota
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The `soak` diagnostic handler that `make soak` (scripts/soak.py) runs in its workers.
///
/// Every attempt appends a `start` line and an `end` line (JSON, one `write` each) to the
/// process's ledger file `$ROTA_SOAK_LEDGER`: a local file, so that a worker cut off from the
/// database still records what it ran, and a SIGKILL loses no line already written. The soak
/// checks its limits, its executors per attempt and its recovery times from these stamps.
enum SoakHandler {
    /// `ms`: how long the attempt works; `fail`: the first attempts that fail on purpose;
    /// `workflow`: a durable step, a transactional step that inserts its effect into the
    /// caller's table `soak_effects`, another durable step; `complete_in_transaction`: a
    /// durable step, then the completion committed with a row in `soak_completions`;
    /// `fanout`: children enqueued into queue `soak_fan` in one transactional step (keys
    /// derived from the task's key).
    struct Payload: Codable, Sendable {
        var ms: Int
        var fail: Int?
        var workflow: Bool?
        var completeInTransaction: Bool?
        var fanout: Int?

        enum CodingKeys: String, CodingKey {
            case ms, fail, workflow, fanout
            case completeInTransaction = "complete_in_transaction"
        }
    }
    /// Who completed the task: the soak checks that it is the attempt that holds it.
    struct Result: Codable, Sendable { var executor: String; var attempt: Int }
    struct Ledger: Sendable {
        var fd: Int32
        /// Appends one line in one `write`: with `O_APPEND` the lines of concurrent handlers
        /// never interleave.
        func append(_ fields: [String: any Sendable]) {
            guard let data = try? JSONSerialization.data(withJSONObject: fields), var line = String(data: data, encoding: .utf8)
            else { return }
            line += "\n"
            _ = line.withCString { write(fd, $0, strlen($0)) }
        }
    }
    struct FailedOnPurpose: Error, CustomStringConvertible {
        var attempt: Int
        var description: String { "soak: attempt \(attempt) fails on purpose" }
    }

    /// The ledger of this process, opened once (nil without `$ROTA_SOAK_LEDGER`).
    static let ledger: Ledger? = {
        guard let path = ProcessInfo.processInfo.environment["ROTA_SOAK_LEDGER"], !path.isEmpty else { return nil }
        let fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o644)
        return fd < 0 ? nil : Ledger(fd: fd)
    }()

    static func register(in handlers: inout RotaHandlers) {
        handlers.register("soak") { (payload: Payload, context: TaskContext) -> Result in
            guard let ledger else { throw RotaTaskError.nonRetryable("soak: set ROTA_SOAK_LEDGER to the ledger file") }
            let stamp: [String: any Sendable] = ["task": context.taskID, "attempt": context.attempt,
                                                 "executor": context.executorID, "queue": context.queue]
            ledger.append(stamp.merging(["ev": "start", "t": Date().timeIntervalSince1970]) { $1 })
            do {
                let result = try await run(payload, context)
                ledger.append(stamp.merging(["ev": "end", "t": Date().timeIntervalSince1970, "outcome": "ok"]) { $1 })
                return result
            } catch {
                let outcome = error is CancellationError || Task.isCancelled ? "cancelled" : "error"
                ledger.append(stamp.merging(["ev": "end", "t": Date().timeIntervalSince1970, "outcome": outcome]) { $1 })
                throw error
            }
        }
    }

    private static func run(_ payload: Payload, _ context: TaskContext) async throws -> Result {
        if payload.workflow == true {
            _ = try await context.step("prepare") {
                try await Task.sleep(for: .milliseconds(payload.ms / 3))
                return context.attempt
            }
            _ = try await context.transaction("effect") { transaction in
                try await transaction.query("INSERT INTO soak_effects (task_id, attempt, executor) VALUES ($1::bigint, $2::int, $3)",
                                            [context.taskID, context.attempt, context.executorID])
                try await Task.sleep(for: .milliseconds(payload.ms / 3))
                return context.attempt
            }
            _ = try await context.step("finish") {
                try await Task.sleep(for: .milliseconds(payload.ms / 3))
                return context.attempt
            }
        } else if payload.completeInTransaction == true {
            _ = try await context.step("prepare") {
                try await Task.sleep(for: .milliseconds(payload.ms / 2))
                return context.attempt
            }
            return try await context.completeInTransaction { transaction in
                try await transaction.query(
                    "INSERT INTO soak_completions (task_id, attempt, executor) VALUES ($1::bigint, $2::int, $3)",
                    [context.taskID, context.attempt, context.executorID])
                try await Task.sleep(for: .milliseconds(payload.ms / 2))
                return Result(executor: context.executorID, attempt: context.attempt)
            }
        } else if let children = payload.fanout, children > 0 {
            // A fire's key `schedule:...` becomes `fire:...` (keys of the `schedule:` namespace are the scheduler's).
            var scope = context.key ?? "task:\(context.taskID)"
            if scope.hasPrefix("schedule:") { scope = "fire:" + String(scope.dropFirst("schedule:".count)) }
            _ = try await context.transaction("fan-out") { transaction in
                try await transaction.query("""
                    SELECT count(rota.enqueue('soak_fan', 'soak', jsonb_build_object('ms', 20), key => $1 || '/' || i))
                    FROM generate_series(1, $2::int) i
                    """, [scope, children])
                return children
            }
        } else {
            try await Task.sleep(for: .milliseconds(payload.ms))
        }
        if context.attempt <= payload.fail ?? 0 { throw FailedOnPurpose(attempt: context.attempt) }
        return Result(executor: context.executorID, attempt: context.attempt)
    }
}
