import Foundation
import Logging
import Rota
import RotaTestSupport
import ServiceLifecycle
import XCTest

/// An in-process worker against a real database: handlers, retries, cancellation,
/// timeouts, leases and graceful shutdown.
final class WorkerTests: XCTestCase {
    func database() async throws -> String { try await SharedDatabases.shared.url("rota_test_swift_worker") }

    struct Numbers: Codable, Sendable { var n: Int }
    struct Doubled: Codable, Sendable, Equatable { var doubled: Int }
    struct Seen: Sendable { var taskID: Int64; var attempt: Int; var queue: String; var key: String? }

    func testHandlerRunsAndItsResultIsStored() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("w_result")
        let seen = Recorder<Seen>()
        var handlers = RotaHandlers()
        handlers.register("double") { (payload: Numbers, context) -> Doubled in
            seen.append(Seen(taskID: context.taskID, attempt: context.attempt, queue: context.queue, key: context.key))
            return Doubled(doubled: payload.n * 2)
        }
        try await withWorker(url: url, queues: ["w_result": 2], handlers: handlers) { _, _ in
            let started = ContinuousClock.now
            let id = try await client.enqueue(queue: "w_result", task: "double", payload: Numbers(n: 21),
                                              options: EnqueueOptions(key: "k-1"))
            try await waitUntil("the task succeeded") { try await client.state(of: id) == "succeeded" }
            print("enqueue → succeeded latency: \(ContinuousClock.now - started)")
            let task = try await client.task(id: id)
            XCTAssertEqual(task?.result.map { try? JSONDecoder().decode(Doubled.self, from: Data($0.utf8)) }, Doubled(doubled: 42))
            XCTAssertEqual(task?.attemptCount, 1)
            XCTAssertEqual(seen.all.map(\.taskID), [id])
            XCTAssertEqual(seen.all.first?.attempt, 1)
            XCTAssertEqual(seen.all.first?.queue, "w_result")
            XCTAssertEqual(seen.all.first?.key, "k-1")
            // The same key returns the same task and runs nothing new.
            let again = try await client.enqueue(queue: "w_result", task: "double", payload: Numbers(n: 1),
                                                 options: EnqueueOptions(key: "k-1"))
            XCTAssertEqual(again, id)
            // With the worker warmed up, LISTEN wakes it within milliseconds.
            let enqueued = ContinuousClock.now
            let second = try await client.enqueue(queue: "w_result", task: "double", payload: Numbers(n: 2))
            try await waitUntil("the second task succeeded", every: .milliseconds(2)) { try await client.state(of: second) == "succeeded" }
            print("enqueue → succeeded latency on a running worker: \(ContinuousClock.now - enqueued)")
        }
        await client.close()
    }

    /// `context.logger` carries the task's id, name and attempt, on top of the worker's own
    /// metadata (it is made when the handler asks for it, not for every task).
    func testTheHandlersLoggerCarriesTheTask() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("w_logger")
        var handlers = RotaHandlers()
        handlers.register("logs") { (_: JSONValue, context) in
            context.logger.info("handler says hello", metadata: ["step": "one"])
        }
        let records = Recorder<MaintenanceLoggingTests.Record>()
        var logger = Logger(label: "rota.test.task-logger") { _ in MaintenanceLoggingTests.RecordingLogHandler(records: records) }
        logger[metadataKey: "service"] = "billing"
        try await withWorker(url: url, queues: ["w_logger": 1], handlers: handlers, logger: logger) { _, _ in
            let id = try await client.enqueue(queue: "w_logger", task: "logs")
            try await waitUntil("the task succeeded") { try await client.state(of: id) == "succeeded" }
            let said = records.all.filter { $0.message == "handler says hello" }
            XCTAssertEqual(said.count, 1)
            XCTAssertEqual(said.first?.metadata["task_id"], "\(id)")
            XCTAssertEqual(said.first?.metadata["task"], "logs")
            XCTAssertEqual(said.first?.metadata["attempt"], "1")
            XCTAssertEqual(said.first?.metadata["service"], "billing")
            XCTAssertEqual(said.first?.metadata["step"], "one")
        }
        await client.close()
    }

    /// A handler ending on a full worker wakes the claim loop at once: with a poll
    /// interval of ten minutes and no enqueue meanwhile, only that wake-up can start the
    /// waiting task.
    func testAFreedSlotIsFilledWithoutWaitingForThePoll() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("w_freed")
        let forever = UntilCancelledHandler()
        let (releases, release) = AsyncStream.makeStream(of: Void.self)
        let ran = Recorder<String>()
        var handlers = RotaHandlers()
        forever.register("forever", in: &handlers)
        handlers.register("held") { (_: EmptyPayload, _) in
            for await _ in releases { break }
            ran.append("held")
        }
        handlers.register("quick") { (_: EmptyPayload, _) in ran.append("quick") }
        // Queued before the worker starts, so that no enqueue notification can wake it later.
        _ = try await client.enqueue(queue: "w_freed", task: "forever")
        let held = try await client.enqueue(queue: "w_freed", task: "held")
        let quick = try await client.enqueue(queue: "w_freed", task: "quick")
        try await withWorker(url: url, queues: ["w_freed": 2], handlers: handlers, configure: {
            $0.pollInterval = .seconds(600)
            $0.shutdownGracePeriod = .milliseconds(100)
        }) { _, _ in
            try await waitUntil("both slots are busy, the third task waits") {
                let heldState = try await client.state(of: held), quickState = try await client.state(of: quick)
                return forever.started.count == 1 && heldState == "running" && quickState == "queued"
            }
            release.yield()
            try await waitUntil("the freed slot ran the waiting task") {
                try await client.state(of: quick) == "succeeded"
            }
            XCTAssertEqual(ran.all, ["held", "quick"])
        }
        await client.close()
    }

    func testRetriesThenSucceeds() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("w_retry", options: QueueOptions(backoffBase: .milliseconds(50), backoffMax: .milliseconds(200)))
        var handlers = RotaHandlers()
        handlers.register("flaky") { (_: EmptyPayload, context) -> Doubled in
            if context.attempt < 3 { throw RotaError(.invalidUsage, "flaky attempt \(context.attempt)") }
            return Doubled(doubled: context.attempt)
        }
        try await withWorker(url: url, queues: ["w_retry": 1], handlers: handlers) { _, _ in
            let id = try await client.enqueue(queue: "w_retry", task: "flaky")
            try await waitUntil("the task succeeded") { try await client.state(of: id) == "succeeded" }
            let task = try await client.task(id: id)
            XCTAssertEqual(task?.attemptCount, 3)
            XCTAssertEqual(task?.attempts.map(\.outcome), ["failed", "failed"])
            XCTAssertEqual(task?.attempts.first?.error?.contains("flaky attempt 1"), true)
        }
        await client.close()
    }

    func testRetryAfterDelaysTheNextAttempt() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("w_retry_after", options: QueueOptions(backoffBase: .seconds(60), backoffMax: .seconds(60)))
        let runs = Recorder<Date>()
        var handlers = RotaHandlers()
        handlers.register("later") { (_: EmptyPayload, context) in
            runs.append(Date())
            // Without the explicit delay the queue's 60 s backoff would apply.
            if context.attempt == 1 { throw RotaTaskError.retry(after: .milliseconds(400), reason: "not yet") }
        }
        try await withWorker(url: url, queues: ["w_retry_after": 1], handlers: handlers) { _, _ in
            let id = try await client.enqueue(queue: "w_retry_after", task: "later")
            try await waitUntil("the task succeeded", timeout: .seconds(10)) { try await client.state(of: id) == "succeeded" }
            let times = runs.all
            XCTAssertEqual(times.count, 2)
            if times.count == 2 {
                let gap = times[1].timeIntervalSince(times[0])
                print("retry(after: 400 ms) ran again after \(Int(gap * 1000)) ms")
                XCTAssertGreaterThanOrEqual(gap, 0.38)
                XCTAssertLessThan(gap, 5)
            }
            let task = try await client.task(id: id)
            XCTAssertEqual(task?.attempts.first?.error, "not yet")
        }
        await client.close()
    }

    func testExhaustedAndNonRetryableTasksEndFailed() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("w_dead", options: QueueOptions(maxAttempts: 3, backoffBase: .milliseconds(20),
                                                                     backoffMax: .milliseconds(50)))
        var handlers = RotaHandlers()
        handlers.register("always-fails") { (_: EmptyPayload, _) in
            throw RotaError(.invalidUsage, "broken for good")
        }
        handlers.register("rejects") { (_: EmptyPayload, _) in
            throw RotaTaskError.nonRetryable("bad input, do not retry")
        }
        try await withWorker(url: url, queues: ["w_dead": 2], handlers: handlers) { _, _ in
            let exhausted = try await client.enqueue(queue: "w_dead", task: "always-fails")
            let rejected = try await client.enqueue(queue: "w_dead", task: "rejects")
            try await waitUntil("both tasks failed") {
                let a = try await client.state(of: exhausted), b = try await client.state(of: rejected)
                return a == "failed" && b == "failed"
            }
            let dead = try await client.task(id: exhausted)
            XCTAssertEqual(dead?.attemptCount, 3)
            XCTAssertEqual(dead?.attempts.count, 3)
            XCTAssertEqual(dead?.lastError?.contains("broken for good"), true)
            let once = try await client.task(id: rejected)
            XCTAssertEqual(once?.attemptCount, 1)
            XCTAssertEqual(once?.lastError, "bad input, do not retry")
            // A failed task can be retried by hand.
            try await client.retry(taskID: rejected)
            try await waitUntil("the retried task failed again") {
                let task = try await client.task(id: rejected)
                return task?.attemptCount == 2 && task?.state == .failed
            }
        }
        await client.close()
    }

    func testCancellingARunningTaskStopsItsHandler() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("w_cancel", options: QueueOptions(lease: .seconds(3)))
        let blocking = UntilCancelledHandler()
        let started = blocking.started, cancelled = blocking.cancelled
        var handlers = RotaHandlers()
        blocking.register("forever", in: &handlers)
        try await withWorker(url: url, queues: ["w_cancel": 1], handlers: handlers) { _, _ in
            let id = try await client.enqueue(queue: "w_cancel", task: "forever")
            try await waitUntil("the handler started") { started.count == 1 }
            let state = try await client.cancel(taskID: id)
            XCTAssertEqual(state, "cancelling")
            let took = try await waitUntil("the handler was cancelled and the task is cancelled", timeout: .seconds(10)) {
                let state = try await client.state(of: id)
                return cancelled.count == 1 && state == "cancelled"
            }
            print("cancel → handler stopped and task cancelled in \(took)")
        }
        await client.close()
    }

    func testTimeoutCancelsTheHandlerAndFailsTheAttempt() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("w_timeout", options: QueueOptions(maxAttempts: 1))
        let cancelled = Recorder<Int64>()
        var handlers = RotaHandlers()
        handlers.register("slow", timeout: .milliseconds(300)) { (_: EmptyPayload, context) in
            do {
                try await Task.sleep(for: .seconds(30))
            } catch {
                cancelled.append(context.taskID)
                throw error
            }
        }
        try await withWorker(url: url, queues: ["w_timeout": 1], handlers: handlers) { _, _ in
            let id = try await client.enqueue(queue: "w_timeout", task: "slow")
            try await waitUntil("the task failed") { try await client.state(of: id) == "failed" }
            let task = try await client.task(id: id)
            XCTAssertEqual(task?.lastError?.hasPrefix("timeout"), true, task?.lastError ?? "")
            XCTAssertEqual(cancelled.all, [id])
        }
        await client.close()
    }

    func testGracefulShutdownDrainsRunningTasks() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("w_drain")
        let started = Recorder<Int64>()
        var handlers = RotaHandlers()
        handlers.register("half-second") { (_: EmptyPayload, context) in
            started.append(context.taskID)
            // Not cancellation-aware on purpose: graceful shutdown must wait for it.
            try? await Task.sleep(for: .milliseconds(500))
        }
        var ids: [Int64] = []
        var executor = ""
        try await withWorker(url: url, queues: ["w_drain": 5], handlers: handlers,
                             configure: { $0.shutdownGracePeriod = .seconds(10) }) { worker, group in
            executor = worker.executorID
            for _ in 0..<5 { ids.append(try await client.enqueue(queue: "w_drain", task: "half-second")) }
            try await waitUntil("all five handlers started") { started.count == 5 }
            await group.triggerGracefulShutdown()
        }
        // withWorker returned: the worker has stopped, after draining.
        for id in ids {
            let state = try await client.state(of: id)
            XCTAssertEqual(state, "succeeded")
        }
        let stopped = try await client.executorStatus().first { $0.executor == executor }
        XCTAssertEqual(stopped?.stopped, true)
        await client.close()
    }

    func testShutdownPastTheGracePeriodReleasesUnfinishedTasks() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("w_release")
        let blocking = UntilCancelledHandler()
        let started = blocking.started, cancelled = blocking.cancelled
        var handlers = RotaHandlers()
        blocking.register("long", in: &handlers)
        var id: Int64 = 0
        let clock = ContinuousClock()
        var shutdownStarted = clock.now
        try await withWorker(url: url, queues: ["w_release": 1], handlers: handlers,
                             configure: { $0.shutdownGracePeriod = .milliseconds(300) }) { _, group in
            id = try await client.enqueue(queue: "w_release", task: "long")
            try await waitUntil("the handler started") { started.count == 1 }
            shutdownStarted = clock.now
            await group.triggerGracefulShutdown()
        }
        print("shutdown with a 300 ms grace period took \(clock.now - shutdownStarted)")
        XCTAssertEqual(cancelled.all, [id])
        let task = try await client.task(id: id)
        XCTAssertEqual(task?.state, .queued, "released back to the queue")
        XCTAssertEqual(task?.attempts.last?.outcome, "released")
        try await client.cancel(taskID: id)
        await client.close()
    }

    /// A lease shortened with define_queue while the worker runs takes effect with the next
    /// claim, also while a task claimed under the longer lease still runs: the heartbeat
    /// follows the leases the claims return, not the one at start.
    func testALeaseShortenedWhileTheWorkerRunsIsKeptByHeartbeats() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("w_lease_change", options: QueueOptions(lease: .seconds(30)))
        let blocking = UntilCancelledHandler()
        var handlers = RotaHandlers()
        blocking.register("forever", in: &handlers)
        handlers.register("three-seconds") { (_: EmptyPayload, _) in
            try await Task.sleep(for: .milliseconds(3500))
        }
        try await withWorker(url: url, queues: ["w_lease_change": 2], handlers: handlers) { worker, _ in
            let longLease = try await client.enqueue(queue: "w_lease_change", task: "forever")
            try await waitUntil("the task under the 30 s lease runs") { blocking.started.count == 1 }
            // From a heartbeat after that claim on, the heartbeat is paced by the 30 s lease.
            try await waitUntil("a heartbeat after the 30 s claim", timeout: .seconds(30), every: .milliseconds(100)) {
                try await client.query(
                    """
                    SELECT e.last_heartbeat_at > t.started_at AS beat FROM rota.executor_status e, rota.tasks t
                    WHERE e.executor = $1 AND t.id = $2::bigint
                    """, [worker.executorID, longLease])[0].decode("beat", as: Bool.self)
            }
            try await client.defineQueue("w_lease_change", options: QueueOptions(lease: .seconds(1)))
            let id = try await client.enqueue(queue: "w_lease_change", task: "three-seconds")
            try await assertNeverReaped(id, client: client)
            try await client.cancel(taskID: longLease)
            try await waitUntil("the 30 s task was cancelled") { try await client.state(of: longLease) == "cancelled" }
        }
        await client.close()
    }

    func testALongTaskKeepsItsLeaseThroughHeartbeats() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("w_lease", options: QueueOptions(lease: .seconds(1)))
        var handlers = RotaHandlers()
        handlers.register("three-seconds") { (_: EmptyPayload, _) in
            try await Task.sleep(for: .milliseconds(3500))
        }
        try await withWorker(url: url, queues: ["w_lease": 1], handlers: handlers) { _, _ in
            let id = try await client.enqueue(queue: "w_lease", task: "three-seconds")
            try await assertNeverReaped(id, client: client)
        }
        await client.close()
    }

    /// Waits until task `id` succeeded while another process's reaper runs meanwhile: its
    /// lease must never lapse, so it succeeds in its first attempt.
    private func assertNeverReaped(_ id: Int64, client: RotaClient, file: StaticString = #filePath, line: UInt = #line) async throws {
        var reaped = 0
        try await waitUntil("the task succeeded", timeout: .seconds(15), every: .milliseconds(100), file: file, line: line) {
            reaped += try await client.query("SELECT rota.reap() AS n")[0].decode("n", as: Int.self)
            return try await client.state(of: id) == "succeeded"
        }
        XCTAssertEqual(reaped, 0, file: file, line: line)
        let task = try await client.task(id: id)
        XCTAssertEqual(task?.attemptCount, 1, file: file, line: line)
        XCTAssertEqual(task?.attempts.count, 0, file: file, line: line)
    }

    func testALostLeaseCancelsTheHandler() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        // A long backoff keeps the reaped task from being claimed again during the test.
        try await client.defineQueue("w_lost", options: QueueOptions(lease: .seconds(30), backoffBase: .seconds(600),
                                                                     backoffMax: .seconds(600)))
        let blocking = UntilCancelledHandler()
        let started = blocking.started, cancelled = blocking.cancelled
        var handlers = RotaHandlers()
        blocking.register("forever", in: &handlers)
        try await withWorker(url: url, queues: ["w_lost": 1], handlers: handlers,
                             configure: { $0.heartbeatInterval = .milliseconds(200) }) { _, _ in
            let id = try await client.enqueue(queue: "w_lost", task: "forever")
            try await waitUntil("the handler started") { started.count == 1 }
            // The lease runs out (as if heartbeats had stalled) and a reaper takes the task back.
            try await client.query("UPDATE rota.tasks SET lease_expires_at = now() - interval '1 second' WHERE id = $1::bigint", [id])
            let reaped = try await client.query("SELECT rota.reap() AS n")[0].decode("n", as: Int.self)
            XCTAssertEqual(reaped, 1)
            let took = try await waitUntil("the handler was cancelled") { cancelled.count == 1 }
            print("lost lease → handler cancelled in \(took)")
            let task = try await client.task(id: id)
            XCTAssertEqual(task?.state, .queued)
            XCTAssertEqual(task?.attempts.last?.outcome, "lease_expired")
            try await client.cancel(taskID: id)
        }
        await client.close()
    }

    func testDelayedTaskRunsOnTime() async throws {
        let url = try await database()
        let client = RotaClient(connectionString: url)
        try await client.defineQueue("w_delay")
        let ran = Recorder<Date>()
        var handlers = RotaHandlers()
        handlers.register("mark") { (_: EmptyPayload, _) in ran.append(Date()) }
        try await withWorker(url: url, queues: ["w_delay": 1], handlers: handlers,
                             configure: { $0.pollInterval = .seconds(30) }) { _, _ in
            let runAt = Date().addingTimeInterval(0.8)
            let id = try await client.enqueue(queue: "w_delay", task: "mark", options: EnqueueOptions(runAt: runAt))
            try await waitUntil("the delayed task succeeded", timeout: .seconds(10)) { try await client.state(of: id) == "succeeded" }
            let late = try XCTUnwrap(ran.all.first).timeIntervalSince(runAt)
            print("delayed task ran \(Int(late * 1000)) ms after its run_at")
            XCTAssertGreaterThanOrEqual(late, -0.05)
            XCTAssertLessThan(late, 1.0, "the worker sleeps until next_run_at, not the 30 s poll")
        }
        await client.close()
    }
}
