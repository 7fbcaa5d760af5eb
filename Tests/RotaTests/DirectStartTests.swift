import Foundation
@testable import Rota
import RotaTestSupport
import Synchronization
import XCTest

/// `client.start` on the worker of this process, and awaited results
/// (`client.result(of:timeout:)`), against a real database.
final class DirectStartTests: XCTestCase {
    struct Number: Codable, Sendable { var n: Int }
    struct Doubled: Codable, Sendable { var n: Int; var executor: String; var attempt: Int }

    /// The most handlers that ran at once.
    final class Overlap: Sendable {
        private let state = Mutex((running: 0, most: 0))
        func enter() { state.withLock { $0.running += 1; $0.most = max($0.most, $0.running) } }
        func leave() { state.withLock { $0.running -= 1 } }
        var most: Int { state.withLock { $0.most } }
    }

    static func handlers(overlap: Overlap = Overlap()) -> RotaHandlers {
        var handlers = RotaHandlers()
        handlers.register("double") { (payload: Number, context) in
            Doubled(n: payload.n * 2, executor: context.executorID, attempt: context.attempt)
        }
        handlers.register("boom") { (_: EmptyPayload, _) -> EmptyPayload in
            throw RotaTaskError.nonRetryable("boom on purpose")
        }
        handlers.register("hold") { (payload: Number, _) -> Number in
            overlap.enter()
            defer { overlap.leave() }
            try await Task.sleep(for: .milliseconds(payload.n))
            return payload
        }
        return handlers
    }

    /// Starts directly once the worker made with `client` runs (it registers first).
    func startWhenRunning(_ client: RotaClient, queue: String, task: String, payload: Number) async throws -> RotaTaskHandle {
        var handle: RotaTaskHandle?
        try await waitUntil("the worker runs", timeout: .seconds(30), every: .milliseconds(10)) {
            do {
                handle = try await client.start(queue: queue, task: task, payload: payload)
                return true
            } catch let error as RotaError where error.code == .workerNotRunning {
                return false
            }
        }
        return try XCTUnwrap(handle)
    }

    func testDirectStartRunsHereAndReturnsItsResult() async throws {
        let url = try await TestEnvironment.freshDatabase("rota_test_swift_direct_start")
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("direct")
        do {
            _ = try await client.start(queue: "direct", task: "double", payload: Number(n: 1))
            XCTFail("a start without a running worker must fail")
        } catch let error as RotaError {
            XCTAssertEqual(error.code, .workerNotRunning)
        }
        try await withWorker(url: url, queues: ["direct": 4], handlers: Self.handlers(), client: client) { worker, _ in
            let handle = try await startWhenRunning(client, queue: "direct", task: "double", payload: Number(n: 21))
            XCTAssertTrue(handle.startedHere)
            let result = try await handle.result(as: Doubled.self, timeout: .seconds(30))
            XCTAssertEqual(result.n, 42)
            XCTAssertEqual(result.executor, worker.executorID, "the handler ran on this process's executor")
            XCTAssertEqual(result.attempt, 1)
            let found = try await client.task(id: handle.id)
            let record = try XCTUnwrap(found)
            XCTAssertEqual(record.state, .succeeded)
            XCTAssertEqual(record.attemptCount, 1, "started once, never claimed from the queue")
            XCTAssertEqual(record.executor, worker.executorID)
            // awaiting again, once it is final, returns at once
            let again = try await client.result(of: handle.id, as: Doubled.self, timeout: .seconds(5))
            XCTAssertEqual(again.n, 42)

            let failing = try await client.start(queue: "direct", task: "boom", payload: EmptyPayload())
            do {
                _ = try await failing.result(as: EmptyPayload.self, timeout: .seconds(30))
                XCTFail("the result of a failed task must throw")
            } catch let error as RotaError {
                XCTAssertEqual(error.code, .taskFailed)
                XCTAssertTrue(error.message.contains("boom on purpose"), error.message)
            }
            XCTAssertEqual(client.resultWaiters.count, 0, "no waiter is left behind")
        }
        do {
            _ = try await client.start(queue: "direct", task: "double", payload: Number(n: 1))
            XCTFail("a start after the worker stopped must fail")
        } catch let error as RotaError {
            XCTAssertEqual(error.code, .workerNotRunning)
        }
        await client.close()
    }

