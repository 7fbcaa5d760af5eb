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
    /// derived from the task's key). The workflow waits, which may come together: `sleeps`:
    /// that many steps `work-<n>` (`ms` shared among them), each followed by a durable sleep
    /// of `sleep_ms`; `children`: that many children (``TaskContext/enqueueChild(task:payload:key:queue:)``,
    /// in this task's queue, each with a `value`, the second one failing its first attempt),
    /// then the wait for them, whose outcomes make the result.
    struct Payload: Codable, Sendable {
        var ms: Int
        var kind: String?
        var fail: Int?
        var workflow: Bool?
        var completeInTransaction: Bool?
        var fanout: Int?
        var sleeps: Int?
        var sleepMs: Int?
        var children: Int?
        var value: Int?

        enum CodingKeys: String, CodingKey {
            case ms, kind, fail, workflow, fanout, sleeps, children, value
            case completeInTransaction = "complete_in_transaction"
            case sleepMs = "sleep_ms"
        }
    }
    /// Who completed the task: the soak checks that it is the attempt that holds it. A child
    /// returns its payload's `value`; a parent its children's ids, how many succeeded and the
    /// sum of their values, as `waitForChildren` gave them.
    struct Result: Codable, Sendable {
        var executor: String
        var attempt: Int
        var value: Int?
        var children: [Int64]?
        var childrenSucceeded: Int?
        var valueSum: Int?

        enum CodingKeys: String, CodingKey {
            case executor, attempt, value, children
            case childrenSucceeded = "children_succeeded"
            case valueSum = "value_sum"
        }
    }
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
                let result = try await run(payload, context, ledger)
                ledger.append(stamp.merging(["ev": "end", "t": Date().timeIntervalSince1970, "outcome": "ok"]) { $1 })
                return result
            } catch {
                let outcome = error is CancellationError || Task.isCancelled ? "cancelled" : "error"
                ledger.append(stamp.merging(["ev": "end", "t": Date().timeIntervalSince1970, "outcome": outcome]) { $1 })
                throw error
            }
        }
    }

    private static func run(_ payload: Payload, _ context: TaskContext, _ ledger: Ledger) async throws -> Result {
        if payload.sleeps != nil || payload.children != nil {
            return try await waits(payload, context, ledger)
        }
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
        return Result(executor: context.executorID, attempt: context.attempt, value: payload.value)
    }

    /// Durable sleeps between steps, then children and the wait for them. Every run of a
    /// step's closure appends a `step` line, so that the soak sees a step recorded before a
    /// sleep or wait never run again.
    private static func waits(_ payload: Payload, _ context: TaskContext, _ ledger: Ledger) async throws -> Result {
        let sleeps = payload.sleeps ?? 0
        for index in stride(from: 1, through: sleeps, by: 1) {
            _ = try await context.step("work-\(index)") {
                ledger.append(["ev": "step", "task": context.taskID, "attempt": context.attempt, "name": "work-\(index)",
                               "executor": context.executorID, "t": Date().timeIntervalSince1970])
                try await Task.sleep(for: .milliseconds(payload.ms / sleeps))
                return context.attempt
            }
            try await context.sleep(for: .milliseconds(payload.sleepMs ?? 50))
        }
        var result = Result(executor: context.executorID, attempt: context.attempt)
        let count = payload.children ?? 0
        guard count > 0 else { return result }
        for index in 1...count {
            let child = Payload(ms: 20 + 10 * index, kind: "child", fail: index == 2 ? 1 : nil,
                                value: Int(context.taskID % 1000) * 10 + index)
            try await context.enqueueChild(task: "soak", payload: child, key: "child-\(index)")
        }
        let children = try await context.waitForChildren()
        result.children = children.map(\.id)
        result.childrenSucceeded = children.filter { $0.state == .succeeded }.count
        result.valueSum = try children.filter { $0.state == .succeeded }.reduce(0) { sum, child in
            let outcome = try JSONDecoder().decode(Result.self, from: Data((child.result ?? "{}").utf8))
            return sum + (outcome.value ?? 0)
        }
        return result
    }
}
