import Foundation
import Rota
import RotaTestSupport
import Synchronization
import XCTest

/// Steps and transactional steps of an in-process worker against a real database:
/// resuming after a failed attempt, names used twice, outputs that no longer decode, bad
/// step input, and the fence of a transaction whose attempt lost its task.
final class WorkflowTests: XCTestCase {
    func database() async throws -> String { try await SharedDatabases.shared.url("rota_test_swift_workflow") }

    struct Counted: Codable, Sendable, Equatable { var n: Int }

    /// A door a handler waits at until the test opens it.
    final class Gate: Sendable {
        private let state = Mutex<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))
        func wait() async {
            await withCheckedContinuation { continuation in
                let isOpen = state.withLock { state in
                    if !state.open { state.waiters.append(continuation) }
                    return state.open
                }
                if isOpen { continuation.resume() }
            }
        }
        func open() {
            let waiters = state.withLock { state in
                state.open = true
                defer { state.waiters = [] }
                return state.waiters
            }
            for waiter in waiters { waiter.resume() }
        }
    }

    func fastRetries(_ maxAttempts: Int = 3) -> QueueOptions {
        QueueOptions(maxAttempts: maxAttempts, backoffBase: .milliseconds(10), backoffMax: .milliseconds(50))
    }

    func testRecordedStepsAreNotRunAgainByTheNextAttempt() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("wf_resume", options: fastRetries())
        let ran = Recorder<String>()
        var handlers = RotaHandlers()
        handlers.register("three") { (_: EmptyPayload, context) -> Counted in
            let a = try await context.step("a") { () -> Counted in
                ran.append("a@\(context.attempt)")
                return Counted(n: 1)
            }
            let b = try await context.step("b") { () -> Counted in
                ran.append("b@\(context.attempt)")
                return Counted(n: a.n + 10)
            }
            if context.attempt == 1 { throw RotaTaskError.retry(after: .milliseconds(10), reason: "crash after b") }
            let c = try await context.step("c") { () -> Counted in
                ran.append("c@\(context.attempt)")
                return Counted(n: b.n + 100)
            }
            return c
        }
        try await withWorker(url: url, queues: ["wf_resume": 2], handlers: handlers) { _, _ in
            let id = try await client.enqueue(queue: "wf_resume", task: "three")
            try await waitUntil("the task succeeded") { try await client.state(of: id) == "succeeded" }
            XCTAssertEqual(ran.all, ["a@1", "b@1", "c@2"], "attempt 2 ran only the step attempt 1 did not record")
            let found = try await client.task(id: id)
            let task = try XCTUnwrap(found)
            XCTAssertEqual(task.result, #"{"n": 111}"#, "the recorded outputs fed the later step")
            XCTAssertEqual(task.steps.map(\.name), ["a", "b", "c"])
            XCTAssertEqual(task.steps.map(\.attempt), [1, 1, 2])
            XCTAssertEqual(task.steps.map(\.output), [#"{"n": 1}"#, #"{"n": 11}"#, #"{"n": 111}"#])
        }
        await client.close()
    }

    func testAStepNamedLikeADurableSleepFailsTheTask() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("wf_sleep_name", options: fastRetries())
        let ran = Recorder<Int>()
        var handlers = RotaHandlers()
        handlers.register("named") { (_: EmptyPayload, context) in
            _ = try await context.step("sleep-2") { () -> Counted in
                ran.append(1)
                return Counted(n: 1)
            }
        }
        try await withWorker(url: url, queues: ["wf_sleep_name": 1], handlers: handlers) { _, _ in
            let id = try await client.enqueue(queue: "wf_sleep_name", task: "named")
            try await waitUntil("the task failed") { try await client.state(of: id) == "failed" }
            let found = try await client.task(id: id)
            let task = try XCTUnwrap(found)
            XCTAssertEqual(task.attemptCount, 1, "a reserved name is a bug: no retry")
            XCTAssertEqual(ran.all, [], "the step did not run")
            XCTAssertTrue(task.lastError?.contains(#"step "sleep-2" of task named"#) == true
                            && task.lastError?.contains("durable sleeps' own") == true, task.lastError ?? "no error")
        }
    }

    func testAStepNameUsedTwiceFailsTheTask() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("wf_twice", options: fastRetries())
        let ran = Recorder<Int>()
        var handlers = RotaHandlers()
        handlers.register("loop") { (_: EmptyPayload, context) in
            for index in 1...2 {
                _ = try await context.step("send") { () -> Counted in
                    ran.append(index)
                    return Counted(n: index)
                }
            }
        }
        try await withWorker(url: url, queues: ["wf_twice": 1], handlers: handlers) { _, _ in
            let id = try await client.enqueue(queue: "wf_twice", task: "loop")
            try await waitUntil("the task failed") { try await client.state(of: id) == "failed" }
            let found = try await client.task(id: id)
            let task = try XCTUnwrap(found)
            XCTAssertEqual(task.attemptCount, 1, "a name used twice is a bug: no retry")
            XCTAssertEqual(ran.all, [1], "the second use did not run")
            XCTAssertTrue(task.lastError?.contains(#"step "send" is used twice in one run of task loop"#) == true,
                          task.lastError ?? "no error")
        }
        await client.close()
    }

    func testAStepInsideATransactionalStepFailsTheTask() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("wf_nested", options: fastRetries())
        var handlers = RotaHandlers()
        handlers.register("nested") { (_: EmptyPayload, context) in
            _ = try await context.transaction("outer") { _ in
                try await context.step("inner") { Counted(n: 1) }
            }
        }
        // One pooled connection: a nested step waiting for another would never get one.
        try await withWorker(url: url, queues: ["wf_nested": 1], handlers: handlers,
                             configure: { $0.workflowConnections = 1 }) { _, _ in
            let id = try await client.enqueue(queue: "wf_nested", task: "nested")
            try await waitUntil("the task failed") { try await client.state(of: id) == "failed" }
            let found = try await client.task(id: id)
            let task = try XCTUnwrap(found)
            XCTAssertEqual(task.attemptCount, 1)
            XCTAssertTrue(task.lastError?.contains(#"step "inner" runs inside transactional step "outer""#) == true,
                          task.lastError ?? "no error")
            XCTAssertEqual(task.steps, [], "the outer transaction rolled back")
        }
        await client.close()
    }

    func testARecordedOutputThatNoLongerDecodesFailsTheTaskNamingTheStep() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("wf_decode", options: fastRetries(5))
        var handlers = RotaHandlers()
        handlers.register("changed") { (_: EmptyPayload, context) in
            if context.attempt == 1 {
                _ = try await context.step("render") { Counted(n: 1) }
                throw RotaTaskError.retry(after: .milliseconds(10), reason: "new release")
            }
            // a later release changed the step's output type
            _ = try await context.step("render") { "a string now" }
        }
        try await withWorker(url: url, queues: ["wf_decode": 1], handlers: handlers) { _, _ in
            let id = try await client.enqueue(queue: "wf_decode", task: "changed")
            try await waitUntil("the task failed") { try await client.state(of: id) == "failed" }
            let found = try await client.task(id: id)
            let task = try XCTUnwrap(found)
            XCTAssertEqual(task.attemptCount, 2, "failed by the attempt that could not decode, without retries")
            XCTAssertTrue(task.lastError?.contains(#"step "render" of task changed"#) == true, task.lastError ?? "no error")
            XCTAssertTrue(task.lastError?.contains("does not decode as String") == true, task.lastError ?? "no error")
        }
        await client.close()
    }

    func testBadStepInputFailsTheTaskWithItsCodeAndWritesNothing() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("wf_bad", options: fastRetries())
        var handlers = RotaHandlers()
        handlers.register("named") { (name: String, context) in
            _ = try await context.step(name) { Counted(n: 1) }
        }
        handlers.register("huge") { (_: EmptyPayload, context) in
            _ = try await context.step("huge") { String(repeating: "x", count: 1_048_577) }
        }
        handlers.register("huge-tx") { (_: EmptyPayload, context) in
            _ = try await context.transaction("huge-tx") { tx -> String in
                try await tx.query("CREATE TEMP TABLE wf_bad_tx_effect (n int)")
                return String(repeating: "x", count: 1_048_577)
            }
        }
        try await withWorker(url: url, queues: ["wf_bad": 4], handlers: handlers) { _, _ in
            let cases: [(id: Int64, expected: String)] = [
                (try await client.enqueue(queue: "wf_bad", task: "named", payload: ""), "SQLSTATE RO010"),
                (try await client.enqueue(queue: "wf_bad", task: "named", payload: String(repeating: "n", count: 129)),
                 "SQLSTATE RO010"),
                (try await client.enqueue(queue: "wf_bad", task: "named", payload: "-leading"), "SQLSTATE RO010"),
                (try await client.enqueue(queue: "wf_bad", task: "huge"), "SQLSTATE RO011"),
                (try await client.enqueue(queue: "wf_bad", task: "huge-tx"), "SQLSTATE RO011"),
            ]
            for (id, expected) in cases {
                try await waitUntil("task \(id) failed") { try await client.state(of: id) == "failed" }
                let found = try await client.task(id: id)
            let task = try XCTUnwrap(found)
                XCTAssertEqual(task.attemptCount, 1, "bad step input recurs: no retry")
                XCTAssertTrue(task.lastError?.contains("cannot be recorded") == true, task.lastError ?? "no error")
                XCTAssertTrue(task.lastError?.contains(expected) == true, task.lastError ?? "no error")
                XCTAssertEqual(task.steps, [], "nothing recorded")
            }
        }
        await client.close()
    }

    func testATransactionalStepCommitsItsEffectOnceWithItsCheckpoint() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("wf_tx", options: fastRetries())
        try await client.query("CREATE TABLE wf_tx_effects (task_id bigint, step text, UNIQUE (task_id, step))")
        let ran = Recorder<Int>()
        var handlers = RotaHandlers()
        handlers.register("charge") { (_: EmptyPayload, context) -> Counted in
            let charged = try await context.transaction("charge") { tx -> Counted in
                ran.append(context.attempt)
                try await tx.query("INSERT INTO wf_tx_effects VALUES ($1::bigint, 'charge')", [context.taskID])
                let rows = try await tx.query("SELECT count(*) AS n FROM wf_tx_effects WHERE task_id = $1::bigint",
                                              [context.taskID])
                return Counted(n: try rows[0].decode("n"))
            }
            if context.attempt == 1 { throw RotaTaskError.retry(after: .milliseconds(10), reason: "crash after charge") }
            return charged
        }
        try await withWorker(url: url, queues: ["wf_tx": 1], handlers: handlers) { _, _ in
            let id = try await client.enqueue(queue: "wf_tx", task: "charge")
            try await waitUntil("the task succeeded") { try await client.state(of: id) == "succeeded" }
            XCTAssertEqual(ran.all, [1], "the transaction ran once")
            let effects = try await client.query("SELECT count(*) AS n FROM wf_tx_effects WHERE task_id = $1::bigint", [id])
            XCTAssertEqual(try effects[0].decode("n", as: Int.self), 1)
            let found = try await client.task(id: id)
            let task = try XCTUnwrap(found)
            XCTAssertEqual(task.attemptCount, 2)
            XCTAssertEqual(task.result, #"{"n": 1}"#, "attempt 2 got the output recorded with the effect")
            XCTAssertEqual(task.steps.map(\.name), ["charge"])
        }
        await client.close()
    }

    func testStepsReconnectAfterTheServerClosedTheirPooledConnection() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("wf_reconnect", options: fastRetries())
        let between = Recorder<Int>()
        let ranA = Recorder<Int>()
        let gate = Gate()
        var handlers = RotaHandlers()
        handlers.register("resilient") { (_: EmptyPayload, context) -> Counted in
            let a = try await context.step("a") { () -> Counted in
                ranA.append(context.attempt)
                return Counted(n: 1)
            }
            between.append(context.attempt)
            await gate.wait()
            let b = try await context.step("b") { Counted(n: a.n + 1) }
            return try await context.transaction("c") { tx -> Counted in
                let rows = try await tx.query("SELECT $1::int + 1 AS n", [b.n])
                return Counted(n: try rows[0].decode("n"))
            }
        }
        // One pooled connection, so steps b and c use the one that step a used.
        try await withWorker(url: url, queues: ["wf_reconnect": 1], handlers: handlers,
                             configure: { $0.workflowConnections = 1 }) { _, _ in
            defer { gate.open() }  // also when the test fails, so the worker can stop
            let id = try await client.enqueue(queue: "wf_reconnect", task: "resilient")
            try await waitUntil("step a was recorded") { between.count == 1 }
            let terminated = try await client.query("""
                SELECT pid FROM pg_stat_activity
                WHERE datname = current_database() AND query LIKE 'SELECT rota.record_step(%' AND pg_terminate_backend(pid)
                """).map { try $0.decode("pid", as: Int.self) }
            XCTAssertEqual(terminated.count, 1, "the pooled connection, whose last statement recorded step a")
            // Gone, so their sockets are closed before the next step: a statement sent into a
            // connection that breaks under it has an unknown outcome and fails the attempt.
            try await waitUntil("the terminated backends exited") {
                try await client.query("SELECT count(*) AS n FROM pg_stat_activity WHERE pid = ANY($1::int[])",
                                       [terminated])[0].decode("n", as: Int.self) == 0
            }
            gate.open()
            try await waitUntil("the task succeeded") { try await client.state(of: id) == "succeeded" }
            let found = try await client.task(id: id)
            let task = try XCTUnwrap(found)
            // A statement whose connection broke under it has an unknown outcome and fails
            // the attempt; either way the pool's one connection came back and step a did
            // not run again.
            XCTAssertLessThanOrEqual(task.attemptCount, 2)
            XCTAssertEqual(ranA.all, [1])
            XCTAssertEqual(task.result, #"{"n": 3}"#)
            XCTAssertEqual(task.steps.map(\.name), ["a", "b", "c"])
            XCTAssertEqual(task.steps.first?.attempt, 1)
        }
        await client.close()
    }

    func testATransactionOfAnAttemptThatLostItsTaskCommitsNothing() async throws {
        try await FencedTransaction.assertCommitsNothing(
            url: try await database(), queue: "wf_fence", message: "attempt 1 of task %ID% no longer owns the task",
            run: { context, body in _ = try await context.transaction("charge", body) },
            interruptedBy: FencedTransaction.takeOver(by: "wf-fence-thief", queue: "wf_fence"),
            then: { client, id in
                let found = try await client.task(id: id)
                let task = try XCTUnwrap(found)
                XCTAssertEqual(task.state, .running)
                XCTAssertEqual(task.executor, "wf-fence-thief", "the new owner keeps the task")
            })
    }

    func testATransactionOfACancelledTaskCommitsNothing() async throws {
        try await FencedTransaction.assertCommitsNothing(
            url: try await database(), queue: "wf_cancel", message: "attempt 1 of task %ID% no longer owns the task",
            run: { context, body in _ = try await context.transaction("charge", body) },
            interruptedBy: { client, id in
                let state = try await client.cancel(taskID: id)
                XCTAssertEqual(state, "cancelling")
            },
            then: { client, id in
                try await waitUntil("the task was cancelled") { try await client.state(of: id) == "cancelled" }
            })
    }
}