    func testResultOfTimesOutCleanlyAndThenSeesTheEndThroughListen() async throws {
        let url = try await TestEnvironment.freshDatabase("rota_test_swift_direct_results")
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("unserved")
        let id = try await client.enqueue(queue: "unserved", task: "double", payload: Number(n: 2))
        let clock = ContinuousClock()
        let began = clock.now
        do {
            _ = try await client.result(of: id, as: Number.self, timeout: .milliseconds(300))
            XCTFail("nothing runs the task: the wait must time out")
        } catch let error as RotaError {
            XCTAssertEqual(error.code, .resultTimeout)
            XCTAssertTrue(error.message.contains("task \(id)") && error.message.contains("queued"), error.message)
        }
        XCTAssertGreaterThanOrEqual(clock.now - began, .milliseconds(300))
        XCTAssertEqual(client.resultWaiters.count, 0, "the timed-out wait left no waiter behind")

        // A wait in progress sees the task end in another session, through its notification.
        let other = RotaClient(connectionString: url)
        let result = try await withThrowingTaskGroup(of: Number?.self) { group in
            group.addTask { try await client.result(of: id, as: Number.self, timeout: .seconds(60)) }
            group.addTask {
                try await waitUntil("the task is awaited", timeout: .seconds(30), every: .milliseconds(10)) {
                    try await other.query("SELECT count(*) AS n FROM rota._awaited_tasks WHERE task_id = $1::bigint", [id])[0]
                        .decode("n", as: Int.self) == 1
                }
                try await other.query("SELECT rota.register_executor('results-test')")
                try await other.query(
                    """
                    SELECT rota.complete(c.id, c.attempt, '{"n": 4}', c.lease_token)
                    FROM rota.claim('results-test', ARRAY['unserved']) c
                    """)
                return nil
            }
            var found: Number?
            for try await value in group where value != nil { found = value }
            return found
        }
        XCTAssertEqual(result?.n, 4)
        XCTAssertEqual(client.resultWaiters.count, 0)
        do {
            _ = try await client.result(of: 999_999, as: Number.self, timeout: .seconds(1))
            XCTFail("an unknown task")
        } catch let error as RotaError {
            XCTAssertEqual(error.code, .unknownTask)
        }
        await other.close()
        await client.close()
    }

    func testDirectStartsOnAQueueAtItsConcurrencyLimitDoNotExceedIt() async throws {
        let url = try await TestEnvironment.freshDatabase("rota_test_swift_direct_limits")
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("limited", options: QueueOptions(concurrency: 2))
        let overlap = Overlap()
        try await withWorker(url: url, queues: ["limited": 10], handlers: Self.handlers(overlap: overlap),
                             client: client) { _, _ in
            var handles = [try await startWhenRunning(client, queue: "limited", task: "hold", payload: Number(n: 400))]
            for index in 1..<6 {
                handles.append(try await client.start(queue: "limited", task: "hold", payload: Number(n: 400 + index)))
            }
            XCTAssertEqual(handles.filter(\.startedHere).count, 2, "two slots: two start here, four wait in the queue")
            for (index, handle) in handles.enumerated() {
                let result = try await handle.result(as: Number.self, timeout: .seconds(60))
                XCTAssertEqual(result.n, 400 + index)
            }
        }
        XCTAssertEqual(overlap.most, 2, "never more than the queue's concurrency at once")
        await client.close()
    }

    func testBadInputIsRefusedWithClearErrorsAndNothingWritten() async throws {
        let url = try await TestEnvironment.freshDatabase("rota_test_swift_direct_bad_input")
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("direct")
        try await client.defineQueue("elsewhere")
        func taskCount() async throws -> Int {
            try await client.query("SELECT count(*) AS n FROM rota.tasks")[0].decode("n")
        }
        try await withWorker(url: url, queues: ["direct": 2], handlers: Self.handlers(), client: client) { _, _ in
            _ = try await startWhenRunning(client, queue: "direct", task: "double", payload: Number(n: 1))
            let before = try await taskCount()
            func refused(_ code: RotaError.Code, _ naming: String, _ start: () async throws -> RotaTaskHandle) async throws {
                do {
                    _ = try await start()
                    XCTFail("refused with \(code)")
                } catch let error as RotaError {
                    XCTAssertEqual(error.code, code, "\(error)")
                    XCTAssertTrue(error.message.contains(naming), "the error names \(naming): \(error.message)")
                }
            }
            try await refused(.invalidUsage, "'nope'") {
                try await client.start(queue: "nope", task: "double", payload: Number(n: 1))
            }
            try await refused(.invalidUsage, "'elsewhere'") {
                try await client.start(queue: "elsewhere", task: "double", payload: Number(n: 1))
            }
            try await refused(.invalidUsage, "'unknown-task'") {
                try await client.start(queue: "direct", task: "unknown-task", payload: Number(n: 1))
            }
            try await refused(.payloadTooLarge, "payload") {
                try await client.start(queue: "direct", task: "double",
                                       payloadJSON: PostgresJSON(text: #"{"s": "\#(String(repeating: "x", count: 2 << 20))"}"#))
            }
            try await refused(.invalidUsage, "runAt") {
                try await client.start(queue: "direct", task: "double", payload: Number(n: 1),
                                       options: EnqueueOptions(runAt: Date().addingTimeInterval(60)))
            }
            let after = try await taskCount()
            XCTAssertEqual(after, before, "nothing written")
        }
        await client.close()
    }
}
