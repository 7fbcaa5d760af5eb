import Foundation
import Rota

/// The worker commands' built-in handlers, for trying Rota out, for tests and for `rota-bench`.
public enum DiagnosticHandlers {
    struct SleepPayload: Codable, Sendable { var ms: Int }
    /// `started`/`finished`: wall-clock seconds since 1970 around the sleep, so tests can see
    /// how many handlers ran at once across processes.
    struct SleepResult: Codable, Sendable { var slept_ms: Int; var started: Double; var finished: Double }
    /// `started`: wall-clock seconds since 1970 when the handler started.
    struct LatencyResult: Codable, Sendable { var started: Double }
    struct FailPayload: Codable, Sendable { var times: Int }
    struct FailResult: Codable, Sendable { var attempt: Int }
    /// `transactional`: each step is a transaction that also inserts (task id, step number)
    /// into the caller's table `rota_step_effects`, to count effects across crashes.
    struct StepsPayload: Codable, Sendable { var steps: Int; var ms: Int; var transactional: Bool? }
    /// The output of step `step-<step>`, recorded by `attempt`.
    struct StepOutput: Codable, Sendable { var step: Int; var attempt: Int }
    /// The steps whose closures ran in the attempt that completed the task.
    struct StepsResult: Codable, Sendable { var ran: [Int] }
    /// `children` tasks `task` in `queue`, enqueued `batch` per transaction (default 1,000).
    struct FanOutPayload: Codable, Sendable { var queue: String; var task: String; var children: Int; var batch: Int? }
    struct FanOutResult: Codable, Sendable { var enqueued: Int }
    struct FailedOnPurpose: Error, CustomStringConvertible {
        var attempt: Int
        var times: Int
        var description: String { "fail: attempt \(attempt) fails on purpose (first \(times) attempts fail)" }
    }

    /// `noop`, `latency`, `sleep`, `fail`, `steps`, `soak` (``SoakHandler``) and `fanout`.
    public static var all: RotaHandlers {
        var handlers = RotaHandlers()
        handlers.register("noop") { (_: EmptyPayload, _) in }
        handlers.register("latency") { (_: EmptyPayload, _) -> LatencyResult in
            LatencyResult(started: Date().timeIntervalSince1970)
        }
        handlers.register("sleep") { (payload: SleepPayload, _) -> SleepResult in
            let started = Date().timeIntervalSince1970
            try await Task.sleep(for: .milliseconds(payload.ms))
            return SleepResult(slept_ms: payload.ms, started: started, finished: Date().timeIntervalSince1970)
        }
        handlers.register("fail") { (payload: FailPayload, context) -> FailResult in
            if context.attempt <= payload.times { throw FailedOnPurpose(attempt: context.attempt, times: payload.times) }
            return FailResult(attempt: context.attempt)
        }
        handlers.register("steps") { (payload: StepsPayload, context) -> StepsResult in
            var ran: [Int] = []
            for index in stride(from: 1, through: payload.steps, by: 1) {
                let name = "step-\(index)"
                let output: StepOutput
                if payload.transactional == true {
                    output = try await context.transaction(name) { transaction in
                        try await Task.sleep(for: .milliseconds(payload.ms))
                        try await transaction.query("INSERT INTO rota_step_effects (task_id, step) VALUES ($1::bigint, $2::int)",
                                                    [context.taskID, index])
                        ran.append(index)
                        return StepOutput(step: index, attempt: context.attempt)
                    }
                } else {
                    output = try await context.step(name) {
                        try await Task.sleep(for: .milliseconds(payload.ms))
                        ran.append(index)
                        return StepOutput(step: index, attempt: context.attempt)
                    }
                }
                // A recorded output must be this step's, whichever attempt recorded it.
                guard output.step == index else {
                    throw RotaTaskError.nonRetryable("steps: step-\(index) returned the output of step \(output.step)")
                }
            }
            return StepsResult(ran: ran)
        }
        SoakHandler.register(in: &handlers)
        // One child per tenant, keyed under this task, each batch a transactional step: a
        // retried fan-out skips the batches that committed (the scale benchmark's fan-out).
        handlers.register("fanout") { (payload: FanOutPayload, context) -> FanOutResult in
            let batch = max(1, payload.batch ?? 1000)
            var enqueued = 0
            for first in stride(from: 1, through: payload.children, by: batch) {
                let last = min(payload.children, first + batch - 1)
                enqueued += try await context.transaction("children-\(first)") { transaction in
                    try await transaction.query(
                        """
                        SELECT count(*) AS n
                        FROM rota.enqueue_many($1, $2, array_fill('{}'::jsonb, ARRAY[$4::int - $3::int + 1]),
                                               keys => ARRAY(SELECT 'task:' || $5::bigint || '/tenant-' || g
                                                             FROM generate_series($3::int, $4::int) AS g),
                                               parent_id => $5::bigint)
                        """, [payload.queue, payload.task, first, last, context.taskID])[0].decode("n", as: Int.self)
                }
            }
            return FanOutResult(enqueued: enqueued)
        }
        return handlers
    }
}
